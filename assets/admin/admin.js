// admin.js: the admin page (/admin/), plain DOM over the admin API
// (docs/api.md, "Admin"). Every view is a function of the URL hash; every
// call goes through api(), which holds the token and refreshes it once on
// 401. Text from the server only ever reaches the page as text nodes.

const KEY = 'korobka.admin';
const RU = (navigator.language || '').toLowerCase().startsWith('ru');

const STRINGS = {
  signin_title: ['Admin sign-in', 'Вход для администратора'],
  signin_hint: ['Sign in with the phone number of an admin or operator account.', 'Войдите по номеру телефона администратора или оператора.'],
  phone: ['Phone number', 'Номер телефона'],
  code: ['Code from the SMS', 'Код из СМС'],
  get_code: ['Get code', 'Получить код'],
  sign_in: ['Sign in', 'Войти'],
  sign_out: ['Sign out', 'Выйти'],
  admin: ['admin', 'админ'],
  not_staff: ['This account is not an admin or operator.', 'У этой учётной записи нет прав администратора или оператора.'],
  nav_stats: ['Overview', 'Обзор'],
  nav_users: ['Users', 'Пользователи'],
  nav_dialogs: ['Dialogs', 'Диалоги'],
  nav_broadcasts: ['Broadcasts', 'Рассылки'],
  nav_screens: ['Screens', 'Экраны'],
  nav_audit: ['Audit log', 'Журнал действий'],
  users_total: ['Users', 'Пользователи'],
  users_blocked: ['Blocked', 'Заблокированы'],
  actives_today: ['Active today', 'Активны сегодня'],
  messages_today: ['Messages today', 'Сообщений сегодня'],
  pushes_today: ['Pushes today', 'Пушей сегодня'],
  messages_per_day: ['Messages per day, last 30 days', 'Сообщений в день за 30 дней'],
  actives_per_day: ['Daily active users, last 30 days', 'Активных пользователей в день за 30 дней'],
  search: ['Search', 'Поиск'],
  search_hint: ['Name or phone', 'Имя или телефон'],
  role: ['Role', 'Роль'],
  any: ['Any', 'Все'],
  state: ['State', 'Состояние'],
  active: ['Active', 'Активен'],
  blocked: ['Blocked', 'Заблокирован'],
  name: ['Name', 'Имя'],
  registered: ['Registered', 'Регистрация'],
  last_seen: ['Last seen', 'Был в сети'],
  more: ['Show more', 'Показать ещё'],
  nothing: ['Nothing here yet.', 'Здесь пока пусто.'],
  block: ['Block', 'Заблокировать'],
  unblock: ['Unblock', 'Разблокировать'],
  reason: ['Reason (kept in the audit log)', 'Причина (попадёт в журнал)'],
  set_role: ['Save role', 'Сохранить роль'],
  back: ['← Back', '← Назад'],
  dialog: ['Dialog', 'Диалог'],
  members: ['Members', 'Участники'],
  messages: ['Messages', 'Сообщения'],
  last_message: ['Last message', 'Последнее сообщение'],
  view_logged: ['Opening a dialog is written to the audit log.', 'Просмотр диалога записывается в журнал действий.'],
  new_broadcast: ['New broadcast', 'Новая рассылка'],
  text: ['Message', 'Сообщение'],
  to: ['To', 'Кому'],
  everyone: ['Everyone', 'Все пользователи'],
  reg_from: ['Registered from', 'Зарегистрированы с'],
  reg_to: ['Registered before', 'Зарегистрированы до'],
  send: ['Send', 'Отправить'],
  sent: ['Sent', 'Отправлено'],
  status: ['Status', 'Статус'],
  created: ['Created', 'Создана'],
  when: ['When', 'Когда'],
  who: ['Who', 'Кто'],
  action: ['Action', 'Действие'],
  target: ['Target', 'Объект'],
  details: ['Details', 'Подробности'],
  filter_action: ['Action', 'Действие'],
  filter_actor: ['Actor id', 'Id исполнителя'],
  apply: ['Apply', 'Применить'],
  saved: ['Saved.', 'Сохранено.'],
  screen: ['Screen', 'Экран'],
  version: ['Version', 'Версия'],
  upload: ['Check and publish', 'Проверить и опубликовать'],
  rollback: ['Roll back', 'Откатить'],
  builtin: ['built in', 'встроенный'],
  cli: ['command line', 'командная строка'],
};
const t = (k) => (STRINGS[k] ? STRINGS[k][RU ? 1 : 0] : k);
const fmt = new Intl.DateTimeFormat(RU ? 'ru-RU' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' });
const num = new Intl.NumberFormat(RU ? 'ru-RU' : 'en-GB');
const when = (s) => (s ? fmt.format(new Date(s)) : '—');

// h builds an element: h('td', {class: 'x', onclick}, 'text', child, ...).
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

// ---- session and API ----

let session = null;
try { session = JSON.parse(localStorage.getItem(KEY) ?? 'null'); } catch { session = null; }
const save = (s) => { session = s; if (s) localStorage.setItem(KEY, JSON.stringify(s)); else localStorage.removeItem(KEY); };

class ApiError extends Error {
  constructor(status, code, message, diagnostics) {
    super(message || code);
    this.status = status;
    this.code = code;
    // Where a screen upload failed: "file:line:col: message".
    this.diagnostics = diagnostics?.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`);
  }
}

async function raw(method, path, body, token) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let data;
  if (body !== undefined) {
    if (typeof body === 'string') { headers['Content-Type'] = 'text/plain; charset=utf-8'; data = body; }
    else { headers['Content-Type'] = 'application/json'; data = JSON.stringify(body); }
  }
  const res = await fetch(path, { method, headers, body: data });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = text; }
  if (!res.ok) throw new ApiError(res.status, json?.error?.code, json?.error?.message, json?.diagnostics);
  return json;
}

let refreshing = null;
async function refresh() {
  refreshing ??= (async () => {
    try {
      const a = await raw('POST', '/v1/auth/refresh', { refresh_token: session.refresh_token });
      save({ ...session, access_token: a.access_token, refresh_token: a.refresh_token });
      return true;
    } catch (e) {
      if (e instanceof ApiError) return false;
      throw e;
    } finally { refreshing = null; }
  })();
  return refreshing;
}

async function api(method, path, body) {
  if (!session) throw new ApiError(401, 'missing_token');
  try {
    return await raw(method, path, body, session.access_token);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    if (!(await refresh())) { signedOut(); throw e; }
    return raw(method, path, body, session.access_token);
  }
}

// ---- sign-in ----

const $ = (id) => document.getElementById(id);
let phoneSent = '';

function showLogin(message) {
  $('a-app').hidden = true;
  $('a-login').hidden = false;
  $('a-code-row').hidden = !phoneSent;
  $('a-login-button').textContent = phoneSent ? t('sign_in') : t('get_code');
  $('a-login-error').hidden = !message;
  $('a-login-error').textContent = message ?? '';
  (phoneSent ? $('a-code') : $('a-phone')).focus();
}

function signedOut(message) {
  save(null);
  phoneSent = '';
  showLogin(message);
}

async function onLogin(ev) {
  ev.preventDefault();
  const button = $('a-login-button');
  button.disabled = true;
  try {
    if (!phoneSent) {
      const r = await raw('POST', '/v1/auth/otp', { phone: $('a-phone').value });
      phoneSent = r.phone;
      showLogin();
    } else {
      const a = await raw('POST', '/v1/auth/verify', { phone: phoneSent, code: $('a-code').value.trim(), device: 'admin page' });
      save({ access_token: a.access_token, refresh_token: a.refresh_token, user: a.user });
      phoneSent = '';
      $('a-code').value = '';
      await start();
    }
  } catch (e) {
    showLogin(e.message);
  } finally {
    button.disabled = false;
  }
}

// ---- the app ----

let me = null; // the signed-in staff member (AdminUser)

async function start() {
  try {
    me = await api('GET', `/v1/admin/users/${session.user.id}`);
  } catch (e) {
    if (e.status === 403) { signedOut(t('not_staff')); return; }
    if (e.status === 401) return;
    showLogin(e.message);
    return;
  }
  $('a-login').hidden = true;
  $('a-app').hidden = false;
  $('a-who').textContent = `${[me.first_name, me.last_name].join(' ').trim() || me.phone} · ${me.role}`;
  for (const a of document.querySelectorAll('.a-side > a[data-role]')) a.hidden = me.role !== a.dataset.role;
  if (!location.hash || location.hash === '#/') location.hash = me.role === 'admin' ? '#/stats' : '#/users';
  else route();
}

const views = {
  stats: viewStats, users: viewUsers, user: viewUser, dialogs: viewDialogs, dialog: viewDialog,
  broadcasts: viewBroadcasts, screens: viewScreens, screen: viewScreen, audit: viewAudit,
};

async function route() {
  if (!session || !me) return;
  const [path] = location.hash.slice(1).split('?');
  const [, name = 'stats', id] = path.split('/');
  const view = id ? views[name.replace(/s$/, '')] : views[name];
  for (const a of document.querySelectorAll('.a-side > a')) a.classList.toggle('a-current', a.dataset.view === name);
  const root = $('a-view');
  root.replaceChildren();
  $('a-status').textContent = '';
  if (!view) { $('a-title').textContent = ''; return; }
  try {
    await view(root, id && decodeURIComponent(id));
  } catch (e) {
    root.replaceChildren(h('div', { class: 'a-notice a-bad', role: 'alert' }, e.message));
  }
}

const title = (k, extra) => { $('a-title').textContent = extra ? `${t(k)} · ${extra}` : t(k); };
const badge = (cls, text) => h('span', { class: `a-badge a-${cls}` }, text);
const userName = (u) => [u.first_name, u.last_name].join(' ').trim() || '—';

function table(head, rows, empty = t('nothing')) {
  return h('div', { class: 'a-table-wrap' },
    h('table', {}, h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))),
      h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { class: 'a-empty', colspan: head.length }, empty)))));
}

// pager appends pages of a list to tbody while the server says next.
function pager(root, load, head, row) {
  const body = h('tbody');
  const wrap = h('div', { class: 'a-table-wrap' }, h('table', {}, h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, c)))), body));
  const more = h('button', { class: 'a-button a-more', type: 'button', hidden: true }, t('more'));
  let cursor = '';
  const next = async () => {
    more.disabled = true;
    const { items, next: n } = await load(cursor);
    for (const it of items) body.append(row(it));
    if (!body.children.length) body.append(h('tr', {}, h('td', { class: 'a-empty', colspan: head.length }, t('nothing'))));
    cursor = n || '';
    more.hidden = !cursor;
    more.disabled = false;
  };
  more.addEventListener('click', () => next().catch((e) => { $('a-status').textContent = e.message; }));
  root.append(wrap, more);
  return next();
}

async function viewStats(root) {
  title('nav_stats');
  const st = await api('GET', '/v1/admin/stats?days=30');
  const today = st.days[st.days.length - 1] ?? { actives: 0, messages: 0, pushes: 0 };
  const fig = (k, v) => h('div', { class: 'a-figure' }, h('span', { class: 'a-muted' }, t(k)), h('b', {}, num.format(v)));
  root.append(h('div', { class: 'a-figures' },
    fig('users_total', st.users.total), fig('users_blocked', st.users.blocked), fig('actives_today', today.actives),
    fig('messages_today', today.messages), fig('pushes_today', today.pushes)));
  for (const [k, field] of [['messages_per_day', 'messages'], ['actives_per_day', 'actives']]) {
    const max = Math.max(1, ...st.days.map((d) => d[field]));
    const chart = h('div', { class: 'a-chart', 'data-chart': field });
    for (const d of st.days) {
      const bar = h('div', { class: 'a-bar', title: `${d.day}: ${num.format(d[field])}` });
      bar.style.height = `${Math.round((d[field] / max) * 100)}%`;
      chart.append(bar);
    }
    root.append(h('section', { class: 'a-card' }, h('h2', {}, t(k)), chart,
      h('div', { class: 'a-chart-legend' }, h('span', {}, st.days[0]?.day), h('span', {}, `max ${num.format(max)}`), h('span', {}, today.day))));
  }
}

async function viewUsers(root) {
  title('nav_users');
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const q = h('input', { type: 'search', name: 'q', placeholder: t('search_hint'), value: params.get('q') ?? '' });
  const role = h('select', { name: 'role' }, h('option', { value: '' }, t('any')), ['user', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
  role.value = params.get('role') ?? '';
  const blocked = h('select', { name: 'blocked' }, h('option', { value: '' }, t('any')), h('option', { value: 'false' }, t('active')), h('option', { value: 'true' }, t('blocked')));
  blocked.value = params.get('blocked') ?? '';
  const form = h('form', { class: 'a-toolbar', onsubmit: (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (q.value.trim()) p.set('q', q.value.trim());
    if (role.value) p.set('role', role.value);
    if (blocked.value) p.set('blocked', blocked.value);
    location.hash = `#/users${p.size ? '?' + p : ''}`;
  } },
  h('label', {}, t('search'), q), h('label', {}, t('role'), role), h('label', {}, t('state'), blocked),
  h('button', { class: 'a-button a-primary', type: 'submit' }, t('apply')));
  root.append(form);
  const filter = new URLSearchParams(params);
  await pager(root, async (cursor) => {
    if (cursor) filter.set('cursor', cursor);
    const page = await api('GET', `/v1/admin/users?${filter}`);
    return { items: page.users, next: page.next };
  }, [t('name'), t('phone'), t('role'), t('state'), t('registered'), t('last_seen')], (u) => h('tr', {
    class: 'a-row', 'data-user': u.id, onclick: () => { location.hash = `#/users/${u.id}`; },
  }, h('td', {}, userName(u)), h('td', {}, u.phone), h('td', {}, badge(u.role, u.role)),
  h('td', {}, u.blocked ? badge('blocked', t('blocked')) : badge('active', t('active'))),
  h('td', {}, when(u.created_at)), h('td', {}, when(u.last_seen_at))));
}

