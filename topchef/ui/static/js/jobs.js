// The jobs page: jobs newest first, filtered by service and status, paged.

import { request } from "./api.js";
import { el, statusBadge, timeNode } from "./dom.js";

const STATUSES = ["REGISTERED", "WORKING", "COMPLETED", "ERROR"];
const PAGE_SIZE = 25;

// The dashboard URL's filters (service, status, cursor) as a GET /jobs query.
function listQuery(params) {
  const query = new URLSearchParams({ view: "full", order: "newest", limit: String(PAGE_SIZE) });
  if (params.get("service_id")) query.set("service_id", params.get("service_id"));
  if (params.get("status")) query.set("status", params.get("status"));
  if (params.get("cursor")) query.set("cursor", params.get("cursor"));
  return query;
}

function select(id, label, options, selected, onChange) {
  return el("label", { for: id }, label,
    el("select", { id, onchange: onChange },
      options.map(([value, text]) => el("option", { value, selected: value === selected }, text))));
}

function filters(services, params, context) {
  const apply = () => {
    const next = new URLSearchParams();
    const service = document.getElementById("filter-service").value;
    const status = document.getElementById("filter-status").value;
    if (service) next.set("service_id", service);
    if (status) next.set("status", status);
    context.navigate("/jobs", next);
  };
  const serviceOptions = [["", "All services"], ...services.map((service) => [service.id, service.name])];
  const statusOptions = [["", "All statuses"], ...STATUSES.map((status) => [status, status])];
  return el("form", { class: "filters", role: "search", onsubmit: (event) => event.preventDefault() },
    select("filter-service", "Service", serviceOptions, params.get("service_id") || "", apply),
    select("filter-status", "Status", statusOptions, params.get("status") || "", apply));
}

function shortId(id) {
  return id.slice(0, 8);
}

function jobRow(job, serviceNames, changed) {
  const name = serviceNames.get(job.service_id) || shortId(job.service_id);
  return el("tr", { class: changed ? "changed" : null, "data-job-id": job.id, "data-status": job.status },
    el("td", { "data-label": "Status" }, statusBadge(job.status)),
    el("td", { class: "id", "data-label": "Job" },
      el("a", { href: `#/jobs/${job.id}`, title: job.id }, shortId(job.id))),
    el("td", { "data-label": "Service" },
      el("a", { href: `#/jobs?service_id=${job.service_id}` }, name)),
    el("td", { "data-label": "Submitted" }, timeNode(job.date_submitted)),
    el("td", { "data-label": "Finished" }, timeNode(job.date_finished)),
    el("td", { "data-label": "Attempt" }, String(job.attempt)),
    el("td", { "data-label": "Worker" }, job.worker || el("span", { class: "muted" }, "—")));
}

function table(jobs, serviceNames, previous) {
  return el("table", { class: "jobs" },
    el("thead", {}, el("tr", {},
      ["Status", "Job", "Service", "Submitted", "Finished", "Attempt", "Worker"].map((name) => el("th", { scope: "col" }, name)))),
    el("tbody", {}, jobs.map((job) => jobRow(job, serviceNames, previous.has(job.id) && previous.get(job.id) !== job.status))));
}

function pager(params, nextLink, context) {
  const older = nextLink ? new URL(nextLink).searchParams.get("cursor") : null;
  const go = (cursor) => () => {
    const next = new URLSearchParams(params);
    if (cursor) next.set("cursor", cursor);
    else next.delete("cursor");
    context.navigate("/jobs", next);
  };
  return el("div", { class: "pager" },
    params.get("cursor") ? el("button", { type: "button", id: "newest-page", onclick: go(null) }, "« Newest") : null,
    older ? el("button", { type: "button", id: "older-page", onclick: go(older) }, "Older »") : null);
}

function emptyState(params) {
  if (params.get("service_id") || params.get("status")) {
    return el("div", { class: "empty" }, el("p", {}, "No jobs match these filters. ",
      el("a", { href: "#/jobs" }, "Show all jobs"), "."));
  }
  return el("div", { class: "empty" }, el("p", {}, el("strong", {}, "No jobs yet. "),
    "Submit one with ", el("code", {}, "topchef jobs submit SERVICE_ID '{\"your\": \"parameters\"}'"),
    " or ", el("code", {}, "POST /services/SERVICE_ID/jobs"), "."));
}

export async function jobsPage(context) {
  const { params } = context;
  const services = (await request("GET", "/services")).data;
  const serviceNames = new Map(services.map((service) => [service.id, service.name]));
  let shownStatuses = new Map();

  const page = {
    async refresh() {
      const response = await request("GET", `/jobs?${listQuery(params)}`);
      const jobs = response.data;
      const heading = el("h1", {}, "Jobs", params.get("service_id")
        ? el("span", { class: "muted" }, ` of ${serviceNames.get(params.get("service_id")) || "an unknown service"}`)
        : null);
      const body = jobs.length ? table(jobs, serviceNames, shownStatuses) : emptyState(params);
      context.render(heading, filters(services, params, context), body,
        pager(params, response.links.next, context));
      shownStatuses = new Map(jobs.map((job) => [job.id, job.status]));
    },
    onEvent(event) {
      if (!event.type.startsWith("job.")) {
        return false;
      }
      if (params.get("service_id") && event.service_id !== params.get("service_id")) {
        return false;
      }
      // A later page shows older jobs, and only changes to those rows matter there.
      return !params.get("cursor") || shownStatuses.has(event.job_id);
    },
  };
  document.title = "Jobs · TopChef";
  await page.refresh();
  return page;
}
