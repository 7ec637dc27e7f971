package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/korobka/korobka/assets/browsertest"
	"github.com/korobka/korobka/screens"
)

// layoutFaults lists what is wrong with how the screen under root is laid
// out, as a person would notice it on a phone:
//   - a text wrapped one character per line (three lines or more, with no
//     more than three characters a line);
//   - an element sticking out of the screen sideways, unless a clipping
//     box around it is meant to cut it, and a vertical scroller (a list)
//     that scrolls sideways;
//   - two siblings drawn over each other (except in a stack, which
//     layers them on purpose, and positioned chrome);
//   - an image that takes no room until it has loaded (the page would
//     jump): measured on a copy of it without a source;
//   - a badge that touches the screen's side edge (less than 4 points
//     from it: a role badge at the end of a row without padding).
const layoutFaults = `(root) => {
	const out = [];
	const name = (el) => el.tagName.toLowerCase() + [...el.classList].map((c) => '.' + c).join('') + (el.dataset.kid ? '#' + el.dataset.kid : '');
	const box = root.getBoundingClientRect();
	const shown = (el) => { const cs = getComputedStyle(el); return cs.display !== 'none' && cs.visibility !== 'hidden' && el.getClientRects().length > 0; };
	const clips = (el) => { const cs = getComputedStyle(el); return cs.overflowX !== 'visible'; };
	const segs = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
	const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
	for (let n = walker.nextNode(); n; n = walker.nextNode()) {
		const text = n.textContent.trim();
		if (!text || !n.parentElement || !shown(n.parentElement)) continue;
		const chars = [...segs.segment(text)].length;
		const r = document.createRange();
		r.selectNodeContents(n);
		const tops = new Set([...r.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top)));
		if (tops.size >= 3 && chars / tops.size <= 3) out.push('one character per line: ' + name(n.parentElement) + ' "' + text.slice(0, 20) + '" on ' + tops.size + ' lines');
	}
	for (const el of root.querySelectorAll('*')) {
		if (!shown(el)) continue;
		const r = el.getBoundingClientRect();
		let clipped = false;
		for (let a = el.parentElement; a && a !== root; a = a.parentElement) if (clips(a)) { clipped = true; break; }
		const cs = getComputedStyle(el);
		if (['auto', 'scroll'].includes(cs.overflowX) && !el.classList.contains('k-horizontal') && el.scrollWidth > el.clientWidth + 1) {
			out.push('scrolls sideways: ' + name(el) + ' (' + el.scrollWidth + ' in ' + el.clientWidth + ')');
		}
		if (!clipped && r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1)) {
			out.push('sticks out sideways: ' + name(el) + ' [' + Math.round(r.left) + ', ' + Math.round(r.right) + '] of [' + Math.round(box.left) + ', ' + Math.round(box.right) + ']');
		}
		if (el.classList.contains('k-stack')) continue;
		// Inline runs (links in a text) wrap around each other by design.
		const kids = [...el.children].filter((c) => shown(c) && !['absolute', 'fixed'].includes(getComputedStyle(c).position) && getComputedStyle(c).display !== 'inline');
		const rects = kids.map((c) => c.getBoundingClientRect());
		for (let i = 0; i < kids.length; i++) {
			for (let j = i + 1; j < kids.length; j++) {
				const a = rects[i], b = rects[j];
				const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
				const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
				if (w > 1 && h > 1) out.push('overlap: ' + name(kids[i]) + ' and ' + name(kids[j]) + ' (' + Math.round(w) + 'x' + Math.round(h) + ')');
			}
		}
	}
	for (const b of root.querySelectorAll('.k-badge')) {
		if (!shown(b)) continue;
		const r = b.getBoundingClientRect();
		if (r.right > box.right - 4 || r.left < box.left + 4) out.push('touches the edge: ' + name(b) + ' "' + b.textContent.slice(0, 20) + '" [' + Math.round(r.left) + ', ' + Math.round(r.right) + '] of [' + Math.round(box.left) + ', ' + Math.round(box.right) + ']');
	}
	for (const img of root.querySelectorAll('img')) {
		if (!shown(img)) continue;
		const c = img.cloneNode();
		c.removeAttribute('src');
		c.removeAttribute('srcset');
		c.alt = '';
		img.after(c);
		const r = c.getBoundingClientRect();
		c.remove();
		if (r.width < 1 || r.height < 1) out.push('image without a size before it loads: ' + name(img) + ' ' + (img.getAttribute('src') ?? ''));
	}
	return [...new Set(out)].slice(0, 12);
}`

