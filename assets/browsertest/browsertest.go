// Package browsertest drives Debian's headless Chromium for the web shell's
// tests: the shell's own (assets) and the end-to-end ones against the real
// server (cmd/korobka). Every console error, uncaught exception and browser
// log error is recorded, so a test can insist on a clean happy path.
package browsertest

import (
	"bytes"
	"context"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium is where Debian's chromium package puts the browser; .ci/run
// installs it.
const Chromium = "/usr/bin/chromium"

// Need skips the test when Chromium is missing, or fails it when
// KOROBKA_TEST_REQUIRE_SERVICES is set, as in CI, where a skip would hide
// that the browser tests did not run.
func Need(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		if os.Getenv("KOROBKA_TEST_REQUIRE_SERVICES") != "" {
			t.Fatalf("chromium not installed (%v): apt-get install chromium", err)
		}
		t.Skip("chromium not installed: apt-get install chromium")
	}
}

// Browser is one headless Chromium with its own profile, so two Browsers
// are two people: separate storage and sessions.
type Browser struct {
	T    *testing.T
	Name string
	Ctx  context.Context
	// Poll bounds WaitFor.
	Poll time.Duration

	mu       sync.Mutex
	problems []string
}

// New starts a browser for the test (Need first). boot runs before the
// page's own scripts in every document; timeout bounds the whole session.
// It is stopped when the test ends.
func New(t *testing.T, name, boot string, timeout time.Duration) *Browser {
	t.Helper()
	Need(t)
	b := &Browser{T: t, Name: name, Poll: 20 * time.Second}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(Chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(420, 860),
	)
	t.Cleanup(cancelA)
	tab, cancelB := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(cancelB)
	// The first call starts the browser and must not carry the timeout.
	if _, err := chromedp.Call(tab, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(tab, timeout)
	t.Cleanup(cancelT)
	b.Ctx = ctx
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: boot}); err != nil {
		t.Fatal(err)
	}
	return b
}

// FailOnProblems makes every problem the browser reports fail the test
// when it ends.
func (b *Browser) FailOnProblems() {
	b.T.Cleanup(func() {
		for _, p := range b.TakeProblems() {
			b.T.Errorf("%s: browser reported: %s", b.Name, p)
		}
	})
}

// listen runs in the tab's event loop: it only records.
func (b *Browser) listen(ev any) {
	var s string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			s = "console." + string(ev.Type) + ": " + strings.Join(args, " ")
		}
	case *runtime.EventExceptionThrown:
		s = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			s += " " + ev.ExceptionDetails.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level == cdplog.EntryLevelError {
			s = "log: " + ev.Entry.Text + " " + ev.Entry.URL
		}
	}
	if s != "" {
		b.mu.Lock()
		b.problems = append(b.problems, s)
		b.mu.Unlock()
	}
}

// TakeProblems returns and forgets what the browser reported.
func (b *Browser) TakeProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.problems
	b.problems = nil
	return out
}

// Do runs actions, failing the test on error.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.T.Helper()
	if err := chromedp.Do(b.Ctx, actions...); err != nil {
		b.T.Fatalf("%s: %s: %v", b.Name, what, err)
	}
}

// WaitFor polls a JavaScript condition until it holds.
func (b *Browser) WaitFor(what, expr string) {
	b.T.Helper()
	if _, err := chromedp.Run(b.Ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(b.Poll))); err != nil {
		hash, _ := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`location.hash`))
		b.T.Fatalf("%s: wait for %s: %v (at %s)", b.Name, what, err, hash)
	}
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](b *Browser, expr string) T {
	b.T.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.T.Fatalf("%s: %s: %v", b.Name, expr, err)
	}
	return v
}

// SetScheme switches prefers-color-scheme, which the shell follows.
func (b *Browser) SetScheme(scheme string) {
	b.T.Helper()
	_, err := chromedp.Call(b.Ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	})
	if err != nil {
		b.T.Fatalf("%s: emulate %s: %v", b.Name, scheme, err)
	}
}

// Screenshot saves a PNG of the page to path and fails the test when it is
// blank (luminance spread under 8): a screen that silently draws nothing
// must not pass.
func (b *Browser) Screenshot(path string) {
	b.T.Helper()
	b.ScreenshotMin(path, 8)
}

// ScreenshotMin is Screenshot with the luminance spread below which the
// page counts as blank.
func (b *Browser) ScreenshotMin(path string, minSpread float64) {
	t := b.T
	t.Helper()
	buf, err := chromedp.Run(b.Ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	var n, sum, sq float64
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			l := (0.299*float64(cr) + 0.587*float64(cg) + 0.114*float64(cb)) / 257
			n++
			sum += l
			sq += l * l
		}
	}
	mean := sum / n
	sd := math.Sqrt(max(sq/n-mean*mean, 0))
	if sd < minSpread {
		t.Errorf("screenshot %s looks blank: luminance stddev %.2f, want >= %.0f", path, sd, minSpread)
	}
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (luminance mean %.0f, stddev %.1f)", filepath.Base(path), mean, sd)
}
