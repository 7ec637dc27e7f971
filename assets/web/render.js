// render.js: draws layout nodes (schemas/layout.schema.json) with DOM APIs.
// Everything in a layout may be user data (a name, a message), so text only
// ever reaches the page through textContent / text nodes, URLs only through
// safeUrl(), colours only through color(). There is no innerHTML here.
import { color, num, styleName } from './theme.js';
import { t } from './strings.js';

const LINK_SCHEMES = new Set(['http:', 'https:', 'tel:', 'mailto:']);
const MEDIA_SCHEMES = new Set(['http:', 'https:']);
// Control characters, spaces and backslashes: browsers strip or reinterpret
// them ("/\evil.com" is another host), so a URL holding one is refused.
const BAD_URL_CHARS = /[\u0000-\u0020\u007f\\]/;

// safeUrl answers raw when it is an allowed absolute URL or a same-origin
// path, else null. javascript:, data:, //host and the like never pass.
export function safeUrl(raw, schemes = LINK_SCHEMES) {
  if (typeof raw !== 'string' || !raw || raw.length > 4096 || BAD_URL_CHARS.test(raw)) return null;
  try {
    if (raw[0] === '/') {
      const u = new URL(raw, location.origin);
      return raw[1] !== '/' && u.origin === location.origin ? u.pathname + u.search + u.hash : null;
    }
    const u = new URL(raw);
    return schemes.has(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}

// mediaUrl is safeUrl for things the page loads itself (images, video,
// frames): web URLs and our own paths only.
export const mediaUrl = (raw) => safeUrl(raw, MEDIA_SCHEMES);

// telUrl keeps only what a dialler understands.
export function telUrl(phone) {
  const p = String(phone ?? '').replace(/[\s().-]/g, '');
  return /^\+?[0-9*#]{2,20}$/.test(p) ? `tel:${p}` : null;
}

const str = (v) => (v === undefined || v === null ? '' : String(v));

// firstChars is the first n characters of s as a person counts them
// (grapheme clusters, as the server counts): a flag or a family emoji is
// never cut in half, as String.slice, which counts UTF-16 units, would.
const graphemes = typeof Intl !== 'undefined' && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;
export function firstChars(s, n) {
  if (!graphemes) return Array.from(s).slice(0, n).join('');
  let out = '';
  let i = 0;
  for (const { segment } of graphemes.segment(s)) {
    if (i++ === n) break;
    out += segment;
  }
  return out;
}

function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = str(text);
  return el;
}

const ALIGN = { start: 'flex-start', center: 'center', end: 'flex-end', stretch: 'stretch' };
const JUSTIFY = { start: 'flex-start', center: 'center', end: 'flex-end', space_between: 'space-between' };

// Icons are the catalogue's SVG files, icons/<name>.svg (Lucide; the same
// list the server's lint and schemas use, assets/web/icons), drawn as a
// mask filled with the current text colour, so they follow the theme. A
// name that is not an icon name draws an empty box, never text from the
// layout.
const ICON_NAME = /^[a-z][a-z0-9_]{0,63}$/;
export function glyph(name) {
  const el = h('span', 'k-glyph');
  el.setAttribute('aria-hidden', 'true');
  if (typeof name === 'string' && ICON_NAME.test(name)) {
    const url = `url("icons/${name}.svg")`;
    el.style.maskImage = url;
    el.style.webkitMaskImage = url;
  }
  return el;
}

// Each component: (node, ctx) => element. ctx is the app's (or preview's)
// bridge: run(action, el), canRun(action), onCompose(el), onEnter(el),
// afterMount(fn), observeEnd(list).
const R = {
  column: box, row: box, stack: box, scroll: box, card: box,
  list, text, image, avatar, icon, button, input, composer, message_bubble: bubble,
  badge, divider, spacer, nav_bar: navBar, tabs, tab, video, file, web, check,
};

// Components that wire their own taps instead of making the whole box one.
const OWN_ACTION = new Set(['button', 'input', 'composer', 'tab', 'check']);

// renderNode draws one node and its children; unknown types draw nothing
// (the server sends fallbacks for what we did not list).
export function renderNode(node, ctx) {
  if (!node || typeof node !== 'object' || !Object.hasOwn(R, node.type)) return null;
  const el = R[node.type](node, ctx);
  el.classList.add('k-' + node.type.replace('_', '-'));
  el.kNode = node; // kept for `set` patches
  if (typeof node.id === 'string') el.dataset.kid = node.id;
  const s = styleName(node.style);
  if (s) el.classList.add('ks-' + s);
  if (node.action && !OWN_ACTION.has(node.type)) bindAction(el, node.action, ctx);
  return el;
}

function children(el, node, ctx) {
  for (const c of Array.isArray(node.children) ? node.children : []) {
    const ce = renderNode(c, ctx);
    if (ce) el.append(ce);
  }
  el.kKids = el; // where patches and `set` find this node's children
}

// bindAction makes el tappable by mouse and keyboard. Actions the shell
// cannot perform yet are drawn disabled, with the reason in the tooltip.
function bindAction(el, action, ctx) {
  if (ctx.canRun && !ctx.canRun(action)) {
    el.setAttribute('aria-disabled', 'true');
    el.classList.add('k-unavailable');
    el.title = t('uploads_soon');
  }
  el.classList.add('k-tappable');
  el.kAction = action;
  if (!(el instanceof HTMLButtonElement) && !(el instanceof HTMLAnchorElement)) {
    el.tabIndex = 0;
    el.setAttribute('role', 'button');
    el.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); el.click(); }
    });
  }
  el.addEventListener('click', (e) => {
    e.preventDefault();
    e.stopPropagation(); // an inner link or button must not also fire its row
    ctx.run(action, el);
  });
}

