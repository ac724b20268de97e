// The JSON API of the same process, with the bearer token kept in sessionStorage
// (per tab, gone when the tab closes; never written to localStorage or a cookie).

const TOKEN_KEY = 'kafkaops.apiToken';

export const token = {
  get() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch { return ''; }
  },
  set(value) {
    try { sessionStorage.setItem(TOKEN_KEY, value); } catch { /* storage disabled */ }
  },
  clear() {
    try { sessionStorage.removeItem(TOKEN_KEY); } catch { /* storage disabled */ }
  },
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

function detailText(data) {
  if (data === null || data === undefined) return '';
  if (typeof data === 'string') return data.slice(0, 300);
  if (Array.isArray(data)) {
    return data.map((d) => (d && d.msg ? `${(d.loc || []).join('.')}: ${d.msg}` : detailText(d)))
      .join('; ');
  }
  if (typeof data === 'object') {
    for (const key of ['message', 'error', 'detail']) {
      if (data[key] !== undefined && data[key] !== null) return detailText(data[key]);
    }
    return JSON.stringify(data).slice(0, 300);
  }
  return String(data);
}

function errorMessage(status, statusText, data) {
  const detail = detailText(data);
  if (status === 401 || status === 403) {
    const hint = token.get() ? 'the API token was refused' : 'enter the API token first';
    return `${status}: ${detail || hint}${detail ? ` (${hint})` : ''}`;
  }
  return `${status} ${statusText || ''}`.trim() + (detail ? `: ${detail}` : '');
}

async function request(method, path, body, timeoutMs = 8000) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  const headers = { Accept: 'application/json' };
  const tok = token.get();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ctl.signal,
      cache: 'no-store',
      credentials: 'same-origin',
    });
  } catch (err) {
    throw new ApiError(0, err && err.name === 'AbortError'
      ? `no answer from the kafkaops service within ${timeoutMs / 1000}s`
      : `cannot reach the kafkaops service (${err && err.message ? err.message : err})`);
  } finally {
    clearTimeout(timer);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!resp.ok) throw new ApiError(resp.status, errorMessage(resp.status, resp.statusText, data));
  return data;
}

export const apiGet = (path, timeoutMs) => request('GET', path, undefined, timeoutMs);
export const apiPost = (path, body, timeoutMs) => request('POST', path, body ?? {}, timeoutMs);

/** "/api/clusters/a%2Fb/health" — every path segment escaped. */
export function apiPath(...segments) {
  return '/api/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
}

/** An object's list under one of several names, or the value itself when it is a list. */
export function listOf(data, ...keys) {
  if (Array.isArray(data)) return data;
  if (data && typeof data === 'object') {
    for (const k of keys) if (Array.isArray(data[k])) return data[k];
  }
  return [];
}
