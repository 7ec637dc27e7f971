// app.js: boots the web shell and routes between server-driven screens.
// The route lives in the hash (#/chat?dialog_id=17) so a reload or a shared
// link opens the same screen; browser history is the back stack.
import { fetchScreen, clearScreenCache, setSignedOutHandler, errorText } from './api.js';
import { session, clearSession, PUBLIC_SCREENS, HOME, LOGIN } from './auth.js';
import { renderLayout, applyOps, appendPage, find, findNode } from './render.js';
import { createActions, canRun } from './actions.js';
import { applyTheme, preferredTheme, onThemeChange } from './theme.js';
import { createLive } from './ws.js';
import { t } from './strings.js';

const SCREEN = /^[a-z][a-z0-9_]{0,63}$/;
const EXPECT_WAIT = 1200; // how long a patch may lag its data event

const screenEl = document.getElementById('screen');
const bannerEl = document.getElementById('offline');
const toastEl = document.getElementById('toast');

function parseHash() {
  const m = /^#\/([^?]*)(?:\?(.*))?$/.exec(location.hash);
  const screen = m && SCREEN.test(m[1]) ? m[1] : '';
  return { screen, params: Object.fromEntries(new URLSearchParams(m?.[2] ?? '')) };
}

const hashOf = (screen, params) => {
  const q = new URLSearchParams(params).toString();
  return `#/${screen}${q ? '?' + q : ''}`;
};

let loadSeq = 0;
let loading = false;
let patchCount = 0;
// Patches that arrive while a screen is loading wait for it; applying one
// twice is harmless (an insert of a node already shown replaces it).
const queued = [];
let toastTimer = 0;

const app = {
  screenEl,
  route: parseHash(),
  layout: null,

  navigate(screen, params = {}, replace = false) {
    if (!SCREEN.test(String(screen))) return;
    const clean = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
    const depth = (history.state?.depth ?? 0) + (replace ? 0 : 1);
    const url = hashOf(screen, clean);
    if (replace) history.replaceState({ depth }, '', url);
    else history.pushState({ depth }, '', url);
    show();
  },

  // back pops our own history; on the first screen it goes home instead of
  // leaving the app.
  back() {
    if ((history.state?.depth ?? 0) > 0) history.back();
    else app.navigate(session() ? HOME : LOGIN, {}, true);
  },

  refresh() { return show({ keep: true }); },

  async loadMore(action, el) {
    const listEl = el?.closest?.('.k-list');
    if (!listEl || listEl.kLoading || !listEl.dataset.kid) return;
    listEl.kLoading = true;
    try {
      // Contract proposal: the page after `cursor` of data `source` is the
      // same screen with ?cursor=&more= added; we merge its list by id.
      const params = { ...app.route.params, cursor: String(action.cursor ?? ''), more: String(action.source ?? '') };
      const layout = await fetchScreen(app.route.screen, params, preferredTheme());
      appendPage(listEl, findNode(layout.root, listEl.dataset.kid), ctx);
    } catch (e) {
      app.toast(errorText(e));
    } finally {
      listEl.kLoading = false;
    }
  },

  toast(msg) {
    toastEl.textContent = String(msg ?? '');
    toastEl.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastEl.hidden = true; }, 4000);
  },

  banner(on) {
    bannerEl.textContent = t('offline');
    bannerEl.hidden = !on;
  },

  // sessionChanged reacts to a submit that signed in or out.
  sessionChanged(how) {
    if (how === 'in') { clearScreenCache(); live.start(); }
    if (how === 'out') { live.stop(); clearScreenCache(); localStorage.removeItem('korobka.seqs'); }
  },

  signedOut() {
    live.stop();
    clearSession();
    clearScreenCache();
    if (!PUBLIC_SCREENS.has(app.route.screen)) app.navigate(LOGIN, {}, true);
  },

  // applyPatch applies a patch frame meant for the open screen. Frames name
  // a screen instance ("chat:17"), a screen, or one of its live topics.
  applyPatch(f) {
    if (loading) { if (queued.length < 200) queued.push(f); return; }
    const { screen, params } = app.route;
    const names = [screen, ...Object.values(params).map((v) => `${screen}:${v}`), ...(app.layout?.live ?? [])];
    if (!names.includes(f.screen)) return;
    patchCount++;
    applyOps(screenEl, f.ops, ctx);
  },

  // expectNode refreshes the screen when a message's bubble does not show
  // up by patch soon after its event (e.g. missed while reconnecting).
  expectNode(id) {
    setTimeout(() => { if (!find(screenEl, id)) app.refresh(); }, EXPECT_WAIT);
  },

  // expectPatch refreshes a live screen when a data event brings no patch.
  expectPatch() {
    if (!app.layout?.live?.length) return;
    const before = patchCount;
    setTimeout(() => { if (patchCount === before) app.refresh(); }, EXPECT_WAIT);
  },

  setStatusLine(text) {
    const sub = screenEl.querySelector('.k-nav-bar .k-subtitle');
    if (sub) sub.textContent = text ?? sub.dataset.original ?? '';
  },
};