function box(n, ctx) {
  const el = h('div');
  if (n.type === 'scroll' && n.axis === 'horizontal') el.classList.add('k-horizontal');
  if (num(n.gap) !== null) el.style.gap = `${n.gap}px`;
  if (num(n.padding) !== null) el.style.padding = `${n.padding}px`;
  if (num(n.radius) !== null) el.style.borderRadius = `${n.radius}px`;
  if (ALIGN[n.align]) el.style.alignItems = ALIGN[n.align];
  if (JUSTIFY[n.justify]) el.style.justifyContent = JUSTIFY[n.justify];
  const bg = color(n.background);
  if (bg) el.style.backgroundColor = bg;
  children(el, n, ctx);
  return el;
}

function list(n, ctx) {
  const el = h('div');
  const items = h('div', 'k-items');
  if (num(n.gap) !== null) items.style.gap = `${n.gap}px`;
  if (num(n.padding) !== null) items.style.padding = `${n.padding}px`;
  if (n.separator) el.classList.add('k-separated');
  if (n.reverse) el.classList.add('k-reverse');
  el.append(items);
  children(items, n, ctx);
  el.kKids = items;
  el.kNode = n; // updateEmpty reads `empty` from it
  updateEmpty(el, ctx);
  setNext(el, n.next, ctx);
  if (n.reverse) {
    chatList(el, n);
    ctx.afterMount?.(() => openAt(el));
  }
  return el;
}

// A reverse list is a chat's history: date separators, sender groups, the
// unread separator and a jump button (docs/shell.md, "The chat window").
const isBubble = (el) => el?.kNode?.type === 'message_bubble';
// bubbleIn is the bubble an item of the list shows: the item itself, or
// the only child of a wrapper item (group_chat's items are columns holding
// a bubble or a system message). Anything else is no bubble (null).
const bubbleIn = (el) => isBubble(el) ? el : el?.childElementCount === 1 && isBubble(el.firstElementChild) ? el.firstElementChild : null;
const counted = (el) => { const b = bubbleIn(el); return !!b && !b.kNode.own && !b.kNode.deleted; }; // as unread counts

function chatList(el, n) {
  const c = el.kChat = { left: Math.floor(num(n.unread) ?? 0), label: str(n.unread_label), anchor: '', unseen: new Set() };
  placeUnread(el, [...el.kKids.children]);
  let on = false; // unread at the opening: not seen yet
  for (const b of el.kKids.children) if ((on ||= bubbleIn(b)?.dataset.kid === c.anchor) && counted(b)) c.unseen.add(bubbleIn(b).dataset.kid);
  const j = c.jump = h('button', 'k-jump');
  j.hidden = true;
  j.setAttribute('aria-label', t('to_bottom'));
  j.append(glyph('arrow_down'), h('span', 'k-badge'));
  j.onclick = (e) => { e.stopPropagation(); el.scrollTop = el.scrollHeight; };
  el.append(j);
  el.addEventListener('scroll', () => updateJump(el), { passive: true });
  decorate(el);
}

