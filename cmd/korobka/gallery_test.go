package main

import (
	"bytes"
	"flag"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/korobka/korobka/assets/browsertest"
)

// updateGallery rewrites docs/gallery/ from this run's screenshots:
// go test ./cmd/korobka -run TestBrowserBrandGallery -update-gallery
var updateGallery = flag.Bool("update-gallery", false, "rewrite docs/gallery from the screenshots")

// maxGalleryPNG bounds each picture committed in docs/gallery.
const maxGalleryPNG = 60 << 10

// closeEventStreams closes the preview's event stream when a page goes
// away, so the gallery's many page loads never wait for a connection that
// a stream of an earlier page still holds (browsers allow six per host).
const closeEventStreams = `(() => {
  const ES = window.EventSource, open = [];
  window.EventSource = class extends ES { constructor(...a) { super(...a); open.push(this); } };
  addEventListener('pagehide', () => open.forEach((s) => s.close()));
})();`

// TestBrowserBrandGallery draws every screen with its fixture in the
// designer preview, in both brands (theme.yaml and themes/meridian) and
// both modes, and saves each phone as a PNG (KOROBKA_ARTIFACTS, else a
// temporary folder). Each brand's screen background is its own colour, the
// two brands never draw the same picture, and no screen fails to render.
func TestBrowserBrandGallery(t *testing.T) {
	browsertest.Need(t)
	dir := os.Getenv("KOROBKA_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("../../screens")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range entries {
		if n, ok := strings.CutSuffix(f.Name(), ".yaml"); ok && n != "theme" {
			names = append(names, n)
		}
	}
	brands := []struct{ name, env, light, dark string }{
		{"default", "", "rgb(255, 255, 255)", "rgb(14, 16, 20)"},
		{"meridian", "meridian", "rgb(251, 250, 247)", "rgb(15, 20, 18)"},
	}
	shots := map[string][]byte{}
	for _, b := range brands {
		e := newEnv(t, map[string]string{"KOROBKA_DEV": "1", "KOROBKA_BRAND": b.env})
		p := &person{browsertest.New(t, "designer-"+b.name, closeEventStreams, 4*time.Minute)}
		for _, mode := range []string{"light", "dark"} {
			for _, n := range names {
				// A new document each time (the query differs): the preview
				// reads its hash when it loads.
				p.Do("open "+n, chromedp.Navigate(fmt.Sprintf("%s/preview/?%s-%s#name=%s&fixture=%s&lang=en&theme=%s", e.url, n, mode, n, n, mode)))
				p.WaitFor(n+" drawn", fmt.Sprintf(`(() => {
					const f = document.getElementById('p-frame');
					return f.dataset.theme === %q && !!f.querySelector('.ks-screen, .p-problems') &&
						document.querySelector('#p-source .p-line')?.textContent === 'screen: %s' &&
						[...f.querySelectorAll('img')].filter((i) => i.loading !== 'lazy').every((i) => i.complete);
				})()`, mode, n))
				if msg := eval[string](p, `document.querySelector('#p-frame .p-problems')?.textContent ?? ''`); msg != "" {
					t.Errorf("%s %s %s: the preview shows problems: %s", b.name, n, mode, msg)
					continue
				}
				want := b.light
				if mode == "dark" {
					want = b.dark
				}
				if bg := eval[string](p, `getComputedStyle(document.querySelector('#p-frame .ks-screen')).backgroundColor`); bg != want {
					t.Errorf("%s %s %s: screen background %s, want the brand's %s", b.name, n, mode, bg, want)
				}
				shot, err := chromedp.Run(p.Ctx, chromedp.ScreenshotScale(chromedp.ID("p-frame"), 0.5))
				if err != nil {
					t.Fatalf("screenshot %s: %v", n, err)
				}
				if _, err := png.Decode(bytes.NewReader(shot)); err != nil {
					t.Fatalf("screenshot %s: %v", n, err)
				}
				key := n + "-" + mode + "-" + b.name
				shots[key] = shot
				if err := os.WriteFile(filepath.Join(dir, "gallery-"+key+".png"), shot, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, s := range p.TakeProblems() {
			// Fixtures are sample data: their pictures name media no server
			// has (404) or signed for another server (403).
			if (strings.Contains(s, "404") || strings.Contains(s, "403")) && strings.Contains(s, "/media/") {
				continue
			}
			t.Errorf("%s's browser reported: %s", p.Name, s)
		}
	}
	for _, n := range names {
		for _, mode := range []string{"light", "dark"} {
			if bytes.Equal(shots[n+"-"+mode+"-default"], shots[n+"-"+mode+"-meridian"]) {
				t.Errorf("%s %s looks the same in both brands", n, mode)
			}
		}
	}
	doc := readRepoFile(t, "docs/screens.md")
	for _, n := range names {
		if !strings.Contains(doc, "(gallery/"+n+"-light-default.png)") {
			t.Errorf("docs/screens.md's gallery lacks %s: add its row", n)
		}
	}
	if *updateGallery {
		gallery := filepath.Join("..", "..", "docs", "gallery")
		if err := os.MkdirAll(gallery, 0o755); err != nil {
			t.Fatal(err)
		}
		for key, shot := range shots {
			if len(shot) > maxGalleryPNG {
				t.Errorf("gallery %s is %d bytes, over %d", key, len(shot), maxGalleryPNG)
				continue
			}
			if err := os.WriteFile(filepath.Join(gallery, key+".png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
