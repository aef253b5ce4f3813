// Requests to the TopChef HTTP API, with the access token from this tab's sessionStorage.

const TOKEN_KEY = "topchef.token";

export function accessToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setAccessToken(token) {
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

export function authHeaders() {
  const token = accessToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

// A failed request: the HTTP status (0 when the server could not be reached)
// and the entries of the error envelope, {status_code, title, detail}.
export class ApiError extends Error {
  constructor(status, errors) {
    super(errors.map((entry) => `${entry.title}: ${entry.detail}`).join("; "));
    this.status = status;
    this.errors = errors;
  }
}

function envelopeErrors(status, statusText, text) {
  try {
    const body = JSON.parse(text);
    if (Array.isArray(body.errors) && body.errors.length) {
      return body.errors;
    }
  } catch {
    // Not JSON: fall through to a generic entry that shows the start of the body.
  }
  return [{ status_code: status, title: statusText || `HTTP ${status}`, detail: text.slice(0, 300) }];
}

// Send a request and return the parsed body (null for 204). Raise ApiError on any failure.
export async function request(method, path, body) {
  const headers = { Accept: "application/json", ...authHeaders() };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }

  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, [{ status_code: 0, title: "Connection Failed",
      detail: `${method} ${path} failed (${error.message}); check that the server is running` }]);
  }

  const text = await response.text();
  if (!response.ok) {
    throw new ApiError(response.status, envelopeErrors(response.status, response.statusText, text));
  }
  return text ? JSON.parse(text) : null;
}

export const get = (path) => request("GET", path);