// placeUnread moves the unread anchor up through els (just shown, oldest
// first) while unread bubbles are left: older pages go on counting.
function placeUnread(l, els) {
  const c = l.kChat;
  for (let i = els.length; i-- && c.left > 0;) if (counted(els[i])) { c.left--; c.anchor = bubbleIn(els[i]).dataset.kid; }
}

// openAt opens a chat at its unread separator, else at the newest.
function openAt(l) {
  const s = l.kKids.querySelector('.k-unread-sep');
  l.scrollTop = s ? s.offsetTop - 8 : l.scrollHeight;
  updateJump(l);
}

const sep = (cls, text) => { const s = h('div', cls); s.append(h('span', '', text)); return s; };

// decorate redraws a chat's separators and groups (one sender, 5 minutes
// apart at most) from its bubbles.
export function decorate(l) {
  const c = l.kChat;
  if (!c) return;
  for (const s of l.kKids.querySelectorAll('.k-day-sep, .k-unread-sep')) s.remove();
  let p = null;
  let day = '';
  for (const item of [...l.kKids.children]) {
    const el = bubbleIn(item);
    if (!el) { p = null; continue; } // a system message ends a group
    const n = el.kNode, d = Date.parse(n.sent_at) - Date.parse(p?.kNode.sent_at);
    let joined = n.sender_id && n.sender_id === p?.kNode.sender_id && d >= 0 && d <= 3e5;
    if (n.day && n.day !== day) { item.before(sep('k-day-sep', day = n.day)); joined = false; }
    if (el.dataset.kid === c.anchor) { item.before(sep('k-unread-sep', c.label)); joined = false; }
    el.classList.toggle('k-joined', !!joined);
    p?.classList.toggle('k-tail', !joined);
    el.classList.add('k-tail');
    p = el;
  }
}

const nearBottom = (el) => el.scrollHeight - el.scrollTop - el.clientHeight < 80;

// updateJump shows the jump button while the chat is scrolled up, with the
// count of bubbles below the view not seen yet (once in view, seen).
function updateJump(l) {
  const c = l.kChat;
  if (!c) return;
  const end = nearBottom(l);
  const edge = l.getBoundingClientRect().bottom + 1;
  for (const id of c.unseen) if (end || !(find(l, id)?.getBoundingClientRect().bottom > edge)) c.unseen.delete(id);
  c.jump.hidden = end;
  c.jump.style.top = `${l.scrollTop + l.clientHeight - 56}px`;
  c.jump.lastChild.textContent = c.unseen.size || '';
}

// updateEmpty shows the list's `empty` node while it has no items.
export function updateEmpty(listEl, ctx) {
  const items = listEl.kKids;
  const node = listEl.kNode ?? {};
  let slot = listEl.querySelector(':scope > .k-empty');
  // A chat's separators are no items: a list of only them is empty.
  if (listEl.kChat && !items.querySelector(':scope > .k-message-bubble')) decorate(listEl);
  if (items.childElementCount === 0 && node.empty && !slot) {
    slot = h('div', 'k-empty');
    const e = renderNode(node.empty, ctx);
    if (e) slot.append(e);
    listEl.append(slot);
  } else if (items.childElementCount > 0 && slot) {
    slot.remove();
  }
}

// setNext places (or removes) the sentinel that runs load_more when it
// scrolls into view: at the top of a reverse (chat) list, else at the end.
export function setNext(listEl, next, ctx) {
  listEl.querySelector(':scope > .k-more')?.remove();
  listEl.kNext = next && next.type === 'load_more' ? next : null;
  if (!listEl.kNext) return;
  const s = h('div', 'k-more');
  s.setAttribute('aria-hidden', 'true');
  if (listEl.classList.contains('k-reverse')) listEl.prepend(s);
  else listEl.append(s);
  ctx.observeEnd?.(listEl, s);
}

function appendText(el, n, ctx) {
  if (Array.isArray(n.spans) && n.spans.length) {
    for (const s of n.spans) el.append(span(s, ctx));
  } else {
    el.textContent = str(n.text);
  }
}

