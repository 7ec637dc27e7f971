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
  nav_collections: ['Content', 'Контент'],
  nav_webhooks: ['Webhooks', 'Вебхуки'],
  nav_keys: ['Bot API keys', 'Ключи бот-API'],
  nav_operators: ['Client dialogs', 'Диалоги клиентов'],
  tag: ['Content tag', 'Тег контента'],
  tag_hint: ['who submitted or discussed content with this tag', 'кто отправлял формы или обсуждал контент с этим тегом'],
  collection: ['Collection', 'Коллекция'],
  collection_name: ['Name (a-z, 0-9, _)', 'Имя (a-z, 0-9, _)'],
  collection_title: ['Title', 'Название'],
  tags: ['Tags', 'Теги'],
  tags_hint: ['comma-separated, e.g. sale, spb', 'через запятую, например sale, spb'],
  is_form: ['Clients submit it as a form', 'Клиенты отправляют её как форму'],
  form: ['form', 'форма'],
  content: ['content', 'контент'],
  kind: ['Kind', 'Тип'],
  documents: ['Documents', 'Документы'],
  updated: ['Updated', 'Изменён'],
  schema: ['JSON Schema', 'JSON-схема'],
  definition: ['Definition', 'Описание коллекции'],
  define: ['Save definition', 'Сохранить описание'],
  new_collection: ['New collection', 'Новая коллекция'],
  order: ['Order', 'Порядок'],
  published: ['Published', 'Опубликован'],
  draft: ['Draft', 'Черновик'],
  doc_id: ['Document id (a-z, 0-9, _, -)', 'Id документа (a-z, 0-9, _, -)'],
  data: ['Data (JSON)', 'Данные (JSON)'],
  publish_it: ['Published: clients see it', 'Опубликован: клиенты его видят'],
  save: ['Save', 'Сохранить'],
  new_document: ['New document', 'Новый документ'],
  edit: ['Edit', 'Изменить'],
  delete: ['Delete', 'Удалить'],
  up: ['Move up', 'Выше'],
  down: ['Move down', 'Ниже'],
  image: ['Image', 'Картинка'],
  image_hint: ['Uploaded and set as the document\'s "image".', 'Загружается и ставится в поле «image» документа.'],
  not_json: ['The data is not JSON.', 'Данные — не JSON.'],
  url: ['URL', 'URL'],
  events: ['Events', 'События'],
  register: ['Register', 'Зарегистрировать'],
  new_webhook: ['New webhook', 'Новый вебхук'],
  secret_once: ['Copy the signing secret now: it is shown only once.', 'Скопируйте секрет подписи сейчас: он показывается один раз.'],
  key_once: ['Copy the key now: it is shown only once. korobka keeps only its hash.', 'Скопируйте ключ сейчас: он показывается один раз. korobka хранит только его хеш.'],
  remove: ['Remove', 'Удалить'],
  copy: ['Copy', 'Копировать'],
  deliveries: ['Delivery log', 'Журнал доставок'],
  attempts: ['Attempts', 'Попытки'],
  last_status: ['Last answer', 'Последний ответ'],
  event: ['Event', 'Событие'],
  key_name: ['Name (who uses it)', 'Название (кто им пользуется)'],
  create_key: ['Create key', 'Создать ключ'],
  prefix: ['Key starts with', 'Начало ключа'],
  revoke: ['Revoke', 'Отозвать'],
  revoked: ['Revoked', 'Отозван'],
  working: ['Working', 'Действует'],
  confirm_revoke: ['Revoke this key? The integration using it stops at once.', 'Отозвать ключ? Интеграция с ним сразу перестанет работать.'],
  confirm_remove: ['Remove this webhook? Its deliveries stop.', 'Удалить вебхук? Доставки прекратятся.'],
  confirm_delete: ['Delete this document?', 'Удалить документ?'],
  client: ['Client', 'Клиент'],
  subject: ['About', 'Тема'],
  assignee: ['Operator', 'Оператор'],
  unassigned: ['Not assigned', 'Не назначен'],
  assign: ['Assign', 'Назначить'],
  assign_to: ['Assign to', 'Назначить'],
  answered_by: ['answered by', 'ответил(а)'],
  reply: ['Reply as the business', 'Ответ от имени компании'],
  reply_hint: ['Enter sends, Shift+Enter starts a new line', 'Enter отправляет, Shift+Enter — новая строка'],
  client_side: ['The client sees every answer as the business; who answered is shown to staff only.', 'Клиент видит каждый ответ от имени компании; кто ответил, видят только сотрудники.'],
  operators_hint: ['Clients write to the business; an operator answers as the business. Assign each dialog to the operator who handles it.', 'Клиенты пишут компании; оператор отвечает от её имени. Назначьте каждый диалог оператору, который его ведёт.'],
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
  collections: viewCollections, collection: viewCollection, webhooks: viewWebhooks, webhook: viewWebhook,
  keys: viewKeys, operators: viewOperators, operator: viewOperatorDialog,
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
  const tag = h('input', { name: 'tag', maxlength: '32', placeholder: 'sale', title: t('tag_hint') });
  const send = h('button', { class: 'a-button a-primary', type: 'submit' }, t('send'));
  root.append(h('form', { class: 'a-card', id: 'a-broadcast', onsubmit: async (e) => {
    e.preventDefault();
    const segment = {};
    if (role.value) segment.role = role.value;
    if (from.value) segment.registered_from = `${from.value}T00:00:00Z`;
    if (to.value) segment.registered_to = `${to.value}T00:00:00Z`;
    if (tag.value.trim()) segment.tag = tag.value.trim();
    send.disabled = true;
    try {
      await api('POST', '/v1/admin/broadcasts', { text: text.value, segment });
      text.value = '';
      await route();
    } catch (err) { $('a-status').textContent = err.message; } finally { send.disabled = false; }
  } }, h('h2', {}, t('new_broadcast')), h('div', { class: 'a-view' }, h('label', {}, t('text'), text),
    h('div', { class: 'a-toolbar' }, h('label', {}, t('to'), role), h('label', {}, t('reg_from'), from), h('label', {}, t('reg_to'), to), h('label', {}, t('tag'), tag), send),
    h('p', { class: 'a-muted a-hint' }, `${t('tag')}: ${t('tag_hint')}.`))));
  await pager(root, async (cursor) => {
    const page = await api('GET', `/v1/admin/broadcasts${cursor ? '?before=' + cursor : ''}`);
    return { items: page.broadcasts, next: page.next };
  }, [t('created'), t('text'), t('to'), t('status'), t('sent')], (b) => h('tr', { 'data-broadcast': b.id },
    h('td', {}, when(b.created_at)), h('td', { class: 'a-wrap' }, b.text),
    h('td', {}, [b.segment?.role, b.segment?.registered_from?.slice(0, 10), b.segment?.registered_to?.slice(0, 10),
      b.segment?.tag && `#${b.segment.tag}`].filter(Boolean).join(' · ') || t('everyone')),
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

// ---- the platform: content, webhooks, bot keys, client dialogs ----

const act = async (fn, done = route) => {
  try { await fn(); $('a-status').textContent = t('saved'); await done(); } catch (e) { $('a-status').textContent = e.message; }
};
const tagList = (v) => v.split(',').map((x) => x.trim()).filter(Boolean);
const pretty = (v) => JSON.stringify(v, null, 2);
// once shows a secret the server answers only at creation, with a copy button.
const once = (label, value) => h('div', { class: 'a-notice a-once', role: 'status' },
  h('p', {}, label), h('div', { class: 'a-secret-row' }, h('code', { class: 'a-secret', 'data-secret': '' }, value),
    h('button', { class: 'a-button', type: 'button', onclick: () => navigator.clipboard?.writeText(value) }, t('copy'))));

async function viewCollections(root) {
  title('nav_collections');
  const { collections } = await api('GET', '/v1/admin/collections');
  root.append(table([t('collection'), t('collection_title'), t('kind'), t('tags'), t('updated')], collections.map((c) => h('tr', {
    class: 'a-row', 'data-collection': c.name, onclick: () => { location.hash = `#/collections/${c.name}`; },
  }, h('td', {}, h('code', {}, c.name)), h('td', {}, c.title || '—'), h('td', {}, badge(c.form ? 'operator' : 'content', c.form ? t('form') : t('content'))),
  h('td', {}, (c.tags ?? []).map((x) => badge('tagged', `#${x}`))), h('td', {}, when(c.updated_at))))));
  root.append(collectionForm(null));
}

// collectionForm defines a new collection (c null) or redefines c.
function collectionForm(c) {
  const name = h('input', { name: 'name', required: true, pattern: '[a-z][a-z0-9_]{0,63}', value: c?.name ?? '', readonly: !!c });
  const ttl = h('input', { name: 'title', maxlength: '200', value: c?.title ?? '' });
  const tags = h('input', { name: 'tags', placeholder: t('tags_hint'), value: (c?.tags ?? []).join(', ') });
  const form = h('input', { type: 'checkbox', name: 'form', checked: !!c?.form });
  const schema = h('textarea', { class: 'a-source a-schema', name: 'schema', spellcheck: 'false' });
  schema.value = c ? pretty(c.schema) : pretty({ type: 'object', required: ['title'], properties: { title: { type: 'string', maxLength: 200 } } });
  const save = h('button', { class: 'a-button a-primary', type: 'submit', 'data-action': 'define' }, t('define'));
  return h('form', { class: 'a-card a-view', id: 'a-collection-form', onsubmit: (e) => {
    e.preventDefault();
    let parsed;
    try { parsed = JSON.parse(schema.value); } catch { $('a-status').textContent = t('not_json'); return; }
    act(() => api('PUT', `/v1/admin/collections/${encodeURIComponent(name.value.trim())}`,
      { title: ttl.value, schema: parsed, form: form.checked, tags: tagList(tags.value) }),
    c ? route : async () => { location.hash = `#/collections/${name.value.trim()}`; });
  } }, h('h2', {}, c ? t('definition') : t('new_collection')),
  h('div', { class: 'a-grid2' }, h('label', {}, t('collection_name'), name), h('label', {}, t('collection_title'), ttl),
    h('label', {}, t('tags'), tags), h('label', { class: 'a-check' }, form, t('is_form'))),
  h('label', {}, t('schema'), schema), h('div', { class: 'a-actions' }, save));
}

async function viewCollection(root, name) {
  const { collection: c, documents: docs } = await api('GET', `/v1/admin/collections/${encodeURIComponent(name)}`);
  title('collection', c.title || c.name);
  root.append(h('a', { href: '#/collections' }, t('back')));
  const ids = docs.map((d) => d.id);
  const move = (i, by) => {
    const next = [...ids];
    [next[i], next[i + by]] = [next[i + by], next[i]];
    return act(() => api('PUT', `/v1/admin/collections/${encodeURIComponent(name)}/order`, { ids: next }));
  };
  const editor = h('div');
  const open = (d) => { editor.replaceChildren(documentForm(name, d)); editor.scrollIntoView?.({ block: 'nearest' }); };
  if (!c.form) {
    root.append(h('section', { class: 'a-view' }, h('div', { class: 'a-head2' }, h('h2', {}, `${t('documents')} · ${docs.length}`),
      h('button', { class: 'a-button a-primary', type: 'button', 'data-action': 'new-document', onclick: () => open(null) }, t('new_document'))),
    table([t('order'), 'id', t('collection_title'), t('status'), t('updated'), ''], docs.map((d, i) => h('tr', { 'data-document': d.id },
      h('td', {}, String(i + 1)), h('td', {}, h('code', {}, d.id)),
      h('td', { class: 'a-wrap' }, typeof d.data?.image === 'string' && d.data.image.startsWith('/') ? h('img', { class: 'a-thumb-s', alt: '', src: d.data.image }) : null, docTitle(d.data)),
      h('td', {}, d.published ? badge('active', t('published')) : badge('draft', t('draft'))), h('td', {}, when(d.updated_at)),
      h('td', { class: 'a-row-actions' },
        h('button', { class: 'a-button a-small', type: 'button', title: t('up'), 'aria-label': t('up'), 'data-action': 'up', disabled: i === 0, onclick: () => move(i, -1) }, '↑'),
        h('button', { class: 'a-button a-small', type: 'button', title: t('down'), 'aria-label': t('down'), 'data-action': 'down', disabled: i === docs.length - 1, onclick: () => move(i, 1) }, '↓'),
        h('button', { class: 'a-button a-small', type: 'button', 'data-action': 'edit', onclick: () => open(d) }, t('edit')),
        h('button', { class: 'a-button a-small a-danger', type: 'button', 'data-action': 'delete', onclick: () => {
          if (confirm(t('confirm_delete'))) act(() => api('DELETE', `/v1/admin/collections/${encodeURIComponent(name)}/documents/${encodeURIComponent(d.id)}`));
        } }, t('delete'))))))), editor);
  }
  root.append(collectionForm(c));
}

// docTitle is what names a document in a list: its title (by language) or id.
function docTitle(data) {
  const v = data?.title ?? data?.name ?? data?.question ?? data?.text;
  if (v && typeof v === 'object') return v[RU ? 'ru' : 'en'] ?? Object.values(v)[0] ?? '—';
  return v ?? '—';
}

function documentForm(name, d) {
  const id = h('input', { name: 'id', required: true, pattern: '[a-z0-9_\\-]{1,64}', value: d?.id ?? '', readonly: !!d });
  const data = h('textarea', { class: 'a-source a-doc', name: 'data', spellcheck: 'false' });
  data.value = pretty(d?.data ?? {});
  const published = h('input', { type: 'checkbox', name: 'published', checked: d ? d.published : false });
  const file = h('input', { type: 'file', name: 'image', accept: 'image/*' });
  const preview = h('img', { class: 'a-thumb', alt: '', hidden: !d?.data?.image, src: d?.data?.image || undefined });
  file.addEventListener('change', async () => {
    if (!file.files.length) return;
    try {
      const body = new FormData();
      body.append('file', file.files[0]);
      const up = await uploadFile(body);
      const img = await api('POST', '/v1/admin/content/images', { upload_id: up.id });
      const cur = JSON.parse(data.value || '{}');
      cur.image = img.url;
      data.value = pretty(cur);
      preview.src = img.thumb_url || img.url;
      preview.hidden = false;
    } catch (e) { $('a-status').textContent = e.message; }
  });
  return h('form', { class: 'a-card a-view', id: 'a-document-form', onsubmit: (e) => {
    e.preventDefault();
    let parsed;
    try { parsed = JSON.parse(data.value); } catch { $('a-status').textContent = t('not_json'); return; }
    act(() => api('PUT', `/v1/admin/collections/${encodeURIComponent(name)}/documents/${encodeURIComponent(id.value.trim())}`,
      { data: parsed, published: published.checked }));
  } }, h('h2', {}, d ? `${t('edit')} · ${d.id}` : t('new_document')),
  h('div', { class: 'a-grid2' }, h('label', {}, t('doc_id'), id), h('label', { class: 'a-check' }, published, t('publish_it'))),
  h('label', {}, t('data'), data),
  h('div', { class: 'a-image-row' }, h('label', {}, t('image'), file), preview, h('p', { class: 'a-muted a-hint' }, t('image_hint'))),
  h('div', { class: 'a-actions' }, h('button', { class: 'a-button a-primary', type: 'submit', 'data-action': 'save-document' }, t('save'))));
}

// uploadFile sends a multipart upload with the session's token (api()
// sends JSON only), refreshing it once on 401.
async function uploadFile(body) {
  const send = () => fetch('/v1/uploads', { method: 'POST', headers: { Authorization: `Bearer ${session.access_token}` }, body });
  let res = await send();
  if (res.status === 401 && await refresh()) res = await send();
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, json?.error?.code, json?.error?.message);
  return json;
}

const EVENTS = ['message.created', 'dialog.created', 'user.registered', 'content.changed', 'form.submitted'];

async function viewWebhooks(root) {
  title('nav_webhooks');
  const url = h('input', { type: 'url', name: 'url', required: true, placeholder: 'https://crm.example.com/korobka' });
  const boxes = EVENTS.map((ev) => h('label', { class: 'a-check' }, h('input', { type: 'checkbox', name: 'events', value: ev, checked: ev === 'form.submitted' }), h('code', {}, ev)));
  const out = h('div');
  root.append(h('form', { class: 'a-card a-view', id: 'a-webhook-form', onsubmit: async (e) => {
    e.preventDefault();
    const events = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    try {
      const w = await api('POST', '/v1/admin/webhooks', { url: url.value.trim(), events });
      url.value = '';
      await list();
      out.replaceChildren(once(t('secret_once'), w.secret));
    } catch (err) { $('a-status').textContent = err.message; }
  } }, h('h2', {}, t('new_webhook')), h('label', {}, t('url'), url),
  h('fieldset', { class: 'a-events' }, h('legend', {}, t('events')), boxes),
  h('div', { class: 'a-actions' }, h('button', { class: 'a-button a-primary', type: 'submit' }, t('register')))), out);
  const listed = h('div');
  root.append(listed);
  const list = async () => {
    const { webhooks } = await api('GET', '/v1/admin/webhooks');
    listed.replaceChildren(table([t('url'), t('events'), t('created'), ''], webhooks.map((w) => h('tr', { class: 'a-row', 'data-webhook': w.id,
      onclick: () => { location.hash = `#/webhooks/${w.id}`; } },
    h('td', { class: 'a-wrap' }, w.url), h('td', { class: 'a-wrap' }, w.events.map((e) => h('code', { class: 'a-chip' }, e))), h('td', {}, when(w.created_at)),
    h('td', { class: 'a-row-actions' }, h('button', { class: 'a-button a-small', type: 'button', onclick: (e) => { e.stopPropagation(); location.hash = `#/webhooks/${w.id}`; } }, t('deliveries')),
      h('button', { class: 'a-button a-small a-danger', type: 'button', 'data-action': 'remove', onclick: (e) => {
        e.stopPropagation();
        if (confirm(t('confirm_remove'))) act(() => api('DELETE', `/v1/admin/webhooks/${w.id}`), async () => { out.replaceChildren(); await list(); });
      } }, t('remove')))))));
  };
  await list();
}

async function viewWebhook(root, id) {
  const { webhooks } = await api('GET', '/v1/admin/webhooks');
  const w = webhooks.find((x) => x.id === id);
  title('deliveries', w ? w.url.replace(/^https?:\/\//, '') : `#${id}`);
  root.append(h('a', { href: '#/webhooks' }, t('back')));
  await pager(root, async (cursor) => {
    const page = await api('GET', `/v1/admin/webhooks/${id}/deliveries?limit=50${cursor ? '&before=' + cursor : ''}`);
    const ds = page.deliveries ?? [];
    return { items: ds, next: page.next ?? (ds.length === 50 ? ds[ds.length - 1].id : '') };
  }, [t('created'), t('event'), t('status'), t('attempts'), t('last_status'), t('updated')], (d) => h('tr', { 'data-delivery': d.id },
    h('td', {}, when(d.created_at)), h('td', {}, h('code', {}, d.event)),
    h('td', {}, badge(d.state === 'delivered' ? 'done' : d.state === 'failed' ? 'blocked' : 'draft', d.state)),
    h('td', { class: 'a-num' }, num.format(d.attempts)),
    h('td', { class: 'a-wrap' }, [d.last_status || '', d.last_error].filter(Boolean).join(' · ') || '—'), h('td', {}, when(d.updated_at))));
}

async function viewKeys(root) {
  title('nav_keys');
  const name = h('input', { name: 'name', required: true, maxlength: '100', placeholder: 'CRM' });
  const out = h('div');
  const listed = h('div');
  const list = async () => {
    const { keys } = await api('GET', '/v1/admin/bot/keys');
    listed.replaceChildren(table([t('name'), t('prefix'), t('created'), t('state'), ''], keys.map((k) => h('tr', { 'data-key': k.id },
      h('td', {}, k.name), h('td', {}, h('code', {}, `${k.prefix}…`)), h('td', {}, when(k.created_at)),
      h('td', {}, k.revoked_at ? badge('blocked', `${t('revoked')} · ${when(k.revoked_at)}`) : badge('active', t('working'))),
      h('td', { class: 'a-row-actions' }, k.revoked_at ? null : h('button', { class: 'a-button a-small a-danger', type: 'button', 'data-action': 'revoke', onclick: () => {
        if (confirm(t('confirm_revoke'))) act(() => api('DELETE', `/v1/admin/bot/keys/${k.id}`), async () => { out.replaceChildren(); await list(); });
      } }, t('revoke')))))));
  };
  root.append(h('form', { class: 'a-card a-view', id: 'a-key-form', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const k = await api('POST', '/v1/admin/bot/keys', { name: name.value });
      name.value = '';
      await list();
      out.replaceChildren(once(t('key_once'), k.key));
    } catch (err) { $('a-status').textContent = err.message; }
  } }, h('h2', {}, t('create_key')), h('div', { class: 'a-toolbar' }, h('label', {}, t('key_name'), name),
    h('button', { class: 'a-button a-primary', type: 'submit' }, t('create_key')))), out, listed);
  await list();
}

async function viewOperators(root) {
  title('nav_operators');
  root.append(h('p', { class: 'a-muted' }, t('operators_hint')));
  const staff = [];
  for (const role of ['operator', 'admin']) {
    const page = await api('GET', `/v1/admin/users?role=${role}&blocked=false&limit=100`);
    staff.push(...page.users);
  }
  const label = (u) => `${userName(u) === '—' ? u.phone : userName(u)}${u.role === 'admin' ? ` (${u.role})` : ''}`;
  await pager(root, async (cursor) => {
    const page = await api('GET', `/v1/operator/dialogs${cursor ? '?cursor=' + encodeURIComponent(cursor) : ''}`);
    return { items: page.dialogs, next: page.next_cursor };
  }, [t('client'), t('subject'), t('last_message'), t('assignee'), t('assign_to')], (d) => {
    const pick = h('select', { name: 'operator' }, h('option', { value: '' }, '—'), staff.map((u) => h('option', { value: u.id }, label(u))));
    pick.value = d.assignee_id || '';
    const cell = h('td', { 'data-field': 'assignee' }, d.assignee_id
      ? [h('b', {}, d.assignee_name || d.assignee_id), h('div', { class: 'a-muted a-hint' }, when(d.assigned_at))]
      : badge('draft', t('unassigned')));
    return h('tr', { class: 'a-row', 'data-operator-dialog': d.id, onclick: (e) => {
      if (!e.target.closest('select, button')) location.hash = `#/operators/${d.id}?${new URLSearchParams({ title: d.title || '' })}`;
    } },
      h('td', {}, d.title || '—'),
      h('td', { class: 'a-wrap' }, d.subject_card ? [docTitle(d.subject_card.data), h('div', { class: 'a-muted a-hint' }, d.subject)] : d.subject ? h('code', {}, d.subject) : '—'),
      h('td', { class: 'a-wrap a-last' }, d.last_message ? [h('div', { class: 'a-clip' }, d.last_message.text || '—'),
        h('div', { class: 'a-muted a-hint' }, when(d.last_message.created_at))] : '—'),
      cell,
      h('td', { class: 'a-row-actions' }, pick, h('button', { class: 'a-button a-small', type: 'button', 'data-action': 'assign', onclick: () => {
        if (pick.value) act(() => api('PUT', `/v1/operator/dialogs/${d.id}/assignee`, { operator_id: pick.value }));
      } }, t('assign'))));
  });
}

// viewOperatorDialog shows a client's dialog with the business as staff
// see it (each operator's answer says who) and is where operators reply:
// text (Enter sends, Shift+Enter a new line) or a canned answer with one
// tap. A send keeps its client_id until it succeeds, so a retry is not a
// second message. The history is polled every 3 s while the view is open,
// one request at a time.
async function viewOperatorDialog(root, id) {
  const base = `/v1/operator/dialogs/${id}`;
  title('dialog', new URLSearchParams(location.hash.split('?')[1] ?? '').get('title') || `#${id}`);
  const list = h('div', { class: 'a-messages' });
  const seen = new Set();
  const business = new Set();
  let busy = null;
  const load = () => (busy ??= api('GET', `${base}/messages?limit=100`).then(({ messages }) => {
    for (const m of messages) if (m.answered_by) business.add(m.sender_id);
    for (const m of messages.filter((x) => !seen.has(x.id))) {
      seen.add(m.id);
      list.append(h('article', { class: `a-message${business.has(m.sender_id) ? ' a-business' : ''}`, 'data-message': m.id },
        h('header', {}, [when(m.created_at), m.answered_by ? h('span', { class: 'a-answered', 'data-answered-by': m.answered_by }, ` · ${t('answered_by')} ${m.answered_by_name || m.answered_by}`) : null]),
        h('p', {}, m.deleted ? '—' : m.text)));
    }
    empty.hidden = seen.size > 0;
  }).finally(() => { busy = null; }));
  const empty = h('p', { class: 'a-muted' }, t('nothing'));
  const err = h('p', { class: 'a-diags', role: 'alert', 'data-field': 'reply-error' });
  const text = h('textarea', { name: 'reply', rows: '3', placeholder: t('reply_hint') });
  const ids = {};
  const send = async (what, path, body) => {
    if (box.disabled) return;
    box.disabled = true;
    err.textContent = '';
    try {
      ids[what] ??= Date.now().toString(36) + Math.random().toString(36).slice(2);
      await api('POST', base + path, { ...body, client_id: ids[what] });
      delete ids[what];
      if (what === '') text.value = '';
      await busy?.catch(() => {}); // a poll in flight may predate the send
      await load();
    } catch (e) { err.textContent = e.message; } finally { box.disabled = false; text.focus(); }
  };
  text.addEventListener('input', () => { delete ids['']; });
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); if (text.value.trim()) send('', '/messages', { text: text.value }); }
  });
  const canned = h('div', { class: 'a-toolbar a-canned' });
  const box = h('fieldset', { class: 'a-reply' }, text, canned,
    h('button', { class: 'a-button a-primary', type: 'submit' }, t('send')));
  await load();
  root.append(h('a', { href: '#/operators' }, t('back')), h('p', { class: 'a-muted' }, t('client_side')),
    h('section', { class: 'a-card' }, h('h2', {}, t('messages')), list, empty),
    h('form', { class: 'a-card', onsubmit: (e) => { e.preventDefault(); if (text.value.trim()) send('', '/messages', { text: text.value }); } },
      h('h2', {}, t('reply')), box, err));
  api('GET', '/v1/operator/canned').then(({ answers }) => canned.append(...answers.map((a) => h('button', {
    class: 'a-button a-small', type: 'button', title: a.text, 'data-canned': a.id, onclick: () => send(a.id, '/canned', { answer_id: a.id }),
  }, a.title))), (e) => { err.textContent = e.message; });
  const tick = () => setTimeout(() => { if (list.isConnected) load().catch(() => {}).finally(tick); }, 3000);
  tick();
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
