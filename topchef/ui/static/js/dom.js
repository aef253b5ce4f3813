// Small helpers to build DOM nodes without innerHTML, so job data is never parsed as HTML.

// el("a", {href: "#/jobs", class: "x"}, "text", otherNode): attributes starting
// with "on" become event listeners; null and false children are skipped.
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat(Infinity).filter((child) => child !== null && child !== false && child !== undefined));
  return node;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// "12 s ago", "3 min ago", "in 5 s": a duration rounded down to its largest unit.
export function relativeTime(iso, now = Date.now()) {
  const delta = now - Date.parse(iso);
  const size = Math.abs(delta);
  let text;
  if (size < MINUTE) text = `${Math.floor(size / SECOND)} s`;
  else if (size < HOUR) text = `${Math.floor(size / MINUTE)} min`;
  else if (size < DAY) text = `${Math.floor(size / HOUR)} h`;
  else text = `${Math.floor(size / DAY)} d`;
  return delta >= 0 ? `${text} ago` : `in ${text}`;
}

// A <time> showing the relative time, the absolute local time on hover.
export function timeNode(iso) {
  if (!iso) return el("span", { class: "muted" }, "—");
  const absolute = new Date(iso).toLocaleString(undefined, { timeZoneName: "short" });
  return el("time", { datetime: iso, title: absolute, "data-relative": "" }, relativeTime(iso));
}

// Refresh the text of every relative <time> on the page.
export function refreshTimes(root = document) {
  const now = Date.now();
  for (const node of root.querySelectorAll("time[data-relative]")) {
    node.textContent = relativeTime(node.getAttribute("datetime"), now);
  }
}

export function jsonBlock(value, { error = false } = {}) {
  // A plain string, such as a worker's error message, reads better without JSON quotes.
  const text = typeof value === "string" ? value : JSON.stringify(value ?? null, null, 2);
  return el("pre", { class: error ? "json error" : "json", tabindex: "0" }, el("code", {}, text));
}

export function statusBadge(status) {
  return el("span", { class: `badge ${status}` }, status);
}

// Wait for the user's confirmation in the browser's own dialog, which is keyboard friendly.
export function confirmAction(message) {
  return window.confirm(message);
}

// Replace the children of ``container`` and give focus back to the element
// with the same id, so a live refresh does not move the keyboard focus.
export function replaceKeepingFocus(container, ...nodes) {
  const focusedId = container.contains(document.activeElement) ? document.activeElement.id : "";
  container.replaceChildren(...nodes);
  if (focusedId) {
    const again = document.getElementById(focusedId);
    if (again) again.focus({ preventScroll: true });
  }
}
