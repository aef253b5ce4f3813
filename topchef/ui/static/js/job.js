// The job page: one job's parameters, results or error, attempts, worker and timings.

import { ApiError, request } from "./api.js";
import { confirmAction, el, jsonBlock, statusBadge, timeNode } from "./dom.js";

function seconds(fromIso, toIso) {
  if (!fromIso || !toIso) return null;
  return ((Date.parse(toIso) - Date.parse(fromIso)) / 1000).toFixed(1);
}

function facts(job, serviceName) {
  const rows = [
    ["Status", statusBadge(job.status)],
    ["Id", el("code", {}, job.id)],
    ["Service", el("a", { href: `#/jobs?service_id=${job.service_id}` }, serviceName)],
    ["Priority", String(job.priority)],
    ["Attempt", String(job.attempt)],
    ["Worker", job.worker || "—"],
    ["Submitted", timeNode(job.date_submitted)],
    ["Started", timeNode(job.date_started)],
    ["Finished", timeNode(job.date_finished)],
  ];
  const wait = seconds(job.date_submitted, job.date_started);
  const run = seconds(job.date_started, job.date_finished);
  if (wait !== null) rows.push(["Queue wait", `${wait} s`]);
  if (run !== null) rows.push(["Run time", `${run} s`]);
  if (job.lease) rows.push(["Lease expires", timeNode(job.lease.expires_at)]);
  if (job.visible_at) rows.push(["Next attempt", timeNode(job.visible_at)]);
  if (job.cancel_requested) rows.push(["Cancel", "requested; the worker stops at its next heartbeat"]);
  return el("dl", { class: "facts" }, rows.map(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
}

function notFound(context, jobId) {
  document.title = "Job not found · TopChef";
  context.render(
    el("h1", {}, "Job not found"),
    el("div", { class: "empty" }, el("p", {}, "There is no job with the id ", el("code", {}, jobId),
      ". It may have been deleted, or purged after its retention period. ",
      el("a", { href: "#/jobs" }, "Show all jobs"), ".")));
}

function actions(job, context, reload) {
  const act = (question, method, path, body, after) => async () => {
    if (!confirmAction(question)) return;
    try {
      await request(method, path, body);
      await after();
    } catch (error) {
      context.showError(error);
    }
  };
  const buttons = [];
  if (job.status === "ERROR") {
    // ERROR -> REGISTERED is the classic retry: the job is queued again with its attempts reset.
    buttons.push(el("button", { type: "button", id: "retry-job",
      onclick: act("Retry this job? It goes back into the queue with its attempts reset.",
        "PATCH", `/jobs/${job.id}`, { status: "REGISTERED" }, reload) }, "Retry"));
  }
  if ((job.status === "REGISTERED" || job.status === "WORKING") && !job.cancel_requested) {
    buttons.push(el("button", { type: "button", id: "cancel-job", class: "danger",
      onclick: act("Cancel this job? It ends in ERROR.", "POST", `/jobs/${job.id}/cancel`, undefined, reload) },
    "Cancel"));
  }
  if (job.status !== "WORKING") {
    const back = async () => context.navigate("/jobs", new URLSearchParams({ service_id: job.service_id }));
    buttons.push(el("button", { type: "button", id: "delete-job", class: "danger",
      onclick: act("Delete this job for good? This cannot be undone.", "DELETE", `/jobs/${job.id}`, undefined, back) },
    "Delete"));
  }
  return el("div", { class: "actions" }, buttons);
}

function outcome(job) {
  const sections = [el("h2", {}, "Parameters"), jsonBlock(job.parameters)];
  if (job.results !== null) sections.push(el("h2", {}, "Results"), jsonBlock(job.results));
  if (job.error !== null) {
    // A retried job keeps the error of its last attempt until it fails again or completes.
    const heading = job.status === "ERROR" ? "Error" : "Error of an earlier attempt";
    sections.push(el("h2", {}, heading), jsonBlock(job.error, { error: true }));
  }
  if (job.results === null && job.error === null) {
    sections.push(el("p", { class: "muted" }, job.status === "COMPLETED" ? "No results." : "No results yet."));
  }
  return sections;
}

export async function jobPage(context) {
  const jobId = decodeURIComponent(context.match[1]);
  let serviceName = null;

  const page = {
    async refresh() {
      let job;
      try {
        job = (await request("GET", `/jobs/${encodeURIComponent(jobId)}?view=full`)).data;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) {
          notFound(context, jobId);
          return;
        }
        throw error;
      }
      if (serviceName === null) {
        serviceName = (await request("GET", `/services/${job.service_id}`)).data.name;
      }
      document.title = `Job ${job.id.slice(0, 8)} · TopChef`;
      context.render(
        el("p", {}, el("a", { href: `#/jobs?service_id=${job.service_id}` }, `« Jobs of ${serviceName}`)),
        el("h1", {}, "Job ", el("code", {}, job.id.slice(0, 8)), " ", statusBadge(job.status)),
        facts(job, serviceName),
        actions(job, context, () => page.refresh()),
        ...outcome(job));
    },
    onEvent(event) {
      return event.job_id === jobId;
    },
  };
  await page.refresh();
  return page;
}
