// The dashboard shell: hash routes, the token field, notices and live updates.

import { ApiError, accessToken, setAccessToken } from "./api.js";
import { el, refreshTimes, replaceKeepingFocus } from "./dom.js";
import { EventStream } from "./events.js";
import { jobPage } from "./job.js";
import { jobsPage } from "./jobs.js";
import { servicesPage } from "./services.js";

const POLL_MS = 5000;
const TIME_REFRESH_MS = 5000;
const REFRESH_DELAY_MS = 250;

// Each route: a pattern for the part of the hash before "?" and the page it shows.
const ROUTES = [
  [/^\/?$/, servicesPage],
  [/^\/services$/, servicesPage],
  [/^\/jobs$/, jobsPage],
  [/^\/jobs\/([^/]+)$/, jobPage],
];

const main = document.getElementById("main");
const notice = document.getElementById("notice");
const live = document.getElementById("live");
let page = null;
let routeNumber = 0;
let pollTimer = null;
let refreshTimer = null;
let refreshing = Promise.resolve();

// Show the error with a hint at what to do next, such as entering a token after a 401.
export function showError(error) {
  notice.className = "notice";
  notice.replaceChildren(...describeError(error));
  notice.hidden = false;
}

export function clearNotice() {
  notice.hidden = true;
  notice.replaceChildren();
}

function describeError(error) {
  if (!(error instanceof ApiError)) {
    return [el("strong", {}, "Something failed: "), String(error.message || error)];
  }
  const details = error.errors.map((entry) => el("div", {}, el("strong", {}, `${entry.title}: `), entry.detail));
  if (error.status === 401 && accessToken()) {
    return [el("strong", {}, "The server rejected this access token (401). "),
      "Check the token in the Access token field at the top, or enter another and press Use.",
      ...details];
  }
  if (error.status === 401) {
    return [el("strong", {}, "The server needs an access token (401). "),
      "Enter a token in the Access token field at the top and press Use.", ...details];
  }
  if (error.status === 403) {
    return [el("strong", {}, "This token may not do that (403). "),
      "Use a token whose role allows it: read to look, submit to cancel or delete jobs, work to retry them, admin to mark services unavailable.",
      ...details];
  }
  return details;
}

export function navigate(path, params) {
  const query = params && [...params].length ? `?${params}` : "";
  window.location.hash = `#${path}${query}`;
}

function currentRoute() {
  const hash = window.location.hash.replace(/^#/, "");
  const [path, query = ""] = hash.split("?", 2);
  for (const [pattern, render] of ROUTES) {
    const match = pattern.exec(path);
    if (match) return { path, render, match, params: new URLSearchParams(query) };
  }
  return { path, render: notFoundPage, match: [], params: new URLSearchParams(query) };
}

function notFoundPage(context) {
  context.render(
    el("h1", {}, "Page not found"),
    el("p", {}, `The dashboard has no page at #${context.path}. `,
      el("a", { href: "#/services" }, "Go to the services"), "."),
  );
  return {};
}

function markNavigation(path) {
  for (const link of document.querySelectorAll("nav a[data-page]")) {
    const current = path.startsWith(`/${link.dataset.page}`) || (path === "" && link.dataset.page === "services");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function showRoute() {
  if (page && page.dispose) page.dispose();
  clearNotice();
  const route = currentRoute();
  markNavigation(route.path);
  routeNumber += 1;
  const thisRoute = routeNumber;
  // A page renders only while its route is current, so a slow load cannot overwrite a newer page.
  const render = (...nodes) => {
    if (thisRoute === routeNumber) replaceKeepingFocus(main, ...nodes);
  };
  const context = { render, path: route.path, match: route.match, params: route.params, showError, navigate };
  try {
    const loadedPage = await route.render(context);
    if (thisRoute !== routeNumber) return;
    page = loadedPage;
  } catch (error) {
    if (thisRoute !== routeNumber) return;
    page = null;
    main.replaceChildren(el("h1", {}, "This page could not be loaded"),
      el("p", { class: "muted" }, "The message above says why. The page loads again when you press Use or go back."));
    showError(error);
  }
  main.focus({ preventScroll: true });
}

// Reload the page's data once for a burst of events. A pending reload absorbs
// later events, so a steady stream still reloads the page at a steady pace.
function scheduleRefresh() {
  if (refreshTimer !== null) return;
  const delay = (page && page.refreshDelayMs) || REFRESH_DELAY_MS;
  refreshTimer = setTimeout(() => {
    // Cleared before the reload starts, so an event that arrives during it schedules another.
    refreshTimer = null;
    // Reloads run one after another, so a slow one never overwrites a newer one.
    refreshing = refreshing
      .then(() => page && page.refresh && page.refresh())
      .catch(showError);
  }, delay);
}

function onEvent(event) {
  if (event.type === "reset") {
    scheduleRefresh();
  } else if (page && page.onEvent) {
    if (page.onEvent(event)) scheduleRefresh();
  }
}

const LIVE_TEXT = {
  connecting: "connecting",
  live: "live",
  missing: `polling every ${POLL_MS / 1000} s`,
  denied: "live updates refused",
  offline: "reconnecting",
};

let connectedBefore = false;

function onStreamState(state, detail) {
  if (state === "live") {
    // Events between two connections may be lost when none had arrived yet to resume after.
    if (connectedBefore) scheduleRefresh();
    connectedBefore = true;
  }
  live.dataset.state = state === "missing" ? "polling" : state;
  // A stream that was live once shows "reconnecting" throughout its retries, instead of alternating.
  live.textContent = state === "connecting" && connectedBefore ? LIVE_TEXT.offline : LIVE_TEXT[state];
  live.title = state === "missing"
    ? "This server has no event stream (GET /events), so the page asks again every few seconds"
    : detail ? `Event stream: ${detail}` : "State of the event stream";
  clearInterval(pollTimer);
  if (state === "missing" || state === "offline") {
    pollTimer = setInterval(scheduleRefresh, POLL_MS);
  }
  if (state === "denied") {
    showError(new ApiError(detail, [{ status_code: detail, title: "Event Stream Refused",
      detail: "GET /events was refused, so the page does not update by itself" }]));
  }
}

const stream = new EventStream({ onEvent, onState: onStreamState });

function setUpTokenForm() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  input.value = accessToken();
  form.addEventListener("submit", (submitEvent) => {
    submitEvent.preventDefault();
    setAccessToken(input.value.trim());
    stream.start();
    showRoute();
  });
}

setUpTokenForm();
window.addEventListener("hashchange", showRoute);
setInterval(() => refreshTimes(), TIME_REFRESH_MS);
showRoute();
stream.start();
