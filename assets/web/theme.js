// theme.js: turns a layout's theme into CSS. A layout carries its named
// styles already resolved for light or dark; we expose them as .ks-<name>
// classes and derive the base colour tokens (--k-*) that style.css uses,
// so a customer's brand colours reach buttons, ticks and banners too.

const HEX = /^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;
const NAME = /^[A-Za-z0-9_-]{1,64}$/;

// color returns v when it is a theme colour (#RRGGBB or #RRGGBBAA), else
// null: a value that is not a colour never reaches a stylesheet.
export const color = (v) => (typeof v === 'string' && HEX.test(v) ? v : null);

// num returns v when it is a sane non-negative size, else null.
export const num = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v < 1e4 ? v : null);

export const styleName = (v) => (typeof v === 'string' && NAME.test(v) ? v : null);

const dark = matchMedia('(prefers-color-scheme: dark)');

// preferredTheme is what the screen is requested with: the system setting.
export const preferredTheme = () => (dark.matches ? 'dark' : 'light');

export function onThemeChange(fn) {
  dark.addEventListener('change', () => fn(preferredTheme()));
}

// Where each base token can be read from the styles a layout carries. A
// layout only has the styles it uses, so what we learn is remembered per
// mode and defaults in style.css cover the rest.
const TOKENS = {
  'background': [['screen', 'background']],
  'text': [['body', 'color'], ['title', 'color'], ['large_title', 'color'], ['bubble_other', 'color']],
  'text-secondary': [['muted', 'color'], ['caption', 'color']],
  'surface': [['card', 'background']],
  'primary': [['highlight', 'background'], ['price', 'color']],
  'on-primary': [['highlight', 'color']],
  'danger': [['error', 'color']],
  'bubble-own': [['bubble_own', 'background']],
  'bubble-other': [['bubble_other', 'background']],
};

const WEIGHT = { regular: 400, medium: 500, semibold: 600, bold: 700 };

function rule(name, s) {
  const d = [];
  const c = color(s.color);
  const bg = color(s.background);
  if (c) d.push(`color:${c}`);
  if (bg) d.push(`background-color:${bg}`);
  const f = s.font && typeof s.font === 'object' ? s.font : {};
  if (num(f.size) !== null) d.push(`font-size:${f.size}px`);
  if (WEIGHT[f.weight]) d.push(`font-weight:${WEIGHT[f.weight]}`);
  if (num(f.line_height) !== null) d.push(`line-height:${f.line_height}px`);
  if (num(s.padding) !== null) d.push(`padding:${s.padding}px`);
  if (num(s.radius) !== null) d.push(`border-radius:${s.radius}px`);
  return `.ks-${name}{${d.join(';')}}`;
}

// A constructed sheet, not a <style> element: the page's CSP forbids inline
// styles, and every value in it passed color()/num() above.
const sheet = new CSSStyleSheet();
document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];

// applyTheme sets data-theme and the colour tokens on el (the document for
// the app, the phone frame for the preview) and the .ks-* classes.
export function applyTheme(layout, el = document.documentElement, remember = true) {
  const mode = /dark$/.test(String(layout?.theme ?? '')) ? 'dark' : 'light';
  el.dataset.theme = mode;
  el.style.colorScheme = mode;
  const styles = layout?.styles && typeof layout.styles === 'object' ? layout.styles : {};
  const key = `korobka.tokens.${mode}`;
  let known = {};
  if (remember) {
    try { known = JSON.parse(localStorage.getItem(key) ?? '{}') ?? {}; } catch { /* start afresh */ }
  }
  for (const [tok, sources] of Object.entries(TOKENS)) {
    for (const [s, prop] of sources) {
      const v = color(styles[s]?.[prop]);
      if (v) { known[tok] = v; break; }
    }
    const v = color(known[tok]);
    if (v) el.style.setProperty(`--k-${tok}`, v);
    else el.style.removeProperty(`--k-${tok}`);
  }
  if (remember) localStorage.setItem(key, JSON.stringify(known));
  const rules = [];
  for (const [name, s] of Object.entries(styles)) {
    if (styleName(name) && s && typeof s === 'object') rules.push(rule(name, s));
  }
  sheet.replaceSync(rules.join('\n'));
}
