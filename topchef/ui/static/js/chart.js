// Per-minute submissions and completions of a service, and their SVG chart.

const SVG = "http://www.w3.org/2000/svg";
export const WINDOW_MINUTES = 15;
const MINUTE_MS = 60 * 1000;
const WIDTH = 300;
const HEIGHT = 70;
const PAD = 4;

// Count, per minute of the last WINDOW_MINUTES, the jobs submitted and the
// jobs completed. Index WINDOW_MINUTES - 1 is the current minute.
export function activity(jobs, now = Date.now()) {
  const submitted = new Array(WINDOW_MINUTES).fill(0);
  const completed = new Array(WINDOW_MINUTES).fill(0);
  const add = (series, iso) => {
    if (!iso) return;
    const minutesAgo = Math.floor((now - Date.parse(iso)) / MINUTE_MS);
    if (minutesAgo >= 0 && minutesAgo < WINDOW_MINUTES) {
      series[WINDOW_MINUTES - 1 - minutesAgo] += 1;
    }
  };
  for (const job of jobs) {
    add(submitted, job.date_submitted);
    if (job.status === "COMPLETED") add(completed, job.date_finished);
  }
  return { submitted, completed };
}

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function points(series, top) {
  const step = (WIDTH - 2 * PAD) / (series.length - 1);
  const scale = (HEIGHT - 2 * PAD) / Math.max(top, 1);
  return series
    .map((count, index) => `${(PAD + index * step).toFixed(1)},${(HEIGHT - PAD - count * scale).toFixed(1)}`)
    .join(" ");
}

// An SVG line chart of both series with a text alternative for screen readers.
export function activityChart({ submitted, completed }, label) {
  const top = Math.max(...submitted, ...completed);
  const chart = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img",
    preserveAspectRatio: "none" });
  const title = svg("title", {});
  const total = (series) => series.reduce((sum, count) => sum + count, 0);
  title.textContent = `${label}: ${total(submitted)} submitted and ${total(completed)} completed ` +
    `in the last ${WINDOW_MINUTES} minutes, at most ${top} in one minute`;
  chart.append(title);
  chart.append(svg("line", { class: "grid", x1: PAD, x2: WIDTH - PAD, y1: HEIGHT - PAD, y2: HEIGHT - PAD }));
  chart.append(svg("polyline", { class: "submitted", points: points(submitted, top) }));
  chart.append(svg("polyline", { class: "completed", points: points(completed, top) }));
  return chart;
}
