// auth.js: the session kept in localStorage. Login itself is server-driven:
// the login and otp screens submit to /v1/auth/otp and /v1/auth/verify, and
// afterSubmit picks the tokens out of the answer.

const KEY = 'korobka.session';

// Screens a signed-out shell may open; everything else needs a session.
export const PUBLIC_SCREENS = new Set(['login', 'otp']);
export const HOME = 'chat_list';
// WELCOME asks a new user for their name: opened after a sign-in whose
// answer says new_user (docs/shell.md, "Sign in").
export const WELCOME = 'welcome';
export const LOGIN = 'login';

export function session() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null');
    return s && typeof s.access_token === 'string' ? s : null;
  } catch {
    return null;
  }
}

// saveSession stores an answer of verify or refresh. expires_at lets the
// WebSocket refresh before reconnecting with a token about to die.
export function saveSession(r) {
  if (!r || typeof r.access_token !== 'string') return;
  const prev = session();
  localStorage.setItem(KEY, JSON.stringify({
    access_token: r.access_token,
    refresh_token: r.refresh_token ?? prev?.refresh_token ?? '',
    expires_at: Date.now() + (Number(r.expires_in) || 900) * 1000,
    user: r.user ?? prev?.user ?? null,
  }));
}

export function clearSession() {
  localStorage.removeItem(KEY);
}

export const myId = () => String(session()?.user?.id ?? '');

// afterSubmit reports how a submit changed the session: 'in', 'out' or ''.
export function afterSubmit(endpoint, body) {
  if ((endpoint === '/v1/auth/verify' || endpoint === '/v1/auth/refresh') && body?.access_token) {
    saveSession(body);
    return 'in';
  }
  if (endpoint === '/v1/auth/logout') {
    clearSession();
    return 'out';
  }
  return '';
}
