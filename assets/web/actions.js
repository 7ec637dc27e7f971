// actions.js: what a tap does. Layout actions are data from the server, so
// every URL and endpoint is checked again here before it is used.
import { request, errorText } from './api.js';
import { afterSubmit, WELCOME } from './auth.js';
import { safeUrl, telUrl } from './render.js';
import { t } from './strings.js';

// pick_media either sets the profile photo (its endpoint) or, in a chat
// (a dialog_id and no endpoint), uploads a file to POST /v1/uploads and
// sends it as a message. Other endpoints are drawn disabled by render.js.
const AVATAR = '/v1/me/avatar';
const UPLOADS = '/v1/uploads';
export const canRun = (a) => a?.type !== 'pick_media' || a.endpoint === AVATAR ||
  (!a.endpoint && (!!a.dialog_id || FIELD.test(a.field ?? '')));

// A pick_media field (no dialog, no endpoint) keeps the upload's id in a
// hidden field of the screen that a later submit sends.
const FIELD = /^[a-z_]{1,64}$/;

// An endpoint is a path under /v1/ with no tricks (no "..", no query).
const ENDPOINT = /^\/v1\/[A-Za-z0-9_\-/.]{1,200}$/;

// substitute fills $form.<field> and $response.<field> (dots go deeper) in
// every string of a `then` action, as docs/screens.md describes.
export function substitute(v, form, response) {
  if (typeof v === 'string') {
    return v.replace(/\$(form|response)\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)/g, (_, src, path) => {
      let x = src === 'form' ? form : response;
      for (const k of path.split('.')) x = x && typeof x === 'object' && Object.hasOwn(x, k) ? x[k] : undefined;
      return x === undefined || x === null || typeof x === 'object' ? '' : String(x);
    });
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, form, response));
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, form, response)]));
  }
  return v;
}

// collectInputs reads the screen's inputs by name; fields limits them.
// Phone numbers lose their formatting so the server reads them the same
// however they were typed.
export function collectInputs(root, fields) {
  const out = {};
  for (const c of root.querySelectorAll('[data-name]')) {
    const name = c.dataset.name;
    if (Array.isArray(fields) && !fields.includes(name)) continue;
    if (c.dataset.kind === 'check') { // the ticked values of the name
      const vs = Array.isArray(out[name]) ? out[name] : (out[name] = []);
      if (c.checked) vs.push(c.value);
      continue;
    }
    let v = c.value;
    if (c.dataset.kind === 'phone') v = v.replace(/[^\d+]/g, '');
    else if (c.dataset.kind === 'code') v = v.replace(/\s/g, '');
    out[name] = v;
  }
  return out;
}