// span draws one run; a run with an action becomes a link whose href is
// the checked URL (so copy-link and middle-click work), else plain text.
function span(s, ctx) {
  const txt = str(s?.text);
  const a = s?.action;
  let href = null;
  if (a?.type === 'open_url') href = safeUrl(a.url);
  else if (a?.type === 'call') href = telUrl(a.phone);
  else if (a?.type === 'navigate') href = '#';
  if (!href) return document.createTextNode(txt);
  const el = h('a', 'k-link', txt);
  el.href = href;
  if (['url', 'email', 'phone'].includes(s.kind)) el.dataset.kind = s.kind;
  if (/^https?:/.test(href)) { el.target = '_blank'; el.rel = 'noopener noreferrer'; }
  el.addEventListener('click', (e) => {
    e.preventDefault();
    e.stopPropagation();
    ctx.run(a, el);
  });
  return el;
}

function text(n, ctx) {
  const el = h('div');
  appendText(el, n, ctx);
  if (['start', 'center', 'end'].includes(n.align)) el.style.textAlign = n.align;
  const c = color(n.color);
  if (c) el.style.color = c;
  if (num(n.max_lines)) {
    el.classList.add('k-clamp');
    el.style.webkitLineClamp = String(Math.floor(n.max_lines));
  }
  return el;
}

function image(n) {
  const el = h('img');
  const src = mediaUrl(n.src);
  if (src) el.src = src;
  el.alt = str(n.alt);
  el.loading = 'lazy';
  el.decoding = 'async';
  if (num(n.aspect)) el.style.aspectRatio = String(n.aspect);
  if (num(n.width)) el.style.width = `${n.width}px`;
  if (n.fit === 'cover' || n.fit === 'contain') el.style.objectFit = n.fit;
  // A contained picture (a logo) shows its own transparency, not a
  // placeholder box.
  if (n.fit === 'contain') el.classList.add('k-contain');
  if (num(n.radius) !== null) el.style.borderRadius = `${n.radius}px`;
  return el;
}

function avatar(n) {
  const el = h('div', `k-size-${['s', 'm', 'l', 'xl'].includes(n.size) ? n.size : 'm'}`);
  const initials = () => el.replaceChildren(h('span', 'k-initials', firstChars(str(n.initials), 2)));
  const src = mediaUrl(n.src);
  if (src) {
    const img = h('img');
    img.alt = '';
    img.src = src;
    img.addEventListener('error', initials, { once: true });
    el.append(img);
  } else {
    initials();
  }
  return el;
}

function icon(n) {
  const el = h('span');
  const g = glyph(n.name);
  if (num(n.size)) { g.style.width = `${n.size}px`; g.style.height = `${n.size}px`; }
  el.append(g);
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', str(n.name));
  const c = color(n.color);
  if (c) el.style.color = c;
  return el;
}

function button(n, ctx) {
  const el = h('button', `k-${['primary', 'secondary', 'plain', 'destructive'].includes(n.kind) ? n.kind : 'secondary'}`);
  el.type = 'button';
  if (n.icon) el.append(glyph(n.icon));
  if (n.label) el.append(h('span', 'k-label', n.label));
  if (!n.label && n.icon) el.setAttribute('aria-label', str(n.icon));
  if (n.disabled) el.disabled = true;
  if (n.action) bindAction(el, n.action, ctx);
  return el;
}

function input(n, ctx) {
  const el = h('label', 'k-field');
  if (n.label) el.append(h('span', 'k-field-label', n.label));
  const multi = n.kind === 'multiline';
  const c = h(multi ? 'textarea' : 'input', 'k-control');
  if (multi) c.rows = 1;
  else c.type = n.kind === 'phone' ? 'tel' : 'text';
  if (n.kind === 'phone') c.autocomplete = 'tel';
  if (n.kind === 'code') { c.inputMode = 'numeric'; c.autocomplete = 'one-time-code'; }
  if (typeof n.name === 'string') c.dataset.name = n.name;
  c.dataset.kind = str(n.kind || 'text');
  if (n.placeholder) c.placeholder = str(n.placeholder);
  if (num(n.max_length)) limitChars(c, Math.floor(n.max_length));
  if (n.value !== undefined) c.value = str(n.value);
  if (n.autofocus) ctx.afterMount?.(() => c.focus());
  wireField(c, ctx, n.action);
  el.append(c);
  return el;
}

