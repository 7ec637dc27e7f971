// preview.js: the designer preview. It draws one screen in a phone-sized
// frame with the shell's own render.js, beside the screen's YAML, and
// redraws when a file changes. Lint errors show in place of the screen.
//
// Endpoints (served by korobka in development):
//   GET /preview/api/screens  -> {"screens":[{"name","fixtures":[...]}],"langs":[...]}
//   GET /preview/api/source?name=            -> the YAML, text/plain
//   GET /preview/api/render?name=&lang=&theme=&caps=&fixture=
//        -> 200 with a layout, or 200 (422 also understood) with
//           {"diagnostics":[{"file","line","col","message"}]} on lint errors
//   GET /preview/api/events  (EventSource)   -> event "reload" on a file change
// Outside development mode the API is for admins: sign in at /app/ (same
// origin, so the session in localStorage is shared) and the preview sends
// that token; EventSource cannot send headers, so it goes as ?access_token=.
import { renderLayout } from './render.js';
import { applyTheme } from './theme.js';
import { canRun } from './actions.js';
import { session } from './auth.js';

const OPTIONAL = ['composer', 'video', 'file', 'web', 'tabs'];
const $ = (id) => document.getElementById(id);
const frame = $('p-frame');
const sourceEl = $('p-source');
const diagsEl = $('p-diags');

// The state lives in the hash so a reload (or a link to a colleague) keeps
// the same screen, fixture and switches.
function readState() {
  const q = new URLSearchParams(location.hash.slice(1));
  return {
    name: q.get('name') ?? '',
    fixture: q.get('fixture') ?? '',
    lang: q.get('lang') ?? '',
    theme: q.get('theme') === 'dark' ? 'dark' : 'light',
    caps: new Set((q.get('caps') ?? OPTIONAL.join(',')).split(',').filter((c) => OPTIONAL.includes(c))),
    // fill=1 shows the screen alone, filling the window as on a device of
    // the window's size (for checking other screen sizes, and for tests).
    fill: q.get('fill') === '1',
  };
}

const state = readState();
let screens = [];

