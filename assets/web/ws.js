// ws.js: the one WebSocket of the shell (GET /v1/ws). It reconnects with
// backoff, resumes with `sync` from the last seq held per dialog, dedupes
// messages, acks delivery and reads, and feeds patches, ticks, typing and
// presence to the open screen. Frames are those of docs/api.md.
import { session, myId } from './auth.js';
import { refreshTokens, request, acceptLanguage, timeZone, SHELL, ApiError } from './api.js';
import { preferredTheme } from './theme.js';
import { t, locale } from './strings.js';

const SEQ_KEY = 'korobka.seqs';
const TYPING_SEND_EVERY = 3000; // at most one `typing` per dialog per 3 s
const TYPING_SHOW_FOR = 5000; // an incoming `typing` shows for 5 s
const REPLY_TIMEOUT = 10000;
const BACKOFF_BASE = 500;
const BACKOFF_MAX = 30000;
const SEEN_MAX = 5000;
const AUTH_AHEAD = 60000; // hand the socket a fresh token a minute before its own expires
const AUTH_MIN_WAIT = 2000;

const RANK = { sent: 1, delivered: 2, read: 3 };

// createLive wires the connection to an app: { screenEl, route, applyPatch,
// refresh, expectNode, expectPatch, setStatusLine, signedOut, banner }.
export function createLive(app) {
  let ws = null;
  let stopped = true;
  let attempts = 0;
  let timer = 0;
  let everOpen = false;
  let nextId = 0;
  let authTimer = 0;
  let ended = false; // the last close was 4001: refresh before reconnecting
  let parked = false; // the last close was 4002: wait for the user
  let sockExp = 0; // when the token the socket lives by expires (ms)
  const pending = new Map(); // request id -> { resolve, reject, timer }
  const seen = new Set(); // message ids already handled, oldest first
  const msgSeq = new Map(); // message id -> seq, for ticks
  const syncing = new Set(); // dialogs with a gap sync in flight
  const status = new Map(); // dialog -> Map(user -> { delivered_seq, read_seq })
  const partner = new Map(); // dialog -> the other user of a direct dialog
  const presence = new Map(); // user -> { online, last_seen }
  const typing = new Map(); // dialog -> timeout of the shown indicator
  const typingSent = new Map(); // dialog -> time of our last `typing`
  const readSent = new Map(); // dialog -> seq of our last `read`
  const deliveredQ = new Map(); // dialog -> highest seq to ack as delivered
  let seqs = {};
  try { seqs = JSON.parse(localStorage.getItem(SEQ_KEY) ?? '{}') ?? {}; } catch { /* start afresh */ }

  const saveSeqs = () => localStorage.setItem(SEQ_KEY, JSON.stringify(seqs));
  const openDialog = () => String(app.route?.params?.dialog_id ?? '');
  const isOpen = (d) => d !== '' && d === openDialog();

  function start() {
    stopped = false;
    if (!ws && !timer) connect();
  }

  function stop() {
    stopped = true;
    clearTimeout(timer);
    timer = 0;
    clearTimeout(authTimer);
    const s = ws;
    ws = null;
    s?.close(1000);
    failPending(new Error(t('offline')));
    app.banner(false);
    everOpen = false;
  }

  function connect() {
    timer = 0;
    const tok = session()?.access_token;
    if (stopped || !tok) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const s = new WebSocket(`${scheme}//${location.host}/v1/ws?access_token=${encodeURIComponent(tok)}`);
    ws = s;
    s.addEventListener('open', () => {
      if (ws !== s) return;
      const again = everOpen;
      everOpen = true;
      attempts = 0;
      app.banner(false);
      sockExp = session()?.expires_at ?? 0;
      // Presence events say only what changes from now on: learn the open
      // chat partner's current state again.
      presence.clear();
      presenceFor = '';
      loadPresence();
      planAuth();
      watch();
      sync(seqs);
      reportState();
      // Patches sent while we were away are lost; the screen is cheap to
      // revalidate (ETag), so fetch it again after a reconnect.
      if (again) app.refresh();
    });
    s.addEventListener('message', (e) => {
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (f && typeof f === 'object') handle(f);
    });
    s.addEventListener('close', (e) => {
      if (ws !== s) return;
      ws = null;
      clearTimeout(authTimer);
      failPending(new Error(t('offline')));
      if (stopped) return;
      app.banner(true);
      // 4001: the session ended or the token expired; 4002: this user has
      // too many connections open elsewhere and this was the oldest, so
      // it waits until the user comes back to the app.
      ended = e.code === 4001;
      parked = e.code === 4002;
      if (!parked) schedule();
    });
  }

  // schedule reconnects after an exponential delay with jitter, so a
  // restarted server is not hit by every client in the same millisecond.
  function schedule() {
    const d = Math.min(BACKOFF_MAX, BACKOFF_BASE * 2 ** attempts);
    attempts++;
    timer = setTimeout(async () => {
      // A failed upgrade looks like any other close; refresh the token when
      // it is about to expire, or once per outage in case it already did.
      const s = session();
      if (s && (ended || s.expires_at - Date.now() < 60000 || attempts === 2)) {
        ended = false;
        const ok = await refreshTokens().catch(() => null);
        if (ok === false) { stop(); app.signedOut(); return; }
      }
      connect();
    }, d / 2 + Math.random() * (d / 2));
  }

  // planAuth schedules renewAuth a minute before the socket's token
  // expires: the server closes a socket with 4001 when its token expires,
  // unless it was handed a fresh one over `auth` (docs/api.md).
  function planAuth() {
    clearTimeout(authTimer);
    if (!sockExp) return;
    authTimer = setTimeout(renewAuth, Math.max(sockExp - Date.now() - AUTH_AHEAD, AUTH_MIN_WAIT));
  }

  // renewAuth refreshes the tokens (unless a REST call already did) and
  // sends the fresh access token over the socket.
  async function renewAuth() {
    authTimer = 0;
    if (ws?.readyState !== WebSocket.OPEN) return;
    if ((session()?.expires_at ?? 0) - Date.now() <= AUTH_AHEAD) {
      const ok = await refreshTokens().catch(() => null);
      if (ok === false) { stop(); app.signedOut(); return; }
      if (ok !== true) { authTimer = setTimeout(renewAuth, 10000); return; } // offline: try again
    }
    const s = session();
    if (!s) return;
    try {
      const r = await call({ type: 'auth', access_token: s.access_token });
      sockExp = Date.now() + (Number(r.expires_in) || 0) * 1000;
      planAuth();
    } catch { /* the socket closed or the reply is late: reconnecting refreshes */ }
  }

  addEventListener('online', () => {
    if (!stopped && !ws) { clearTimeout(timer); attempts = 0; connect(); }
  });
  addEventListener('offline', () => { if (!stopped) app.banner(true); });
  document.addEventListener('visibilitychange', () => {
    if (parked && !stopped && !ws && document.visibilityState === 'visible') { parked = false; attempts = 0; connect(); }
    reportState();
    markRead();
  });

  // reportState tells the server whether this tab is on screen: while one
  // of the user's connections is in the foreground their phone gets no
  // push alerts. A connection counts as background until it says so.
  function reportState() {
    raw({ type: 'state', state: document.visibilityState === 'visible' ? 'foreground' : 'background' });
  }

  function raw(frame) {
    if (ws?.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  // call sends a request frame and resolves with its reply.
  function call(frame) {
    return new Promise((resolve, reject) => {
      const id = `c${++nextId}`;
      if (!raw({ ...frame, id })) return reject(new Error(t('offline')));
      const timer = setTimeout(() => { pending.delete(id); reject(new Error(t('send_failed'))); }, REPLY_TIMEOUT);
      pending.set(id, { resolve, reject, timer });
      return undefined;
    });
  }

  function failPending(err) {
    for (const p of pending.values()) { clearTimeout(p.timer); p.reject(err); }
    pending.clear();
  }

  // sync asks for the messages after the seqs we hold; the server sends
  // them as `message` frames, then the reply (with more: true to go on).
  function sync(dialogs) {
    call({ type: 'sync', dialogs: { ...dialogs } }).then((r) => {
      for (const d of Object.keys(dialogs)) syncing.delete(d);
      if (r?.synced && typeof r.synced === 'object') {
        for (const [d, s] of Object.entries(r.synced)) advance(d, Number(s));
      }
      if (r?.more) sync(seqs);
      markRead();
    }, () => { for (const d of Object.keys(dialogs)) syncing.delete(d); });
  }

  function handle(f) {
    switch (f.type) {
      case 'reply':
      case 'error': {
        const p = pending.get(f.id);
        if (p) {
          pending.delete(f.id);
          clearTimeout(p.timer);
          if (f.type === 'reply') p.resolve(f);
          else p.reject(new ApiError(0, f.error?.code, f.error?.message));
        }
        if (f.type === 'reply' && f.message) onMessage(f.message, false);
        return;
      }
      case 'message': return onMessage(f.message, true);
      case 'status': return onStatus(f);
      case 'typing': return onTyping(f);
      case 'presence': return onPresence(f);
      case 'dialog': return app.expectPatch();
      case 'patch': app.applyPatch(f); return updateTicks();
      default: return undefined; // newer frames are ignored, as the contract allows
    }
  }

  function advance(d, seq) {
    if (!(seq > (seqs[d] ?? 0))) return;
    seqs[d] = seq;
    saveSeqs();
  }

  function onMessage(m, event) {
    if (!m || typeof m.id !== 'string') return;
    const d = String(m.dialog_id ?? '');
    const seq = Number(m.seq);
    if (!d || !Number.isSafeInteger(seq)) return;
    msgSeq.set(m.id, seq);
    if (msgSeq.size > SEEN_MAX) msgSeq.delete(msgSeq.keys().next().value);
    const last = seqs[d] ?? 0;
    if (!last || seq <= last + 1) {
      advance(d, seq);
    } else if (!syncing.has(d)) {
      // A hole: something between last and seq never reached us.
      syncing.add(d);
      sync({ [d]: last });
    }
    if (seen.has(m.id)) return;
    seen.add(m.id);
    if (seen.size > SEEN_MAX) seen.delete(seen.values().next().value);
    if (event) ackDelivered(d, seq);
    const sender = String(m.sender_id ?? '');
    if (sender && sender !== myId()) {
      partner.set(d, sender);
      clearTyping(d);
    }
    if (isOpen(d)) {
      app.expectNode(`msg-${m.id}`);
      markRead();
    } else {
      app.expectPatch();
    }
  }

  // ackDelivered coalesces delivered acks per dialog: receipts are
  // watermarks, and a sync of hundreds of messages must not trip the
  // server's frame rate limit.
  function ackDelivered(d, seq) {
    const had = deliveredQ.size > 0;
    deliveredQ.set(d, Math.max(deliveredQ.get(d) ?? 0, seq));
    if (had) return;
    setTimeout(() => {
      for (const [dialog, s] of deliveredQ) raw({ type: 'delivered', dialog_id: dialog, seq: s });
      deliveredQ.clear();
    }, 50);
  }

  // seqOf finds a bubble's seq: from events, or from server ids of the form
  // <dialog>.<seq> (chat.MessageID).
  function seqOf(el) {
    const id = String(el.dataset.kid ?? '').replace(/^msg-/, '');
    if (msgSeq.has(id)) return msgSeq.get(id);
    const m = /^\d+\.(\d+)$/.exec(id);
    return m ? Number(m[1]) : 0;
  }

  // markRead sends `read` up to the newest seq of the open chat, but only
  // while the page is visible: a chat in a background tab is not read.
  function markRead() {
    const d = openDialog();
    if (!d || document.visibilityState !== 'visible') return;
    let seq = seqs[d] ?? 0;
    for (const el of app.screenEl.querySelectorAll('.k-message-bubble[data-kid]')) seq = Math.max(seq, seqOf(el));
    if (seq > (readSent.get(d) ?? 0) && raw({ type: 'read', dialog_id: d, seq })) readSent.set(d, seq);
  }

  function onStatus(f) {
    const d = String(f.dialog_id ?? '');
    const u = String(f.user_id ?? '');
    if (!d || !u) return;
    if (!status.has(d)) status.set(d, new Map());
    status.get(d).set(u, { delivered_seq: Number(f.delivered_seq) || 0, read_seq: Number(f.read_seq) || 0 });
    if (u !== myId()) partner.set(d, u);
    if (isOpen(d)) updateTicks();
  }

  // updateTicks upgrades own bubbles of the open chat from the watermarks:
  // a message with seq <= a member's read_seq is read, <= delivered_seq is
  // delivered. Ticks never go backwards.
  function updateTicks() {
    const d = openDialog();
    const marks = status.get(d);
    if (!marks) return;
    let read = 0;
    let delivered = 0;
    for (const [u, w] of marks) {
      if (u === myId()) continue;
      read = Math.max(read, w.read_seq);
      delivered = Math.max(delivered, w.delivered_seq, w.read_seq);
    }
    for (const tk of app.screenEl.querySelectorAll('.k-message-bubble.k-own .k-ticks')) {
      const seq = seqOf(tk.closest('.k-message-bubble'));
      if (!seq) continue;
      const want = seq <= read ? 'read' : seq <= delivered ? 'delivered' : '';
      if (want && RANK[want] > (RANK[tk.dataset.status] ?? 0)) {
        tk.dataset.status = want;
        tk.textContent = '✓✓';
        tk.title = t(want);
      }
    }
  }

  function onTyping(f) {
    const d = String(f.dialog_id ?? '');
    if (!d || String(f.user_id) === myId()) return;
    partner.set(d, String(f.user_id));
    clearTimeout(typing.get(d));
    typing.set(d, setTimeout(() => clearTyping(d), TYPING_SHOW_FOR));
    if (isOpen(d)) statusLine();
  }

  function clearTyping(d) {
    clearTimeout(typing.get(d));
    if (typing.delete(d) && isOpen(d)) statusLine();
  }

  function onPresence(f) {
    const u = String(f.user_id ?? '');
    if (!u) return;
    presence.set(u, { online: !!f.online, last_seen: f.last_seen ?? null });
    if (partner.get(openDialog()) === u) statusLine();
  }

  // loadPresence learns whether the open direct chat's partner is online
  // now: presence events only report changes, so a partner who was online
  // before we looked would otherwise show nothing. GET /v1/users/{id}
  // carries online/last_seen when the two share presence (docs/api.md,
  // "Presence"); an event that arrives meanwhile wins over the answer.
  let presenceFor = ''; // the dialog asked about since the socket opened
  async function loadPresence() {
    const d = openDialog();
    if (!d || presenceFor === d || !session()) return;
    presenceFor = d;
    try {
      const dlg = await request(`/v1/dialogs/${encodeURIComponent(d)}`);
      const other = dlg?.kind === 'direct' ? (dlg.members ?? []).find((m) => String(m?.id) !== myId()) : null;
      if (!other) return;
      const u = String(other.id);
      partner.set(d, u);
      const prof = await request(`/v1/users/${encodeURIComponent(u)}`);
      if (typeof prof?.online === 'boolean' && !presence.has(u)) {
        presence.set(u, { online: prof.online, last_seen: prof.last_seen ?? null });
      }
      if (isOpen(d)) statusLine();
    } catch {
      if (presenceFor === d) presenceFor = ''; // try again on the next show
    }
  }

  // lastSeen says when a time was, as people say it: the time today,
  // "yesterday at" the time, else the date and time.
  function lastSeen(when) {
    const now = new Date();
    const time = when.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' });
    const day = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
    const days = Math.round((day(now) - day(when)) / 86400000);
    if (days === 0) return t('last_seen', { t: time });
    if (days === 1) return t('last_seen_yesterday', { t: time });
    return t('last_seen_on', { d: when.toLocaleDateString(locale(), { day: 'numeric', month: 'long' }), t: time });
  }

  // statusLine puts typing or presence in the chat's nav bar subtitle.
  function statusLine() {
    const d = openDialog();
    if (!d) return;
    if (typing.has(d)) return app.setStatusLine(t('typing'));
    const p = presence.get(partner.get(d));
    if (p?.online) return app.setStatusLine(t('online'));
    const when = p?.last_seen ? new Date(p.last_seen) : null;
    if (when && !Number.isNaN(when.getTime())) {
      return app.setStatusLine(lastSeen(when));
    }
    return app.setStatusLine(null);
  }

  // composing is called as the user types in a chat: at most one `typing`
  // frame per dialog every 3 s.
  function composing() {
    const d = openDialog();
    const now = Date.now();
    if (!d || now - (typingSent.get(d) ?? 0) < TYPING_SEND_EVERY) return;
    if (raw({ type: 'typing', dialog_id: d })) typingSent.set(d, now);
  }

  // send delivers a message (with [{upload_id}] attachments, if any) over the socket, or over REST when the socket is
  // down; the same client_id makes a retry safe (the server dedupes).
  async function send(dialog, text, attachments) {
    const client_id = crypto.randomUUID();
    const extra = attachments?.length ? { attachments } : {};
    let msg;
    try {
      msg = (await call({ type: 'send', dialog_id: dialog, client_id, text, ...extra })).message;
    } catch {
      msg = await request(`/v1/dialogs/${encodeURIComponent(dialog)}/messages`, { method: 'POST', body: { client_id, text, ...extra } });
      onMessage(msg, false);
    }
    return msg;
  }

  // watch tells the server what this device shows, so that it sends
  // `patch` frames for the screen (rendered in our language, theme,
  // components and time zone) and stops those of the previous one. Sent whenever a screen
  // is shown and on every (re)connect.
  function watch() {
    const { screen, params } = app.route ?? {};
    if (screen && app.layout?.live?.length) {
      const w = { type: 'watch', screen, params: { ...params }, lang: acceptLanguage(), theme: preferredTheme(), shell: SHELL };
      const tz = timeZone();
      if (tz) w.tz = tz;
      raw(w);
    } else {
      raw({ type: 'watch' });
    }
  }

  // screenShown is called after every render of a screen.
  function screenShown() {
    watch();
    updateTicks();
    statusLine();
    if (ws?.readyState === WebSocket.OPEN) loadPresence();
    markRead();
  }

  return { start, stop, send, composing, screenShown, get connected() { return ws?.readyState === WebSocket.OPEN; } };
}
