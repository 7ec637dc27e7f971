package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/korobka/korobka/assets/browsertest"
	"github.com/korobka/korobka/screens"
)

// The web shell end to end: real Chromium, the real server, the real
// screens. Two browsers are two people: separate processes and profiles,
// so separate localStorage and sessions.

// pageHooks runs before the shell in every document: alerts are recorded,
// not shown; the offline banner's appearances and the moment the login
// form exists are noted for the test to read.
const pageHooks = `
window.__alerts = [];
window.alert = (m) => window.__alerts.push(String(m));
window.__offline = 0;
new MutationObserver(() => {
  const b = document.getElementById('offline');
  if (b && !b.hidden && !b.__counted) { b.__counted = true; window.__offline++; }
  if (b && b.hidden) b.__counted = false;
  if (window.__interactive === undefined && document.querySelector('input[data-name="phone"]')) {
    window.__interactive = performance.now();
  }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['hidden'] });
window.__bubbles = (text) => [...document.querySelectorAll('#screen .k-message-bubble')]
  .filter((b) => b.querySelector('.k-body')?.textContent === text);
`

// person is one browser: a headless Chromium with its own profile.
type person struct{ *browsertest.Browser }

func newPerson(t *testing.T, name string) *person {
	t.Helper()
	return &person{browsertest.New(t, name, pageHooks, 4*time.Minute)}
}

func eval[T any](p *person, expr string) T {
	p.T.Helper()
	return browsertest.Eval[T](p.Browser, expr)
}