const live = createLive(app);
app.live = live;
const run = createActions(app);

// ctx is what render.js needs from the app.
const ctx = {
  run,
  canRun,
  onCompose: (el) => { if (el.dataset.name === 'text') live.composing(); },
  // Enter in a plain field presses the screen's main (first submit) button.
  onEnter: () => {
    for (const b of screenEl.querySelectorAll('button.k-tappable')) {
      if (b.kAction?.type === 'submit') return b.click();
    }
    return undefined;
  },
  mounts: [],
  afterMount(fn) { ctx.mounts.push(fn); },
  observeEnd(listEl, sentinel) {
    const io = new IntersectionObserver((entries) => {
      if (!entries.some((e) => e.isIntersecting) || !sentinel.isConnected) return;
      if (listEl.kNext) run(listEl.kNext, listEl);
    }, { root: listEl, rootMargin: '200px' });
    io.observe(sentinel);
  },
};

// show fetches and draws the route's screen. keep (a refresh of the same
// screen) carries typed text and list scroll positions over.
let shownHash = '';

async function show({ keep = false } = {}) {
  const route = parseHash();
  shownHash = location.hash;
  if (!route.screen || (!session() && !PUBLIC_SCREENS.has(route.screen))) {
    history.replaceState({ depth: 0 }, '', hashOf(session() ? HOME : LOGIN, {}));
    return show();
  }
  const seq = ++loadSeq;
  loading = true;
  let layout;
  try {
    layout = await fetchScreen(route.screen, route.params, preferredTheme());
  } catch (e) {
    if (seq !== loadSeq) return undefined; // a newer navigation won
    loading = false;
    queued.length = 0;
    if (e?.status !== 401 && !keep) showError(e); // on 401 signedOut() took over
    return undefined;
  }
  if (seq !== loadSeq) return undefined;
  loading = false;
  const same = keep && app.layout && route.screen === app.route.screen;
  const saved = same ? snapshot() : null;
  app.route = route;
  app.layout = layout;
  applyTheme(layout);
  document.title = String(layout.title ?? '');
  ctx.mounts = [];
  const root = renderLayout(layout, ctx);
  screenEl.replaceChildren(root);
  if (saved) restore(saved);
  else for (const fn of ctx.mounts) fn();
  for (const f of queued.splice(0)) app.applyPatch(f);
  live.screenShown();
  return undefined;
}

function snapshot() {
  const values = {};
  for (const c of screenEl.querySelectorAll('[data-name]')) values[c.dataset.name] = c.value;
  const scroll = {};
  for (const l of screenEl.querySelectorAll('.k-list[data-kid]')) {
    scroll[l.dataset.kid] = { top: l.scrollTop, bottom: l.scrollHeight - l.scrollTop - l.clientHeight < 80 };
  }
  return { values, scroll, focus: document.activeElement?.dataset?.name };
}

function restore(s) {
  for (const c of screenEl.querySelectorAll('[data-name]')) {
    if (s.values[c.dataset.name]) c.value = s.values[c.dataset.name];
    if (c.dataset.name === s.focus) c.focus();
  }
  for (const l of screenEl.querySelectorAll('.k-list[data-kid]')) {
    const p = s.scroll[l.dataset.kid];
    if (p) l.scrollTop = p.bottom ? l.scrollHeight : p.top;
  }
}

// showError draws the error page: what happened in the user's language,
// a retry and a way back to the home screen (or login).
function showError(e) {
  const box = document.createElement('div');
  box.className = 'k-error';
  const title = document.createElement('h1');
  title.className = 'k-title';
  title.textContent = t('error_title');
  const msg = document.createElement('p');
  msg.className = 'k-error-text';
  msg.textContent = errorText(e);
  const retry = document.createElement('button');
  retry.type = 'button';
  retry.className = 'k-button k-primary';
  retry.textContent = t('retry');
  retry.addEventListener('click', () => show());
  const home = document.createElement('button');
  home.type = 'button';
  home.className = 'k-button k-plain';
  home.textContent = t(session() ? 'home' : 'to_login');
  home.addEventListener('click', () => app.navigate(session() ? HOME : LOGIN, {}, true));
  box.append(title, msg, retry, home);
  screenEl.replaceChildren(box);
}

// Boot: theme first (no flash of the wrong colours), then the screen.
document.documentElement.dataset.theme = preferredTheme();
setSignedOutHandler(() => app.signedOut());
// Back/forward fire popstate and hashchange both; show each hash once.
const onHistory = () => { if (location.hash !== shownHash) show(); };
addEventListener('popstate', onHistory);
addEventListener('hashchange', onHistory);
onThemeChange(() => show({ keep: true }));
// The socket opens after the first screen so its patches have a screen.
show().finally(() => { if (session()) live.start(); });
