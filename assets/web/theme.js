// theme.js: turns a layout's theme into CSS. A layout carries every token
// of theme.yaml resolved for light or dark (`tokens`), which become the
// --k-* variables style.css draws with, and its named styles, which become
// .ks-<name> classes; so a customer's brand reaches buttons, ticks and
// banners on every screen.

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
  if (num(s.margin) !== null) d.push(`margin:${s.margin}px`);
  if (num(s.radius) !== null) d.push(`border-radius:${s.radius}px`);
  return `.ks-${name}{${d.join(';')}}`;
}

// A constructed sheet, not a <style> element: the page's CSP forbids inline
// styles, and every value in it passed color()/num() above.
const sheet = new CSSStyleSheet();
document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];

// tokenVars turns a layout's `tokens` ({colors, fonts, radii, spacing},
// every token of theme.yaml resolved for the mode) into CSS custom
// properties: --k-<colour> (primary, on-primary, text-secondary, ...),
// --k-font-<name>-size|-weight|-line, --k-radius-<name>, --k-space-<name>.
// style.css draws everything the shell adds by itself from these, so a
// theme.yaml change reaches every screen. Values that are not colours or
// sane sizes are dropped.
export function tokenVars(tokens) {
  const vars = {};
  const tk = tokens && typeof tokens === 'object' ? tokens : {};
  const each = (o, fn) => {
    if (!o || typeof o !== 'object') return;
    for (const [k, v] of Object.entries(o)) if (styleName(k)) fn(k.replace(/_/g, '-'), v);
  };
  each(tk.colors, (k, v) => { if (color(v)) vars[`--k-${k}`] = v; });
  each(tk.fonts, (k, f) => {
    if (!f || typeof f !== 'object') return;
    if (num(f.size) !== null) vars[`--k-font-${k}-size`] = `${f.size}px`;
    if (num(f.line_height) !== null) vars[`--k-font-${k}-line`] = `${f.line_height}px`;
    if (WEIGHT[f.weight]) vars[`--k-font-${k}-weight`] = String(WEIGHT[f.weight]);
  });
  each(tk.radii, (k, v) => { if (num(v) !== null) vars[`--k-radius-${k}`] = `${v}px`; });
  each(tk.spacing, (k, v) => { if (num(v) !== null) vars[`--k-space-${k}`] = `${v}px`; });
  return vars;
}

// applyTheme sets data-theme, the token variables and the .ks-* classes on
// el (the document for the app, the phone frame for the preview). Variables
// of the previous layout that this one lacks are removed, so the defaults
// in style.css apply again.
export function applyTheme(layout, el = document.documentElement) {
  const mode = /dark$/.test(String(layout?.theme ?? '')) ? 'dark' : 'light';
  el.dataset.theme = mode;
  el.style.colorScheme = mode;
  const vars = tokenVars(layout?.tokens);
  for (const name of [...el.style]) {
    if (name.startsWith('--k-') && !Object.hasOwn(vars, name)) el.style.removeProperty(name);
  }
  for (const [name, v] of Object.entries(vars)) el.style.setProperty(name, v);
  const styles = layout?.styles && typeof layout.styles === 'object' ? layout.styles : {};
  const rules = [];
  for (const [name, s] of Object.entries(styles)) {
    if (styleName(name) && s && typeof s === 'object') rules.push(rule(name, s));
  }
  sheet.replaceSync(rules.join('\n'));
}