async function viewUser(root, id) {
  const u = await api('GET', `/v1/admin/users/${id}`);
  title('nav_users', userName(u));
  const card = h('section', { class: 'a-card' },
    h('dl', { class: 'a-details' },
      h('dt', {}, t('name')), h('dd', { 'data-field': 'name' }, userName(u)),
      h('dt', {}, t('phone')), h('dd', {}, u.phone),
      h('dt', {}, t('role')), h('dd', {}, badge(u.role, u.role)),
      h('dt', {}, t('state')), h('dd', { 'data-field': 'state' }, u.blocked ? badge('blocked', `${t('blocked')} · ${when(u.blocked_at)}`) : badge('active', t('active'))),
      h('dt', {}, t('registered')), h('dd', {}, when(u.created_at)),
      h('dt', {}, t('last_seen')), h('dd', {}, when(u.last_seen_at))));
  root.append(h('a', { href: '#/users' }, t('back')), card);
  if (me.role !== 'admin' || u.id === me.id) return;
  const reason = h('input', { name: 'reason', maxlength: '200' });
  const act = async (fn) => {
    try { await fn(); $('a-status').textContent = t('saved'); await route(); } catch (e) { $('a-status').textContent = e.message; }
  };
  const block = u.blocked
    ? h('button', { class: 'a-button', type: 'button', 'data-action': 'unblock', onclick: () => act(() => api('POST', `/v1/admin/users/${u.id}/unblock`)) }, t('unblock'))
    : h('button', { class: 'a-button a-danger', type: 'button', 'data-action': 'block', onclick: () => act(() => api('POST', `/v1/admin/users/${u.id}/block`, { reason: reason.value })) }, t('block'));
  const role = h('select', { name: 'role' }, ['user', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
  role.value = u.role;
  root.append(h('section', { class: 'a-card a-actions' },
    u.blocked ? null : h('label', {}, t('reason'), reason), block,
    h('label', {}, t('role'), role),
    h('button', { class: 'a-button', type: 'button', 'data-action': 'role', onclick: () => act(() => api('PUT', `/v1/admin/users/${u.id}/role`, { role: role.value })) }, t('set_role'))));
}

// dialogTitle is a group's title, or the members' names of a direct dialog.
const dialogTitle = (d) => d.title || (d.members ?? []).map((m) => (userName(m) === '—' ? m.phone : userName(m))).join(' ↔ ') || `#${d.id}`;

async function viewDialogs(root) {
  title('nav_dialogs');
  await pager(root, async (cursor) => {
    const page = await api('GET', `/v1/admin/dialogs${cursor ? '?cursor=' + encodeURIComponent(cursor) : ''}`);
    return { items: page.dialogs, next: page.next };
  }, [t('dialog'), t('members'), t('messages'), t('last_message'), t('created')], (d) => h('tr', {
    class: 'a-row', 'data-dialog': d.id, onclick: () => { location.hash = `#/dialogs/${d.id}`; },
  }, h('td', {}, dialogTitle(d)), h('td', { class: 'a-wrap' }, (d.members ?? []).map((m) => `${userName(m)} (${m.phone})`).join(', ')),
  h('td', { class: 'a-num' }, num.format(d.messages)), h('td', {}, when(d.last_message_at)), h('td', {}, when(d.created_at))));
}

async function viewDialog(root, id) {
  const d = await api('GET', `/v1/admin/dialogs/${id}?limit=100`);
  title('dialog', dialogTitle(d));
  const names = new Map((d.members ?? []).map((m) => [m.id, userName(m) === '—' ? m.phone : userName(m)]));
  root.append(h('a', { href: '#/dialogs' }, t('back')),
    h('p', { class: 'a-muted' }, t('view_logged')),
    h('section', { class: 'a-card' }, h('h2', {}, t('members')),
      h('p', {}, (d.members ?? []).map((m) => `${names.get(m.id)} · ${m.phone}`).join('; '))),
    h('section', { class: 'a-card a-messages' }, h('h2', {}, t('messages')),
      (d.history ?? []).length ? d.history.map((m) => h('article', { class: 'a-message' },
        h('header', {}, `${names.get(m.sender_id) ?? m.sender_id} · ${when(m.created_at)}`),
        h('p', {}, m.deleted ? '—' : m.text))) : h('p', { class: 'a-muted' }, t('nothing'))));
}

async function viewBroadcasts(root) {
  title('nav_broadcasts');
  const text = h('textarea', { name: 'text', maxlength: '4096', required: true });
  const role = h('select', { name: 'role' }, h('option', { value: '' }, t('everyone')), ['user', 'operator', 'admin'].map((r) => h('option', { value: r }, r)));
  const from = h('input', { type: 'date', name: 'registered_from' });
  const to = h('input', { type: 'date', name: 'registered_to' });
  const send = h('button', { class: 'a-button a-primary', type: 'submit' }, t('send'));
  root.append(h('form', { class: 'a-card', id: 'a-broadcast', onsubmit: async (e) => {
    e.preventDefault();
    const segment = {};
    if (role.value) segment.role = role.value;
    if (from.value) segment.registered_from = `${from.value}T00:00:00Z`;
    if (to.value) segment.registered_to = `${to.value}T00:00:00Z`;
    send.disabled = true;
    try {
      await api('POST', '/v1/admin/broadcasts', { text: text.value, segment });
      text.value = '';
      await route();
    } catch (err) { $('a-status').textContent = err.message; } finally { send.disabled = false; }
  } }, h('h2', {}, t('new_broadcast')), h('div', { class: 'a-view' }, h('label', {}, t('text'), text),
    h('div', { class: 'a-toolbar' }, h('label', {}, t('to'), role), h('label', {}, t('reg_from'), from), h('label', {}, t('reg_to'), to), send))));
  await pager(root, async (cursor) => {
    const page = await api('GET', `/v1/admin/broadcasts${cursor ? '?before=' + cursor : ''}`);
    return { items: page.broadcasts, next: page.next };
  }, [t('created'), t('text'), t('to'), t('status'), t('sent')], (b) => h('tr', { 'data-broadcast': b.id },
    h('td', {}, when(b.created_at)), h('td', { class: 'a-wrap' }, b.text),
    h('td', {}, [b.segment?.role, b.segment?.registered_from?.slice(0, 10), b.segment?.registered_to?.slice(0, 10)].filter(Boolean).join(' · ') || t('everyone')),
    h('td', {}, badge(b.status, b.status)), h('td', { class: 'a-num' }, num.format(b.sent))));
}

async function viewScreens(root) {
  title('nav_screens');
  const list = await api('GET', '/v1/admin/screens');
  root.append(table([t('screen'), t('version'), t('created')], list.screens.map((s) => h('tr', {
    class: 'a-row', 'data-screen': s.name, onclick: () => { location.hash = `#/screens/${s.name}`; },
  }, h('td', {}, s.name), h('td', {}, s.version ? `v${s.version}` : t('builtin')), h('td', {}, when(s.uploaded_at))))));
}

async function viewScreen(root, name) {
  title('screen', name);
  const s = await api('GET', `/v1/admin/screens/${encodeURIComponent(name)}`);
  const source = h('textarea', { class: 'a-source', name: 'source', spellcheck: 'false' });
  source.value = s.source;
  const out = h('div');
  const show = (ok, lines) => out.replaceChildren(ok
    ? h('p', { class: 'a-notice' }, t('saved'))
    : h('ol', { class: 'a-diags' }, lines.map((l) => h('li', {}, l))));
  root.append(h('a', { href: '#/screens' }, t('back')), h('section', { class: 'a-card a-view' }, source, out,
    h('div', { class: 'a-actions' },
      h('button', { class: 'a-button a-primary', type: 'button', 'data-action': 'upload', onclick: async () => {
        try { await api('PUT', `/v1/admin/screens/${encodeURIComponent(name)}`, source.value); show(true); } catch (e) {
          show(false, e.diagnostics ?? [e.message]);
        }
      } }, t('upload')),
      s.version ? h('button', { class: 'a-button', type: 'button', 'data-action': 'rollback', onclick: async () => {
        try { await api('POST', `/v1/admin/screens/${encodeURIComponent(name)}/rollback`); await route(); } catch (e) { show(false, [e.message]); }
      } }, t('rollback')) : null)));
}

async function viewAudit(root) {
  title('nav_audit');
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const action = h('input', { name: 'action', value: params.get('action') ?? '', placeholder: 'user.block' });
  const actor = h('input', { name: 'actor', value: params.get('actor') ?? '' });
  root.append(h('form', { class: 'a-toolbar', onsubmit: (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    if (action.value.trim()) p.set('action', action.value.trim());
    if (actor.value.trim()) p.set('actor', actor.value.trim());
    location.hash = `#/audit${p.size ? '?' + p : ''}`;
  } }, h('label', {}, t('filter_action'), action), h('label', {}, t('filter_actor'), actor),
  h('button', { class: 'a-button a-primary', type: 'submit' }, t('apply'))));
  const filter = new URLSearchParams(params);
  await pager(root, async (cursor) => {
    if (cursor) filter.set('before', cursor);
    const page = await api('GET', `/v1/admin/audit?${filter}`);
    return { items: page.entries, next: page.next };
  }, [t('when'), t('who'), t('action'), t('target'), t('details')], (e) => {
    const who = h('td', {}, e.actor_id === '0' ? t('cli') : `${e.actor_id} · ${e.actor_role}`);
    const target = h('td', {}, `${e.target_type} ${e.target_id}`);
    if (e.actor_id !== '0') nameOf(e.actor_id).then((n) => { who.textContent = `${n} · ${e.actor_role}`; });
    if (e.target_type === 'user') nameOf(e.target_id).then((n) => { target.replaceChildren(h('a', { href: `#/users/${e.target_id}` }, n)); });
    if (e.target_type === 'dialog') target.replaceChildren(h('a', { href: `#/dialogs/${e.target_id}` }, `${t('dialog')} #${e.target_id}`));
    const details = Object.entries(e.details ?? {}).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('; ');
    return h('tr', { 'data-audit': e.action }, h('td', {}, when(e.at)), who, h('td', {}, h('code', {}, e.action)), target,
      h('td', { class: 'a-wrap' }, details));
  });
}

// nameOf resolves a user id to "name (phone)" once per page load.
const names = new Map();
function nameOf(id) {
  if (!names.has(id)) {
    names.set(id, api('GET', `/v1/admin/users/${id}`).then((u) => (userName(u) === '—' ? u.phone : `${userName(u)} (${u.phone})`), () => id));
  }
  return names.get(id);
}

// ---- boot ----

for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
document.documentElement.lang = RU ? 'ru' : 'en';
$('a-login-form').addEventListener('submit', onLogin);
$('a-logout').addEventListener('click', async () => {
  try { await api('POST', '/v1/auth/logout'); } catch { /* signed out anyway */ }
  me = null;
  signedOut();
});
window.addEventListener('hashchange', route);
if (session) start(); else showLogin();