// viewports are the phone and tablet sizes every screen is checked at.
var viewports = []struct {
	name string
	w, h int64
}{{"360x640", 360, 640}, {"390x844", 390, 844}, {"768x1024", 768, 1024}}

// TestBrowserLayout opens every screen with each of its fixtures, in
// light and dark, at a small phone, a large phone and a tablet, and fails
// on a layout fault (layoutFaults); a screenshot of each is written to
// $KOROBKA_SCREENSHOTS/layout (or the test's temp dir).
func TestBrowserLayout(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, map[string]string{"KOROBKA_DEV": "1"})
	fixtures, err := screens.FS.ReadDir("fixtures")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(artifactDir(t), "layout")
	icons := map[string][]string{} // mask-image → where it showed
	p := newPerson(t, "designer")
	for _, vp := range viewports {
		if _, err := chromedp.Call(p.Ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: vp.w, Height: vp.h, DeviceScaleFactor: 1, Mobile: true,
		}); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, vp.name), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range fixtures {
			fx, ok := strings.CutSuffix(f.Name(), ".json")
			if !ok {
				continue
			}
			screen, _, _ := strings.Cut(fx, ".")
			for _, theme := range []string{"light", "dark"} {
				lang := "ru"
				if theme == "dark" {
					lang = "en" // both languages, without doubling the run
				}
				where := fmt.Sprintf("%s %s %s", fx, theme, vp.name)
				p.Do("open "+where, chromedp.Navigate(fmt.Sprintf("%s/preview/?open=%s-%s-%s#name=%s&fixture=%s&lang=%s&theme=%s&fill=1",
					e.url, fx, theme, vp.name, screen, fx, lang, theme)))
				p.WaitFor(where, fmt.Sprintf(`document.getElementById('p-frame')?.dataset.theme === %q && !!document.querySelector('#p-frame > .ks-screen, #p-frame > .p-problems')`, theme))
				if msg := eval[string](p, `document.querySelector('#p-frame > .p-problems')?.textContent ?? ''`); msg != "" {
					t.Errorf("%s does not render: %s", where, msg)
					continue
				}
				if w := eval[float64](p, `document.getElementById('p-frame').getBoundingClientRect().width`); int64(w) != vp.w {
					t.Fatalf("%s: the screen is %v wide, want the viewport's %d", where, w, vp.w)
				}
				for _, fault := range eval[[]string](p, `(`+layoutFaults+`)(document.getElementById('p-frame'))`) {
					t.Errorf("%s: %s", where, fault)
				}
				for _, g := range eval[[]string](p, `[...document.querySelectorAll('#p-frame .k-glyph')].map((g) => g.style.maskImage)`) {
					icons[g] = append(icons[g], where)
				}
				p.ScreenshotMin(filepath.Join(dir, vp.name, fx+"-"+theme+".png"), 4) // an empty list on a tablet is mostly background
			}
		}
	}
	// Every icon drawn is a file of the catalogue the server serves.
	iconRE := regexp.MustCompile(`^url\("(icons/[a-z][a-z0-9_]*\.svg)"\)$`)
	for mask, where := range icons {
		m := iconRE.FindStringSubmatch(mask)
		if m == nil {
			t.Errorf("an icon drawn as %q (%s), want url(\"icons/<name>.svg\")", mask, where[0])
			continue
		}
		res, err := http.Get(e.url + "/preview/" + m[1])
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "image/svg+xml") {
			t.Errorf("icon %s (%s): %d %s", m[1], where[0], res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
	if len(icons) < 5 {
		t.Errorf("%d different icons drawn on all screens, want the nav bar's, composer's and more", len(icons))
	}
	for _, s := range p.TakeProblems() {
		// Fixtures name media no server has, in URLs it did not sign:
		// refused (403) or not found (404), never drawn.
		if (strings.Contains(s, "status of 404") || strings.Contains(s, "status of 403")) && strings.Contains(s, "/media/") {
			continue
		}
		t.Errorf("the browser reported: %s", s)
	}
}
