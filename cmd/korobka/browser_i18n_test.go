package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/korobka/korobka/assets/browsertest"
)

// inRussian makes the page's languages Russian, as a phone set to Russian
// reports them.
const inRussian = `
Object.defineProperty(Navigator.prototype, 'languages', { get: () => ['ru-RU', 'ru'] });
Object.defineProperty(Navigator.prototype, 'language', { get: () => 'ru-RU' });
`

// TestBrowserErrorsInRussian: in a Russian shell, an error answer reads in
// Russian (the server follows Accept-Language) and an unreachable server
// shows the shell's own Russian message, never the browser's "Failed to
// fetch"; the error page is Russian too and leads back.
func TestBrowserErrorsInRussian(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, nil)
	p := &person{browsertest.New(t, "anna", pageHooks+inRussian, 4*time.Minute)}
	p.Do("open the app", chromedp.Navigate(e.url+"/"))
	p.WaitFor("login screen", `location.hash === '#/login' && !!document.querySelector('input[data-name="phone"]')`)
	p.typeInto("phone", `input[data-name="phone"]`, "8 999 000-00-01")
	p.tap("get code", `#screen button.k-primary`)
	p.WaitFor("otp screen", `location.hash.startsWith('#/otp') && !!document.querySelector('input[data-name="code"]')`)
	p.typeInto("code", `input[data-name="code"]`, "000000")
	p.tap("sign in", `#screen button.k-primary`)
	const wrong = "Код неверный или устарел. Проверьте последнее SMS или запросите новый код."
	p.WaitFor("Russian wrong-code toast", fmt.Sprintf(`!document.getElementById('toast').hidden && document.getElementById('toast').textContent === %q`, wrong))

	// The server cannot be reached: fetch fails as it does offline.
	p.Do("go offline", chromedp.Evaluate[chromedp.Void](`document.getElementById('toast').hidden = true;
		window.fetch = () => Promise.reject(new TypeError('Failed to fetch'))`))
	p.tap("sign in offline", `#screen button.k-primary`)
	p.WaitFor("a toast", `!document.getElementById('toast').hidden`)
	if got := eval[string](p, `document.getElementById('toast').textContent`); got != "Нет связи с сервером. Проверьте интернет и попробуйте ещё раз." {
		t.Errorf("offline toast %q, want the shell's Russian network message", got)
	}
	p.Do("open a screen offline", chromedp.Evaluate[chromedp.Void](`location.hash = '#/login?x=1'`))
	p.WaitFor("error page", `!!document.querySelector('#screen > .k-error')`)
	page := eval[string](p, `document.querySelector('#screen > .k-error').innerText`)
	for _, want := range []string{"Экран не открылся", "Нет связи с сервером", "Повторить", "Ко входу"} {
		if !strings.Contains(page, want) {
			t.Errorf("error page %q lacks %q", page, want)
		}
	}
	p.Screenshot(filepath.Join(artifactDir(t), "error-page-ru.png"))
	if strings.Contains(page, "fetch") {
		t.Errorf("error page shows a raw exception: %q", page)
	}
	for _, s := range p.TakeProblems() {
		if strings.Contains(s, "400") { // the wrong code's answer
			continue
		}
		t.Errorf("the browser reported: %s", s)
	}
}

// artifactDir is where browser tests write screenshots:
// $KOROBKA_SCREENSHOTS (or $KOROBKA_ARTIFACTS) when set, else a folder of
// the test's temp dir.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KOROBKA_SCREENSHOTS")
	if dir == "" {
		dir = os.Getenv("KOROBKA_ARTIFACTS")
	}
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
