// The server's event stream (GET /events, Server-Sent Events) read with fetch(),
// because EventSource cannot send the Authorization header.

import { authHeaders } from "./api.js";

const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 15000;
const MISSING_RETRY_MS = 30000;

// Split a Server-Sent Events text stream into events: {id, event, data}.
export class EventParser {
  constructor(onMessage) {
    this.onMessage = onMessage;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.id = null;
    this.event = "message";
    this.data = [];
  }

  push(text) {
    this.buffer += text;
    // A CR at the end may be the first half of a CRLF split across two chunks.
    const trailingReturn = this.buffer.endsWith("\r") ? "\r" : "";
    const lines = this.buffer.slice(0, this.buffer.length - trailingReturn.length).split(/\r\n|\r|\n/);
    this.buffer = lines.pop() + trailingReturn;
    for (const line of lines) {
      this.line(line);
    }
  }

  line(line) {
    if (line === "") {
      if (this.data.length) {
        this.onMessage({ id: this.id, event: this.event, data: this.data.join("\n") });
      }
      this.reset();
      return;
    }
    if (line.startsWith(":")) {
      return; // a comment, such as the server's keep-alive
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) {
      value = value.slice(1);
    }
    if (field === "id") this.id = value;
    else if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
  }
}

// Keep one connection to /events open, resuming after the last event seen.
// onEvent gets each parsed event ({type: "reset"} when events were missed);
// onState gets "connecting", "live", "missing" (no /events on this server),
// "denied" (401 or 403, with the error) or "offline".
export class EventStream {
  constructor({ onEvent, onState }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.lastId = null;
    this.controller = null;
    this.timer = null;
    this.retryMs = FIRST_RETRY_MS;
  }

  start() {
    this.stop();
    this.controller = new AbortController();
    this.run(this.controller.signal);
  }

  stop() {
    clearTimeout(this.timer);
    if (this.controller) {
      this.controller.abort();
      this.controller = null;
    }
  }

  async run(signal) {
    this.onState("connecting");
    const headers = { Accept: "text/event-stream", ...authHeaders() };
    if (this.lastId !== null) {
      headers["Last-Event-ID"] = this.lastId;
    }
    try {
      const response = await fetch("/events", { headers, signal, cache: "no-store" });
      if (response.status === 401 || response.status === 403) {
        this.onState("denied", response.status);
        return;
      }
      if (response.status === 404 || response.status === 405) {
        this.onState("missing");
        this.retry(signal, MISSING_RETRY_MS);
        return;
      }
      if (!response.ok || !response.body) {
        throw new Error(`GET /events returned ${response.status}`);
      }
      this.onState("live");
      this.retryMs = FIRST_RETRY_MS;
      await this.read(response.body, signal);
      throw new Error("the server closed the event stream");
    } catch (error) {
      if (signal.aborted) {
        return;
      }
      this.onState("offline", error.message);
      this.retry(signal, this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    }
  }

  retry(signal, delayMs) {
    this.timer = setTimeout(() => {
      if (!signal.aborted) this.run(signal);
    }, delayMs);
  }

  async read(body, signal) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new EventParser((message) => this.deliver(message));
    signal.addEventListener("abort", () => reader.cancel().catch(() => {}));
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  }

  deliver(message) {
    if (message.id) {
      this.lastId = message.id;
    }
    if (message.event === "reset") {
      this.onEvent({ type: "reset" });
      return;
    }
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      console.warn("ignored an event whose data is not JSON:", message.data);
      return;
    }
    this.onEvent({ type: message.event, ...event });
  }
}