// limitChars keeps a field to max characters as the server counts them
// (grapheme clusters). The maxlength attribute counts UTF-16 units, which
// would stop a name of flags at a quarter of its length.
function limitChars(c, max) {
  c.addEventListener('input', (e) => {
    if (e.isComposing) return;
    if (charCount(c.value) > max) c.value = firstChars(c.value, max);
  });
}

// charCount is the length of s in grapheme clusters.
export function charCount(s) {
  if (!graphemes) return Array.from(s).length;
  let n = 0;
  for (const _ of graphemes.segment(s)) n++; // eslint-disable-line no-unused-vars
  return n;
}

// wireField: Enter submits (Shift+Enter is a new line in a message), and a
// message field reports typing.
function wireField(c, ctx, action) {
  c.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.shiftKey || e.isComposing) return;
    e.preventDefault();
    if (action) ctx.run(action, c);
    else ctx.onEnter?.(c);
  });
  if (c instanceof HTMLTextAreaElement) {
    c.addEventListener('input', () => {
      c.style.height = 'auto';
      c.style.height = `${Math.min(c.scrollHeight, 160)}px`;
      ctx.onCompose?.(c);
    });
  }
}

function composer(n, ctx) {
  const el = h('div');
  const send = n.action?.type === 'send_message' ? n.action : { type: 'send_message', dialog_id: n.dialog_id };
  if (n.attach) {
    el.append(renderNode({ type: 'button', kind: 'plain', icon: 'attach',
      action: { type: 'pick_media', kind: 'any', dialog_id: n.dialog_id } }, ctx));
  }
  const field = h('textarea', 'k-control');
  field.rows = 1;
  field.dataset.name = 'text';
  if (n.placeholder) field.placeholder = str(n.placeholder);
  wireField(field, ctx, send);
  el.append(field, renderNode({ type: 'button', kind: 'primary', icon: 'send', action: send }, ctx));
  return el;
}

// ticks draws a message status: ✓ sent, ✓✓ delivered, ✓✓ coloured read.
export function ticks(status) {
  const el = h('span', 'k-ticks', status === 'sent' ? '✓' : '✓✓');
  el.dataset.status = status;
  el.title = t(status);
  return el;
}

function bubble(n, ctx) {
  const el = h('div', n.own ? 'k-own' : 'k-other');
  // Others' bubbles in groups: the sender's avatar (a fixed size before
  // its picture loads) and name; decorate hides both on joined bubbles.
  if (!n.own && (n.sender_avatar || n.sender_initials)) {
    const av = avatar({ src: n.sender_avatar, initials: n.sender_initials, size: 's' });
    av.classList.add('k-avatar', 'k-bubble-avatar');
    av.setAttribute('aria-hidden', 'true');
    el.classList.add('k-with-avatar');
    el.append(av);
  }
  if (n.sender && !n.own) el.append(h('div', 'k-sender', n.sender));
  if (n.deleted) {
    el.classList.add('k-deleted');
    el.append(h('div', 'k-body', t('deleted')));
  } else if (n.text || n.spans) {
    const body = h('div', 'k-body');
    appendText(body, n, ctx);
    el.append(body);
  }
  const att = h('div', 'k-attachments');
  children(att, n, ctx);
  el.kKids = att;
  el.append(att);
  const meta = h('div', 'k-meta');
  if (n.edited && !n.deleted) meta.append(h('span', 'k-edited', t('edited')));
  meta.append(h('span', 'k-time', n.time));
  if (n.own && ['sent', 'delivered', 'read'].includes(n.status)) meta.append(ticks(n.status));
  el.append(meta);
  return el;
}

// check is a tick box; actions.js collectInputs sends the values of the
// ticked ones of a name as an array. A tap anywhere on a row that has no
// action of its own toggles the row's check.
function check(n, ctx) {
  const el = h('label');
  const c = h('input', 'k-check-box');
  c.type = 'checkbox';
  if (typeof n.name === 'string') c.dataset.name = n.name;
  c.dataset.kind = 'check';
  c.value = str(n.value);
  c.checked = !!n.checked;
  if (n.label) c.setAttribute('aria-label', str(n.label));
  el.append(c);
  ctx.afterMount?.(() => {
    const row = el.closest('.k-row');
    if (!row || row.kAction || row.kCheck) return;
    row.kCheck = c;
    row.classList.add('k-checkable');
    row.addEventListener('click', (e) => { if (!el.contains(e.target)) c.click(); });
  });
  return el;
}