function writeState() {
  const q = new URLSearchParams({ name: state.name, fixture: state.fixture, lang: state.lang, theme: state.theme, caps: [...state.caps].join(',') });
  if (state.fill) q.set('fill', '1');
  history.replaceState(null, '', '#' + q);
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function fill(select, values, current) {
  select.replaceChildren(...values.map(([v, label]) => {
    const o = el('option', label);
    o.value = v;
    o.selected = v === current;
    return o;
  }));
}

function status(text) { $('p-status').textContent = text; }

const token = () => session()?.access_token ?? '';
const authed = () => (token() ? { Authorization: `Bearer ${token()}` } : {});

async function getJSON(url) {
  const res = await fetch(url, { cache: 'no-store', headers: authed() });
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  return { ok: res.ok, status: res.status, body };
}

// loadList reads the screens; accepts plain names too, to stay usable if
// the endpoint answers ["chat", ...].
async function loadList() {
  const { status: code, body } = await getJSON('/preview/api/screens');
  if (code === 401 || code === 403) status(body?.error?.message ?? 'sign in as an admin at /app/');
  const list = Array.isArray(body) ? body : body?.screens ?? [];
  screens = list.map((s) => (typeof s === 'string' ? { name: s, fixtures: [] } : s)).filter((s) => typeof s?.name === 'string');
  if (!screens.some((s) => s.name === state.name)) state.name = screens[0]?.name ?? '';
  fill($('p-screen'), screens.map((s) => [s.name, s.name]), state.name);
  const langs = Array.isArray(body?.langs) && body.langs.length ? body.langs : ['en', 'ru'];
  if (!langs.includes(state.lang)) state.lang = langs[0];
  fill($('p-lang'), langs.map((l) => [l, l]), state.lang);
  fillFixtures();
}

function fillFixtures() {
  const fx = screens.find((s) => s.name === state.name)?.fixtures ?? [];
  if (state.fixture && !fx.includes(state.fixture)) state.fixture = '';
  fill($('p-fixture'), [['', '(default)'], ...fx.map((f) => [f, f])], state.fixture);
}

async function loadSource() {
  if (!state.name) return;
  const res = await fetch(`/preview/api/source?name=${encodeURIComponent(state.name)}`, { cache: 'no-store', headers: authed() });
  const text = res.ok ? await res.text() : '';
  sourceEl.replaceChildren(...text.split('\n').map((line) => el('div', line, 'p-line')));
}

// problems shows lint findings inside the phone and marks their lines.
function problems(list) {
  const box = el('div', undefined, 'p-problems');
  box.append(el('h2', 'This screen does not render'));
  const ol = el('ol');
  diagsEl.replaceChildren();
  for (const d of list) {
    const text = `${d.file}:${d.line}:${d.col}: ${d.message}`;
    ol.append(el('li', text));
    const li = el('li', text);
    const lineEl = String(d.file ?? '').endsWith(`${state.name}.yaml`) ? sourceEl.children[Number(d.line) - 1] : null;
    if (lineEl) {
      lineEl.classList.add('p-err');
      li.addEventListener('click', () => lineEl.scrollIntoView({ block: 'center' }));
    }
    diagsEl.append(li);
  }
  box.append(ol);
  frame.replaceChildren(box);
}

async function loadRender() {
  if (!state.name) return;
  writeState();
  const q = new URLSearchParams({
    name: state.name, lang: state.lang, theme: state.theme,
    caps: [...state.caps].map((c) => `${c}@1`).join(','), fixture: state.fixture,
  });
  const { ok, status: code, body } = await getJSON(`/preview/api/render?${q}`);
  for (const l of sourceEl.querySelectorAll('.p-err')) l.classList.remove('p-err');
  if (Array.isArray(body?.diagnostics) && body.diagnostics.length) return problems(body.diagnostics);
  if (!ok || !body?.root) {
    return problems([{ file: `${state.name}.yaml`, line: 1, col: 1, message: body?.error?.message ?? `HTTP ${code}` }]);
  }
  diagsEl.replaceChildren();
  applyTheme(body, frame, false);
  frame.replaceChildren(renderLayout(body, ctx));
  for (const fn of ctx.mounts.splice(0)) fn();
  return undefined;
}

// In the preview, actions are shown, not performed; navigate follows the
// link to the other screen so designers can click through a flow.
const ctx = {
  mounts: [],
  canRun,
  afterMount(fn) { ctx.mounts.push(fn); },
  run(action) {
    const li = el('li', `${action?.type ?? '?'} ${JSON.stringify({ ...action, type: undefined })}`);
    $('p-log').prepend(li);
    while ($('p-log').childElementCount > 20) $('p-log').lastChild.remove();
    if (action?.type === 'navigate' && screens.some((s) => s.name === action.screen)) {
      state.name = action.screen;
      $('p-screen').value = state.name;
      fillFixtures();
      loadSource().then(loadRender);
    }
  },
};

function controls() {
  const caps = $('p-caps');
  for (const c of OPTIONAL) {
    const box = el('input');
    box.type = 'checkbox';
    box.checked = state.caps.has(c);
    box.addEventListener('change', () => {
      if (box.checked) state.caps.add(c); else state.caps.delete(c);
      loadRender();
    });
    const label = el('label');
    label.append(box, ` ${c}`);
    caps.append(label);
  }
  $('p-screen').addEventListener('change', (e) => {
    state.name = e.target.value;
    state.fixture = '';
    fillFixtures();
    loadSource().then(loadRender);
  });
  $('p-fixture').addEventListener('change', (e) => { state.fixture = e.target.value; loadRender(); });
  $('p-lang').addEventListener('change', (e) => { state.lang = e.target.value; loadRender(); });
  $('p-theme').value = state.theme;
  $('p-theme').addEventListener('change', (e) => { state.theme = e.target.value; loadRender(); });
}

// Live reload: the server says "reload" after a file changed. When the
// new files fail lint it keeps serving the old ones, so the event's
// diagnostics are what tells the designer why nothing changed.
function live() {
  const es = new EventSource(`/preview/api/events${token() ? `?access_token=${encodeURIComponent(token())}` : ''}`);
  const reload = async (e) => {
    let info = null;
    try { info = JSON.parse(e.data); } catch { /* plain "reload" */ }
    await loadList();
    await loadSource();
    await loadRender();
    if (info?.applied === false && Array.isArray(info.diagnostics) && info.diagnostics.length) problems(info.diagnostics);
    status(`reloaded ${new Date().toLocaleTimeString()}`);
  };
  es.addEventListener('reload', reload);
  es.addEventListener('message', (e) => { if (e.data === 'reload') reload(e); });
  es.addEventListener('open', () => status('live reload on'));
  es.addEventListener('error', () => status('live reload: reconnecting…'));
  // A page left open in the back/forward cache would keep its stream and
  // use up the browser's few connections to this host.
  addEventListener('pagehide', () => es.close(), { once: true });
}
addEventListener('pageshow', (e) => { if (e.persisted) live(); });

document.body.classList.toggle('p-fill', state.fill);
controls();
loadList().then(loadSource).then(loadRender).catch((e) => status(String(e?.message ?? e)));
live();
