// The services page: liveness, queue counts and recent activity of every service.

import { ApiError, request } from "./api.js";
import { WINDOW_MINUTES, activity, activityChart } from "./chart.js";
import { confirmAction, el, timeNode } from "./dom.js";

const STATUSES = ["REGISTERED", "WORKING", "COMPLETED", "ERROR"];
const ACTIVITY_JOBS = 1000;
const THROUGHPUT_MINUTES = 5;

// Read a service's full view, or null when it was deleted after the list was read.
async function serviceDetail(serviceId) {
  try {
    return (await request("GET", `/services/${serviceId}?view=full`)).data;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

async function loadServices() {
  const list = await request("GET", "/services");
  const details = await Promise.all(list.data.map((service) => serviceDetail(service.id)));
  // NOTE: activity comes from the newest ACTIVITY_JOBS jobs of all services, so
  // under heavier traffic the chart misses older jobs that completed recently.
  const recent = await request("GET", `/jobs?view=full&order=newest&limit=${ACTIVITY_JOBS}`);
  return { services: details.filter((detail) => detail !== null), jobs: recent.data };
}

// One badge per fact: a service marked unavailable by an administrator is also timed out.
function liveness(service) {
  const badges = [];
  if (service.has_timed_out) {
    badges.push(el("span", { class: "badge timed-out" }, "timed out"));
  }
  if (!service.is_service_available) {
    badges.push(el("span", { class: "badge unavailable" }, "unavailable"));
  }
  if (!badges.length) {
    badges.push(el("span", { class: "badge alive" }, "alive"));
  }
  return el("span", { class: "badges" }, badges);
}

function jobsLink(service, status) {
  const params = new URLSearchParams({ service_id: service.id });
  if (status) params.set("status", status);
  return `#/jobs?${params}`;
}

function counts(service) {
  return el("ul", { class: "counts", "aria-label": "Jobs by status" },
    STATUSES.map((status) => el("li", {},
      el("a", { href: jobsLink(service, status), "data-status": status },
        el("strong", {}, String(service.job_counts[status] ?? 0)), status.toLowerCase()))));
}

function throughput(series) {
  const recent = series.completed.slice(-THROUGHPUT_MINUTES).reduce((sum, count) => sum + count, 0);
  const rate = (recent / THROUGHPUT_MINUTES).toFixed(1);
  return el("p", { class: "muted throughput" },
    `${recent} completed in the last ${THROUGHPUT_MINUTES} min (${rate} per minute)`);
}

function serviceCard(service, jobs, context) {
  const series = activity(jobs.filter((job) => job.service_id === service.id));
  const unavailable = async () => {
    if (!confirmAction(`Mark the service "${service.name}" unavailable?`)) return;
    try {
      await request("POST", `/services/${service.id}/unavailable`);
      await context.refresh();
    } catch (error) {
      context.showError(error);
    }
  };
  return el("article", { class: "card service", "data-service-id": service.id },
    el("header", {},
      el("h2", {}, el("a", { href: jobsLink(service) }, service.name)),
      liveness(service)),
    service.description ? el("p", { class: "muted" }, service.description) : null,
    el("p", { class: "muted" }, "Id ", el("code", { class: "service-id" }, service.id)),
    el("p", {}, "Last check-in ", timeNode(service.last_checked_in),
      el("span", { class: "muted" }, ` (timeout ${service.timeout} s)`)),
    counts(service),
    throughput(series),
    activityChart(series, service.name),
    el("div", { class: "legend" },
      el("span", { class: "submitted" }, "submitted"),
      el("span", { class: "completed" }, "completed"),
      el("span", {}, `per minute over ${WINDOW_MINUTES} min, peak ${Math.max(...series.submitted, ...series.completed)}`)),
    el("div", { class: "actions" },
      el("a", { href: jobsLink(service) }, "All jobs"),
      el("a", { href: jobsLink(service, "ERROR") }, "Failed jobs"),
      service.is_service_available
        ? el("button", { type: "button", class: "danger", id: `unavailable-${service.id}`, onclick: unavailable },
          "Mark unavailable")
        : null));
}

function emptyState() {
  return el("div", { class: "empty" },
    el("p", {}, el("strong", {}, "No services yet. "),
      "Register one with ", el("code", {}, "topchef services create NAME --job-registration-schema FILE --job-result-schema FILE"),
      " or ", el("code", {}, "POST /services"), ", and it appears here at once."));
}

function summary(services) {
  const alive = services.filter((service) => !service.has_timed_out && service.is_service_available).length;
  const noun = services.length === 1 ? "service" : "services";
  return el("p", { class: "muted" }, `${services.length} ${noun}, ${alive} alive`);
}

export async function servicesPage(context) {
  const page = {
    async refresh() {
      const { services, jobs } = await loadServices();
      const body = services.length
        ? [summary(services), el("div", { class: "cards" }, services.map((service) => serviceCard(service, jobs, page.context)))]
        : [emptyState()];
      context.render(el("h1", {}, "Services"), ...body);
    },
    onEvent(event) {
      return event.type.startsWith("service.") || event.type.startsWith("job.");
    },
    // Each reload sends 2 + N requests for N services, so a busy server gets them at most every 2 s.
    refreshDelayMs: 2000,
    context: { ...context },
  };
  page.context.refresh = () => page.refresh();
  document.title = "Services · TopChef";
  await page.refresh();
  return page;
}