function badge(n) {
  return h('span', `k-tone-${['accent', 'muted', 'danger'].includes(n.tone) ? n.tone : 'accent'}`, n.text);
}

function divider(n) {
  const el = h('div');
  el.setAttribute('role', 'separator');
  if (num(n.inset)) el.style.marginInlineStart = `${n.inset}px`;
  return el;
}

function spacer(n) {
  const el = h('div');
  if (num(n.size) !== null) el.style.flex = `0 0 ${n.size}px`;
  else el.classList.add('k-grow');
  return el;
}

function navBar(n, ctx) {
  const el = h('header');
  if (n.back) {
    const b = renderNode({ type: 'button', kind: 'plain', icon: 'back', action: { type: 'back' } }, ctx);
    b.setAttribute('aria-label', t('back'));
    el.append(b);
  }
  // The picture, else (or when it fails to load) the initials in a circle.
  const src = mediaUrl(n.avatar);
  const initials = () => h('span', 'k-nav-avatar k-nav-initials', firstChars(str(n.initials), 2));
  if (src) {
    const img = h('img', 'k-nav-avatar');
    img.alt = '';
    img.src = src;
    img.addEventListener('error', () => { if (n.initials) img.replaceWith(initials()); else img.remove(); }, { once: true });
    el.append(img);
  } else if (n.initials) {
    el.append(initials());
  }
  const titles = h('div', 'k-titles');
  titles.append(h('h1', 'k-title', n.title));
  const sub = h('div', 'k-subtitle', n.subtitle);
  sub.dataset.original = str(n.subtitle);
  titles.append(sub);
  el.append(titles);
  const trail = h('div', 'k-trailing');
  children(trail, n, ctx);
  el.kKids = trail;
  el.append(trail);
  return el;
}

function tabs(n, ctx) {
  const el = h('nav');
  el.setAttribute('role', 'tablist');
  children(el, n, ctx);
  return el;
}

function tab(n, ctx) {
  const el = h('button');
  el.type = 'button';
  el.setAttribute('role', 'tab');
  el.setAttribute('aria-selected', n.selected ? 'true' : 'false');
  if (n.icon) el.append(glyph(n.icon));
  el.append(h('span', 'k-label', n.label));
  if (n.action) bindAction(el, n.action, ctx);
  return el;
}

function video(n) {
  const el = h('video');
  const src = mediaUrl(n.src);
  if (src) el.src = src;
  const poster = mediaUrl(n.poster);
  if (poster) el.poster = poster;
  el.controls = true;
  el.playsInline = true;
  el.preload = 'metadata';
  if (n.autoplay) { el.muted = true; el.autoplay = true; }
  if (num(n.aspect)) el.style.aspectRatio = String(n.aspect);
  return el;
}

function file(n) {
  const el = h('a');
  const href = mediaUrl(n.url);
  if (href) { el.href = href; el.download = str(n.name); el.rel = 'noopener noreferrer'; }
  el.append(glyph('file'));
  const info = h('span', 'k-file-info');
  info.append(h('span', 'k-file-name', n.name), h('span', 'k-file-size', [n.size, n.mime].filter(Boolean).join(' · ')));
  el.append(info);
  return el;
}

// web embeds a page in a sandbox without allow-same-origin: it runs as an
// opaque origin and cannot read our tokens.
function web(n) {
  const el = h('iframe');
  const src = mediaUrl(n.url);
  if (src) el.src = src;
  el.setAttribute('sandbox', 'allow-scripts allow-forms allow-popups');
  el.referrerPolicy = 'no-referrer';
  el.loading = 'lazy';
  el.title = src ?? '';
  el.style.height = `${num(n.height) || 300}px`;
  return el;
}

// renderLayout draws a whole screen.
export function renderLayout(layout, ctx) {
  return renderNode(layout?.root, ctx) ?? h('div');
}

// find returns the element of node id inside root.
export function find(root, id) {
  return typeof id === 'string' && id ? root.querySelector(`[data-kid="${CSS.escape(id)}"]`) : null;
}