// tap clicks the element a selector finds once it exists. The click is
// dispatched in the page, so a screen re-rendered between the query and
// the click cannot swallow it.
func (p *person) tap(what, sel string) {
	p.T.Helper()
	p.WaitFor(what, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
	p.Do(what, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).click()`, sel)))
}

// typeInto focuses a field and types into it key by key.
func (p *person) typeInto(what, sel, text string) {
	p.T.Helper()
	p.WaitFor(what, fmt.Sprintf(`!!document.querySelector(%q)`, sel))
	p.Do(what, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// login signs in through the login and otp screens. The number is typed
// as people write it at home; the otp screen gets it in E.164 from the
// server's answer.
func (p *person) login(base, typed, e164, code string) (interactive float64) {
	p.T.Helper()
	p.Do("open the app", chromedp.Navigate(base+"/"))
	p.WaitFor("login screen", `location.hash === '#/login' && document.activeElement?.dataset?.name === 'phone'`)
	interactive = eval[float64](p, `window.__interactive`)
	p.typeInto("phone", `input[data-name="phone"]`, typed)
	p.tap("get code", `#screen button.k-primary`)
	p.WaitFor("otp screen", fmt.Sprintf(`location.hash === '#/otp?phone=%s' && !!document.querySelector('input[data-name="code"]')`,
		strings.ReplaceAll(e164, "+", "%2B")))
	p.typeInto("code", `input[data-name="code"]`, code)
	p.tap("sign in", `#screen button.k-primary`)
	p.WaitFor("chat list", `location.hash === '#/chat_list' && !!document.querySelector('#screen .k-list[data-kid="dialogs"]')`)
	return interactive
}

// setName saves a first name on the profile screen.
func (p *person) setName(name string) {
	p.T.Helper()
	p.tap("profile", `#screen .k-nav-bar button[aria-label="profile"]`)
	p.WaitFor("profile screen", `location.hash === '#/profile' && !!document.querySelector('input[data-name="first_name"]')`)
	p.typeInto("first name", `input[data-name="first_name"]`, name)
	p.tap("save", `#screen button.k-primary`)
	// Saved and re-rendered: the avatar's initials come from the server.
	p.WaitFor("saved name", fmt.Sprintf(`document.querySelector('#screen [data-kid="my-avatar"] .k-initials')?.textContent === %q`, name[:1]))
	p.tap("back", `#screen .k-nav-bar button[aria-label]`)
	p.WaitFor("chat list", `location.hash === '#/chat_list' && !!document.querySelector('#screen .k-list[data-kid="dialogs"]')`)
}

// send types a message into the open chat's composer and sends it.
func (p *person) send(text string) {
	p.T.Helper()
	p.typeInto("message", `#screen .k-composer textarea[data-name="text"]`, text)
	p.tap("send", `#screen .k-composer button.k-primary`)
}

// count is how many bubbles show exactly text.
func (p *person) count(text string) int {
	p.T.Helper()
	return eval[int](p, fmt.Sprintf(`window.__bubbles(%q).length`, text))
}

func TestBrowserChat(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, nil)
	anna := newPerson(t, "anna")
	boris := newPerson(t, "boris")

	cold := anna.login(e.url, "8 999 000-00-01", "+79990000001", "111111")
	warm := boris.login(e.url, "8 (999) 000 00 02", "+79990000002", "222222")
	t.Logf("first screen interactive (login form drawn and focused) on loopback: %.0f ms in a fresh browser, %.0f ms in the second", cold, warm)
	nav := eval[string](anna, `(() => { const n = performance.getEntriesByType('navigation')[0]; return n ? 'DOMContentLoaded ' + Math.round(n.domContentLoadedEventEnd) + ' ms, load ' + Math.round(n.loadEventEnd) + ' ms' : ''; })()`)
	t.Logf("navigation timing of the shell's page: %s", nav)

	anna.setName("Anna")
	boris.setName("Boris")

	// Anna adds Boris's number on the contacts screen, opens his profile
	// and writes to him.
	anna.tap("contacts", `#screen .k-nav-bar button[aria-label="contacts"]`)
	anna.WaitFor("contacts screen", `location.hash === '#/contacts' && !!document.querySelector('input[data-name="phone"]')`)
	anna.typeInto("contact's number", `input[data-name="phone"]`, "+7 999 000-00-02")
	anna.tap("add", `#screen button.k-primary`)
	anna.WaitFor("Boris in contacts", `[...document.querySelectorAll('#screen .k-row[data-kid^="user-"]')].some((r) => r.textContent.includes('Boris'))`)
	anna.Do("open Boris", chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('#screen .k-row[data-kid^="user-"]')].find((r) => r.textContent.includes('Boris')).click()`))
	anna.WaitFor("Boris's profile", `location.hash.startsWith('#/user?user_id=') && document.querySelector('#screen .k-nav-bar .k-title')?.textContent === 'Boris'`)
	anna.tap("write a message", `#screen button.k-primary`)
	anna.WaitFor("chat with Boris", `location.hash.startsWith('#/chat?dialog_id=') && !!document.querySelector('#screen .k-composer textarea')`)
	dialog := eval[string](anna, `new URLSearchParams(location.hash.split('?')[1]).get('dialog_id')`)

	// Anna writes; Boris, on his chat list, gets the dialog and a delivery
	// receipt goes back; opening the chat turns Anna's tick to read.
	const hello = "Hello Boris"
	anna.send(hello)
	anna.WaitFor("own bubble", fmt.Sprintf(`window.__bubbles(%q).length === 1 && window.__bubbles(%q)[0].classList.contains('k-own')`, hello, hello))
	anna.WaitFor("delivered tick", fmt.Sprintf(`['delivered','read'].includes(window.__bubbles(%q)[0]?.querySelector('.k-ticks')?.dataset.status)`, hello))
	if st := eval[string](anna, fmt.Sprintf(`window.__bubbles(%q)[0].querySelector('.k-ticks').dataset.status`, hello)); st != "delivered" {
		t.Errorf("Anna's tick before Boris opened the chat = %q, want delivered", st)
	}
	boris.WaitFor("dialog in the chat list", fmt.Sprintf(`!!document.querySelector('#screen .k-row[data-kid="dialog-%s"]')`, dialog))
	boris.tap("open the dialog", fmt.Sprintf(`#screen .k-row[data-kid="dialog-%s"]`, dialog))
	boris.WaitFor("Anna's message", fmt.Sprintf(`window.__bubbles(%q).length === 1 && window.__bubbles(%q)[0].classList.contains('k-other')`, hello, hello))
	anna.WaitFor("read tick", fmt.Sprintf(`window.__bubbles(%q)[0]?.querySelector('.k-ticks')?.dataset.status === 'read' && window.__bubbles(%q)[0].querySelector('.k-ticks').textContent === '✓✓'`, hello, hello))

	// And back: Anna has the chat open, so Boris's tick turns read too.
	const reply = "Hi Anna"
	boris.send(reply)
	anna.WaitFor("Boris's reply", fmt.Sprintf(`window.__bubbles(%q).length === 1`, reply))
	boris.WaitFor("read tick on the reply", fmt.Sprintf(`window.__bubbles(%q)[0]?.querySelector('.k-ticks')?.dataset.status === 'read'`, reply))

	// Anna attaches a photo with the composer's text as its caption; Boris
	// sees the re-encoded upload as an image in the bubble.
	photo := filepath.Join(t.TempDir(), "office.png")
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, gradient(64, 48)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(photo, pngBuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	const caption = "Our office"
	anna.typeInto("caption", `#screen .k-composer textarea[data-name="text"]`, caption)
	anna.tap("attach", `#screen .k-composer button[aria-label="attach"]`)
	anna.Do("pick the photo", chromedp.SetUploadFiles(chromedp.CSS(`input.k-file-picker`), []string{photo}))
	anna.WaitFor("own photo bubble", fmt.Sprintf(`window.__bubbles(%q).length === 1 && !!window.__bubbles(%q)[0].querySelector('img')`, caption, caption))
	src := eval[string](anna, fmt.Sprintf(`window.__bubbles(%q)[0].querySelector('img').getAttribute('src')`, caption))
	if path, query, _ := strings.Cut(src, "?"); !strings.HasPrefix(path, "/media/uploads/") || !strings.HasSuffix(path, ".jpg") ||
		!strings.HasPrefix(query, "dialog="+dialog+"&") {
		t.Fatalf("Anna's photo bubble shows %q, want an upload URL signed for the dialog", src)
	}
	boris.WaitFor("Anna's photo", fmt.Sprintf(`window.__bubbles(%q)[0]?.querySelector('img')?.getAttribute('src') === %q`, caption, src))
	boris.WaitFor("the photo loaded", fmt.Sprintf(`(() => { const i = window.__bubbles(%q)[0].querySelector('img'); return i.complete && i.naturalWidth === 64 && i.naturalHeight === 48; })()`, caption))
	if v := eval[string](anna, `document.querySelector('#screen .k-composer textarea[data-name="text"]').value`); v != "" {
		t.Errorf("the composer still holds %q after sending the caption", v)
	}

	// Markup in a message is text on the other side.
	anna.send(xssText)
	boris.WaitFor("the markup as text", fmt.Sprintf(`window.__bubbles(%q).length === 1`, xssText))
	if n := eval[int](boris, `document.querySelectorAll('#screen img[src="x"], #screen [onerror]').length`); n != 0 {
		t.Errorf("Boris's page holds %d elements made from the message's markup, want 0", n)
	}
	if n := eval[int](boris, `window.__alerts.length`); n != 0 {
		t.Errorf("window.alert called %d times in Boris's browser, want 0", n)
	}

	// The connection drops (the server closes every socket, as after a
	// Redis failover) while Anna sends: both show the offline banner,
	// reconnect by themselves, sync, and show every message once.
	for _, p := range []*person{anna, boris} {
		p.TakeProblems() // nothing expected so far; checked below
		p.WaitFor("connected", `document.getElementById('offline').hidden`)
	}
	e.app.gateway.Reset()
	offline := []string{"while you were away 1", "while you were away 2", "while you were away 3"}
	for _, m := range offline {
		anna.send(m)
		anna.WaitFor("sent "+m, fmt.Sprintf(`window.__bubbles(%q).length === 1`, m))
	}
	for _, p := range []*person{anna, boris} {
		p.WaitFor("offline banner shown", `window.__offline >= 1`)
		for _, m := range offline {
			p.WaitFor("got "+m, fmt.Sprintf(`window.__bubbles(%q).length === 1`, m))
		}
		p.WaitFor("back online", `document.getElementById('offline').hidden`)
	}
	all := append([]string{hello, reply, caption, xssText}, offline...)
	wantOnce := func() {
		t.Helper()
		for _, p := range []*person{anna, boris} {
			if n := eval[int](p, `document.querySelectorAll('#screen .k-message-bubble').length`); n != len(all) {
				t.Errorf("%s sees %d bubbles, want %d", p.Name, n, len(all))
			}
			for _, m := range all {
				if n := p.count(m); n != 1 {
					t.Errorf("%s sees %q %d times, want once", p.Name, m, n)
				}
			}
		}
	}
	wantOnce()
	// Connection loss makes Chromium log the failed reconnect attempts,
	// if any; those are the expected symptom, not a fault.
	for _, p := range []*person{anna, boris} {
		for _, s := range p.TakeProblems() {
			if !strings.Contains(s, "WebSocket") {
				t.Errorf("%s's browser reported during the outage: %s", p.Name, s)
			}
		}
	}

	// Every shipped screen, light and dark, with real data.
	borisID := eval[string](boris, `JSON.parse(localStorage.getItem('korobka.session')).user.id`)
	dir := os.Getenv("KOROBKA_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shots := []struct{ screen, hash string }{
		{"login", "#/login"},
		{"otp", "#/otp?phone=%2B79990000001"},
		{"chat_list", "#/chat_list"},
		{"contacts", "#/contacts"},
		{"profile", "#/profile"},
		{"user", "#/user?user_id=" + borisID},
		{"chat", "#/chat?dialog_id=" + dialog},
		{"group_chat", "#/group_chat?dialog_id=" + dialog},
		{"group_info", "#/group_info?dialog_id=" + dialog},
		{"new_group", "#/new_group"},
		{"news_feed", "#/news_feed"},
		{"tariffs", "#/tariffs"},
	}
	shipped, err := os.ReadDir("../../screens")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range shipped {
		if n, ok := strings.CutSuffix(f.Name(), ".yaml"); ok && n != "theme" {
			want = append(want, n)
		}
	}
	if len(want) != len(shots) {
		t.Errorf("screens/ has %v, the screenshot list %d entries: add the new screen", want, len(shots))
	}
	for _, theme := range []string{"light", "dark"} {
		anna.SetScheme(theme)
		for _, s := range shots {
			anna.Do("open "+s.screen, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
				`window.__prev = document.querySelector('#screen').firstElementChild; location.hash = %q`, s.hash)))
			anna.WaitFor(s.screen+" drawn", fmt.Sprintf(`document.querySelector('#screen').firstElementChild !== window.__prev &&
				document.documentElement.dataset.theme === %q && !!document.querySelector('#screen > .ks-screen, #screen > .k-error')`, theme))
			if msg := eval[string](anna, `document.querySelector('#screen > .k-error')?.textContent ?? ''`); msg != "" {
				t.Errorf("%s (%s): the shell shows an error: %s", s.screen, theme, msg)
				continue
			}
			anna.Screenshot(filepath.Join(dir, "screen-"+s.screen+"-"+theme+".png"))
		}
	}
	anna.SetScheme("light")
	anna.Do("back to the chat", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = '#/chat?dialog_id=%s'`, dialog)))
	anna.WaitFor("chat drawn", `document.querySelectorAll('#screen .k-message-bubble').length > 0`)
	wantOnce() // still once each, after all that
	if n := eval[int](boris, `window.__alerts.length`); n != 0 {
		t.Errorf("window.alert called %d times in Boris's browser, want 0", n)
	}
	for _, p := range []*person{anna, boris} {
		for _, s := range p.TakeProblems() {
			// The news collection's seed (screens/content/news.yaml) points
			// at sample media that no install has: a known gap.
			if strings.Contains(s, "/media/news/") {
				continue
			}
			t.Errorf("%s's browser reported: %s", p.Name, s)
		}
	}
}

const xssText = "<img src=x onerror=alert(1)>"

// TestBrowserPreview opens the designer preview on the real server with a
// watched folder: a screen with a fixture, then a saved edit redraws it,
// and a broken file shows its diagnostics in place of the screen.
func TestBrowserPreview(t *testing.T) {
	browsertest.Need(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, screens.FS); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, map[string]string{"KOROBKA_SCREENS": dir, "KOROBKA_DEV": "1"})
	p := newPerson(t, "designer")
	p.Do("open preview", chromedp.Navigate(e.url+"/preview/#name=chat&fixture=chat.empty&lang=ru&theme=dark&caps=composer"))
	p.WaitFor("empty chat in the phone", `document.getElementById('p-frame').textContent.includes('Поздоровайтесь!')`)
	p.WaitFor("dark and composer", `document.getElementById('p-frame').dataset.theme === 'dark' && !!document.querySelector('#p-frame .k-composer')`)
	p.WaitFor("yaml source", `document.querySelector('#p-source .p-line')?.textContent === 'screen: chat'`)
	p.WaitFor("event stream open", `document.getElementById('p-status').textContent === 'live reload on'`)

	file := filepath.Join(dir, "fragments", "composer.yaml")
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(orig), "placeholder: { t: chat.placeholder }", `placeholder: "Type here, designer"`, 1)
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	p.WaitFor("edit shown", `document.querySelector('#p-frame .k-composer textarea')?.placeholder === 'Type here, designer'`)

	if err := os.WriteFile(file, []byte(strings.Replace(edited, "type: composer", "type: composr", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	p.WaitFor("diagnostics in place", `!!document.querySelector('#p-frame .p-problems') &&
		document.querySelector('#p-frame .p-problems').textContent.includes('fragments/composer.yaml')`)
	for _, s := range p.TakeProblems() {
		// Fixtures are sample data: their avatars name media no server has.
		if strings.Contains(s, "404") && strings.Contains(s, "/media/") {
			continue
		}
		t.Errorf("the preview's browser reported: %s", s)
	}
}
