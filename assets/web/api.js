// api.js: every HTTP call of the shell goes through request(), so the
// bearer token, the 401 → refresh → retry dance, the capability headers and
// the screen ETag cache each live in exactly one place.
import { session, saveSession, clearSession } from './auth.js';
import { t } from './strings.js';

// COMPONENTS is every node type render.js draws; the server replaces any
// other node with its fallback.
export const COMPONENTS = [
  'column', 'row', 'stack', 'scroll', 'list', 'text', 'image', 'avatar', 'icon',
  'button', 'input', 'message_bubble', 'badge', 'divider', 'spacer', 'card',
  'nav_bar', 'tab', 'composer', 'video', 'file', 'web', 'tabs', 'check',
];
export const SHELL = `web/1 (components: ${COMPONENTS.map((c) => c + '@1').join(', ')})`;

// ApiError is a failed call: the server's answer (status, code and its
// message, written for people in the user's language: the server follows
// Accept-Language), or status 0 / code 'network' when the server could not
// be reached. Its message is always one to show; never a raw exception
// text such as "Failed to fetch".
export class ApiError extends Error {
  constructor(status, code, message) {
    super(typeof message === 'string' && message ? message : t(status === 0 ? 'network' : 'error'));
    this.status = status;
    this.code = code;
  }
}

// errorText is what a person reads when an action failed with e: the
// server's message, the offline message, or the shell's own fallback
// (strings.js key) for anything else — a bug's exception text never
// reaches the screen.
export function errorText(e, fallback = 'error') {
  return e instanceof ApiError ? e.message : t(fallback);
}

// acceptLanguage turns navigator.languages into a weighted header, best first.
export function acceptLanguage() {
  const langs = navigator.languages?.length ? navigator.languages : [navigator.language || 'en'];
  return langs.slice(0, 6).map((l, i) => (i ? `${l};q=${(1 - i * 0.1).toFixed(1)}` : l)).join(', ');
}

// timeZone is the device's IANA zone (Europe/Moscow), sent on every request
// as X-Korobka-TZ and in every watch, so screens show times as the user's
// clock does. '' when the browser cannot say (the server's default applies).
// A zone the server does not know answers 400 invalid_time_zone; the shell
// then stops sending it (the server's default zone applies) rather than
// failing every request.
let zoneRefused = false;
export function timeZone() {
  if (zoneRefused) return '';
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
  } catch {
    return '';
  }
}

let onSignedOut = () => {};
// setSignedOutHandler is called when the session is gone for good (refresh
// failed or no token for a private screen): the app shows the login screen.
export function setSignedOutHandler(fn) { onSignedOut = fn; }

let refreshing = null;

// refreshTokens rotates the token pair once, however many callers ask at
// the same time (a second refresh with the old token would be taken as
// theft and end the session). Resolves false when the session is dead;
// rejects on network errors, which must not sign anyone out.
export function refreshTokens() {
  refreshing ??= (async () => {
    const rt = session()?.refresh_token;
    if (!rt) return false;
    const res = await fetch('/v1/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: rt }),
      cache: 'no-store',
    });
    if (!res.ok) return res.status >= 500 ? Promise.reject(new ApiError(res.status)) : false;
    saveSession(await res.json());
    return true;
  })().finally(() => { refreshing = null; });
  return refreshing;
}

function send(path, opts) {
  const headers = {
    'Accept': 'application/json',
    'Accept-Language': acceptLanguage(),
    'X-Korobka-Shell': SHELL,
    ...opts.headers,
  };
  const tz = timeZone();
  if (tz) headers['X-Korobka-TZ'] = tz;
  const tok = session()?.access_token;
  if (tok) headers.Authorization = `Bearer ${tok}`;
  let body = opts.body;
  if (body !== undefined && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(body);
  }
  return fetch(path, { method: opts.method ?? 'GET', headers, body, cache: 'no-store' })
    .catch(() => { throw new ApiError(0, 'network'); });
}

async function errorOf(res) {
  let e = {};
  try { e = (await res.json())?.error ?? {}; } catch { /* not JSON: keep the status */ }
  return new ApiError(res.status, e.code, e.message);
}

// request sends one call and answers the parsed JSON body (null for 204),
// or the Response itself with opts.raw. A 401 refreshes once and retries.
export async function request(path, opts = {}) {
  const hadToken = !!session();
  let res = await send(path, opts);
  if (res.status === 401) {
    if (hadToken && (await refreshTokens().catch(() => null)) === true) res = await send(path, opts);
    if (res.status === 401) {
      const err = await errorOf(res);
      clearSession();
      onSignedOut(err);
      throw err;
    }
  }
  if (res.status === 400 && !zoneRefused && timeZone()) {
    const err = await errorOf(res.clone());
    if (err.code === 'invalid_time_zone') {
      zoneRefused = true;
      return request(path, opts);
    }
  }
  if (opts.raw && (res.ok || res.status === 304)) return res;
  if (!res.ok) throw await errorOf(res);
  if (res.status === 204) return null;
  return res.json();
}

// The last layout per screen+params+theme (and zone: the ETag covers it),
// revalidated with If-None-Match:
// reopening a screen whose data did not change costs the server no render.
const cache = new Map();
const CACHE_MAX = 40;

export function clearScreenCache() { cache.clear(); }

// fetchScreen loads a layout. The theme goes both as ?theme= and as
// X-Korobka-Theme: the server reads either.
export async function fetchScreen(name, params, theme) {
  const q = new URLSearchParams(params);
  q.set('theme', theme);
  const path = `/v1/screens/${encodeURIComponent(name)}?${q}`;
  const hit = cache.get(path);
  const headers = { 'X-Korobka-Theme': theme };
  if (hit) headers['If-None-Match'] = hit.etag;
  const res = await request(path, { headers, raw: true });
  if (res.status === 304 && hit) {
    cache.delete(path); // re-insert: the Map's order is our LRU order
    cache.set(path, hit);
    return hit.body;
  }
  const body = await res.json();
  const etag = res.headers.get('ETag');
  if (etag) {
    cache.delete(path);
    cache.set(path, { etag, body });
    if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value);
  }
  return body;
}