// createActions binds actions to an app: { screenEl, route, navigate, back,
// refresh, loadMore, toast, live, sessionChanged }.
export function createActions(app) {
  async function run(action, el) {
    if (!action || typeof action !== 'object') return;
    switch (action.type) {
      case 'navigate': return app.navigate(action.screen, action.params ?? {}, !!action.replace);
      case 'back': return app.back();
      case 'open_url': return openUrl(action.url);
      case 'call': return call(action.phone);
      case 'submit': return submit(action, el);
      case 'send_message': return sendMessage(action, el);
      case 'pick_media': return pickMedia(action, el);
      case 'load_more': return app.loadMore(action, el);
      case 'refresh': return app.refresh();
      default: return undefined; // a newer action this shell does not know
    }
  }

  // External schemes hand off through a link click: the page stays.
  function handOff(href) {
    const a = document.createElement('a');
    a.href = href;
    if (/^https?:/.test(href)) { a.target = '_blank'; a.rel = 'noopener noreferrer'; }
    a.click();
  }

  function openUrl(url) {
    const href = safeUrl(url);
    if (!href) return app.toast(t('blocked_link'));
    // Our own paths (e.g. /app/#/chat?...) stay in this tab.
    if (href.startsWith('/')) { location.href = href; return undefined; }
    return handOff(href);
  }

  function call(phone) {
    const href = telUrl(phone);
    return href ? handOff(href) : app.toast(t('blocked_link'));
  }

  async function submit(a, el) {
    const endpoint = typeof a.endpoint === 'string' ? a.endpoint : '';
    if (!ENDPOINT.test(endpoint) || endpoint.includes('..')) return app.toast(t('error'));
    const method = ['POST', 'PATCH', 'PUT', 'DELETE'].includes(a.method) ? a.method : 'POST';
    const form = collectInputs(app.screenEl, a.fields);
    const extra = a.extra && typeof a.extra === 'object' ? a.extra : {};
    const btn = el?.closest?.('button');
    if (btn) btn.disabled = true;
    try {
      const res = await request(endpoint, { method, body: { ...form, ...extra } });
      const how = afterSubmit(endpoint, res);
      app.sessionChanged(how);
      // A first sign-in asks for a name before anything else.
      if (how === 'in' && res?.new_user === true) return app.navigate(WELCOME, {}, true);
      // Say that it worked: a change of one's own data is saved; a synced
      // number that is nobody's account yet is not a silent nothing.
      if (endpoint === '/v1/contacts/sync' && Array.isArray(res?.users) && res.users.length === 0) app.toast(t('not_registered'));
      else if (method === 'PATCH' || method === 'PUT') app.toast(t('saved'));
      if (a.then) await run(substitute(a.then, form, res ?? {}), el);
    } catch (e) {
      // The server's message is meant for people; show it as text.
      app.toast(errorText(e));
    } finally {
      if (btn?.isConnected) btn.disabled = false;
    }
    return undefined;
  }

  async function sendMessage(a, el) {
    const dialog = String(a.dialog_id || app.route.params.dialog_id || '');
    const scope = el?.closest?.('.k-composer') ?? app.screenEl;
    const field = scope.querySelector('[data-name="text"]') ?? app.screenEl.querySelector('[data-name="text"]');
    const text = field?.value.trim() ?? '';
    if (!dialog || !text) return;
    field.value = '';
    field.dispatchEvent(new Event('input')); // shrink the field back
    try {
      await app.live.send(dialog, text);
    } catch (e) {
      if (!field.value) field.value = text; // give the text back to retry
      app.toast(errorText(e, 'send_failed'));
    }
  }

  // pickFile opens the browser's file picker and calls fn with the file.
  function pickFile(accept, fn) {
    // At most one picker waits in the page: one the user cancelled is
    // replaced by the next.
    for (const old of document.querySelectorAll('input.k-file-picker')) old.remove();
    const input = document.createElement('input');
    input.type = 'file';
    input.className = 'k-file-picker';
    input.hidden = true;
    if (accept) input.accept = accept;
    input.addEventListener('change', () => {
      const f = input.files?.[0];
      input.remove();
      if (f) fn(f);
    });
    // In the page, so automation (and some browsers) can reach it.
    document.body.append(input);
    input.click();
  }

  function pickMedia(a, el) {
    if (!canRun(a)) return app.toast(t('uploads_soon'));
    if (a.endpoint === AVATAR) {
      pickFile('image/jpeg,image/png,image/gif,image/webp', async (f) => {
        const body = new FormData();
        body.append('file', f);
        try {
          await request(AVATAR, { method: 'PUT', body });
          app.toast(t('photo_updated'));
          app.refresh();
        } catch (e) {
          app.toast(errorText(e));
        }
      });
      return undefined;
    }
    if (!a.dialog_id) {
      pickFile('image/jpeg,image/png,image/gif,image/webp', async (f) => {
        const body = new FormData();
        body.append('file', f);
        try {
          const up = await request(UPLOADS, { method: 'POST', body });
          let keep = app.screenEl.querySelector(`input[type="hidden"][data-name="${a.field}"]`);
          if (!keep) {
            keep = document.createElement('input');
            keep.type = 'hidden';
            keep.dataset.name = a.field;
            app.screenEl.append(keep);
          }
          keep.value = String(up.id);
          el?.classList?.add('k-picked');
          app.toast(t('photo_chosen'));
        } catch (e) {
          app.toast(errorText(e));
        }
      });
      return undefined;
    }
    const dialog = String(a.dialog_id);
    const accept = { image: 'image/*', video: 'video/mp4,video/quicktime,video/webm' }[a.kind] ?? '';
    pickFile(accept, async (f) => {
      // The composer's text goes with the file as its caption.
      const scope = el?.closest?.('.k-composer') ?? app.screenEl;
      const field = scope.querySelector('[data-name="text"]');
      const text = field?.value.trim() ?? '';
      const body = new FormData();
      body.append('file', f);
      try {
        const up = await request(UPLOADS, { method: 'POST', body });
        if (field && text) {
          field.value = '';
          field.dispatchEvent(new Event('input'));
        }
        await app.live.send(dialog, text, [{ upload_id: String(up.id) }]);
      } catch (e) {
        if (field && text && !field.value) field.value = text;
        app.toast(errorText(e, 'send_failed'));
      }
    });
    return undefined;
  }

  return run;
}