function listOf(el) {
  const l = el?.parentElement?.closest('.k-list');
  return l && l.kKids === el.parentElement ? l : null;
}

// applyOps applies patch operations in order; an op whose target is not on
// screen is skipped (the patch may be for a part not drawn any more).
export function applyOps(root, ops, ctx) {
  for (const op of Array.isArray(ops) ? ops : []) {
    if (!op || typeof op !== 'object') continue;
    if (op.op === 'insert') insert(root, op, ctx);
    else if (op.op === 'replace') replace(find(root, op.id), op.node, ctx);
    else if (op.op === 'remove') remove(find(root, op.id), ctx);
    else if (op.op === 'set') setProps(find(root, op.id), op.props, ctx);
  }
  for (const l of root.querySelectorAll('.k-reverse')) { decorate(l); updateJump(l); }
}

function insert(root, op, ctx) {
  const target = find(root, op.into);
  if (!target) return;
  const old = find(root, op.node?.id); // a repeated insert replaces: patches may be replayed
  if (old) return replace(old, op.node, ctx);
  const el = renderNode(op.node, ctx);
  if (!el) return;
  const into = target.kKids ?? target;
  const scroller = target.classList.contains('k-list') ? target : null;
  // A chat follows new messages only while it shows the newest (and when
  // the viewer sent one); scrolled up, it stays put and the jump button
  // counts what came.
  const stick = scroller && scroller.classList.contains('k-reverse') && (nearBottom(scroller) || bubbleIn(el)?.kNode.own);
  if (op.at === 'start') into.prepend(el);
  else into.append(el);
  if (scroller) updateEmpty(scroller, ctx);
  if (stick) scroller.scrollTop = scroller.scrollHeight;
  else if (counted(el)) scroller?.kChat?.unseen.add(bubbleIn(el).dataset.kid);
}

function replace(old, node, ctx) {
  if (!old) return;
  const el = renderNode(node, ctx);
  if (el) old.replaceWith(el);
  else remove(old, ctx);
}

function remove(old, ctx) {
  if (!old) return;
  const l = listOf(old);
  old.remove();
  if (l) updateEmpty(l, ctx);
}

// setProps redraws a node with changed props, keeping its current children
// (which earlier patches may have changed).
function setProps(old, props, ctx) {
  if (!old || !props || typeof props !== 'object') return;
  const node = { ...old.kNode, ...props, type: old.kNode.type, id: old.kNode.id, children: [] };
  const el = renderNode(node, ctx);
  if (!el) return;
  if (old.kKids && el.kKids) el.kKids.replaceChildren(...old.kKids.childNodes);
  if (el.classList.contains('k-list')) {
    updateEmpty(el, ctx);
    el.scrollTop = old.scrollTop;
  }
  el.kNode = { ...node, children: old.kNode.children };
  old.replaceWith(el);
}

// appendPage merges the next page of a list (from load_more) into listEl:
// items not yet shown go after the others, or above them in a reverse list
// with the scroll position kept. Answers how many were added.
export function appendPage(listEl, fresh, ctx) {
  const items = listEl.kKids;
  const els = [];
  for (const c of Array.isArray(fresh?.children) ? fresh.children : []) {
    if (c?.id && find(listEl, c.id)) continue;
    const el = renderNode(c, ctx);
    if (el) els.push(el);
  }
  if (listEl.classList.contains('k-reverse')) {
    const fromBottom = listEl.scrollHeight - listEl.scrollTop;
    items.prepend(...els);
    if (listEl.kChat) {
      placeUnread(listEl, els);
      decorate(listEl);
    }
    listEl.scrollTop = listEl.scrollHeight - fromBottom;
  } else {
    items.append(...els);
  }
  updateEmpty(listEl, ctx);
  // Nothing new means the server ignored the cursor: stop asking.
  setNext(listEl, els.length ? fresh?.next : null, ctx);
  return els.length;
}

// findNode finds a node by id in a layout tree (for load_more pages).
export function findNode(node, id) {
  if (!node || typeof node !== 'object') return null;
  if (node.id === id) return node;
  for (const c of Array.isArray(node.children) ? node.children : []) {
    const f = findNode(c, id);
    if (f) return f;
  }
  return null;
}
