package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/korobka/korobka/assets/browsertest"
	"github.com/korobka/korobka/screens"
)

// shot is one shipped screen as the shell opens it.
type shot struct{ screen, hash string }

// shippedShots lists every screen in screens/ with a hash that opens it
// for a viewer who has a dialog with user. A screen added to screens/
// without an entry here fails the test.
func shippedShots(t *testing.T, user, dialog string) []shot {
	t.Helper()
	shots := []shot{
		{"login", "#/login"},
		{"otp", "#/otp?phone=%2B79990000001"},
		{"chat_list", "#/chat_list"},
		{"contacts", "#/contacts"},
		{"profile", "#/profile"},
		{"user", "#/user?user_id=" + user},
		{"chat", "#/chat?dialog_id=" + dialog},
		{"group_chat", "#/group_chat?dialog_id=" + dialog},
		{"group_info", "#/group_info?dialog_id=" + dialog},
		{"news_feed", "#/news_feed"},
		{"tariffs", "#/tariffs"},
		{"welcome", "#/welcome"},
		{"media", "#/media?dialog_id=" + dialog + "&kind=photo"},
		{"faq_videos", "#/faq_videos?dialog_id=" + dialog},
		{"order_service", "#/order_service"},
		{"new_group", "#/new_group"},
		{"catalogue", "#/catalogue"},
	}
	shipped, err := screens.FS.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, s := range shots {
		listed[s.screen] = true
	}
	for _, f := range shipped {
		if n, ok := strings.CutSuffix(f.Name(), ".yaml"); ok && n != "theme" && !listed[n] {
			t.Errorf("screens/%s has no entry in shippedShots", f.Name())
		}
	}
	return shots
}

// offTheme lists the computed colours under root that are not one of
// allowed (rgb() strings) or transparent: a colour the shell or a screen
// hard-codes instead of taking it from the theme.
const offTheme = `(root, allowed) => {
	const ok = new Set([...allowed, 'rgba(0, 0, 0, 0)']);
	const out = new Set();
	for (const el of [root, ...root.querySelectorAll('*')]) {
		if (el.closest('[hidden]')) continue;
		const cs = getComputedStyle(el);
		if (cs.display === 'none') continue;
		for (const p of ['color', 'background-color', 'border-top-color', 'border-bottom-color']) {
			const v = cs.getPropertyValue(p);
			if (!ok.has(v)) out.add(el.tagName.toLowerCase() + '.' + [...el.classList].join('.') + ' ' + p + ': ' + v);
		}
	}
	return [...out].slice(0, 10);
}`

var themeColorRE = regexp.MustCompile(`(?m)^  ([a-z_]+):(\s*)\{ light: "#[0-9A-Fa-f]{6}", dark: "#[0-9A-Fa-f]{6}" \}`)

// grounds are the colour tokens things are drawn on (and on_primary, drawn
// on primary); the others are inks drawn on them.
var grounds = map[string]bool{"background": true, "surface": true, "bubble_own": true, "bubble_other": true,
	"divider": true, "accent_surface": true, "on_primary": true}

// recolour gives every colour token of theme.yaml a new value of its own
// in light and dark and answers them by token. The new values still pass
// lint's contrast check: grounds near white and inks near black in light,
// the other way round in dark.
func recolour(t *testing.T, file string) map[string][2]string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	i := 0
	edited := themeColorRE.ReplaceAllStringFunc(string(src), func(m string) string {
		sub := themeColorRE.FindStringSubmatch(m)
		i++
		c := [2]string{fmt.Sprintf("#%02X%02X%02X", 0x10+i*2, 0x18+i, 0x30-i), fmt.Sprintf("#%02X%02X%02X", 0xF0-i, 0xE8+i, 0xFF-i)}
		if grounds[sub[1]] {
			c = [2]string{fmt.Sprintf("#%02X%02X%02X", 0xFF-i, 0xF8-i, 0xF0+i), fmt.Sprintf("#%02X%02X%02X", 0x10+i, 0x14+i, 0x18-i)}
		}
		out[sub[1]] = c
		return fmt.Sprintf(`  %s:%s{ light: "%s", dark: "%s" }`, sub[1], sub[2], c[0], c[1])
	})
	if len(out) < 10 {
		t.Fatalf("recoloured %d tokens of theme.yaml, want all of them", len(out))
	}
	if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

func rgb(hex string) string {
	n, _ := strconv.ParseUint(hex[1:], 16, 32)
	return fmt.Sprintf("rgb(%d, %d, %d)", n>>16, n>>8&0xFF, n&0xFF)
}

// TestBrowserTheme changes every colour token of theme.yaml and opens
// every screen, light and dark, in /app/ and in the designer preview:
// each token reaches the shell's variables, and every colour drawn is one
// of the theme's.
func TestBrowserTheme(t *testing.T) {
	browsertest.Need(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, screens.FS); err != nil {
		t.Fatal(err)
	}
	colours := recolour(t, filepath.Join(dir, "theme.yaml"))
	e := newEnv(t, map[string]string{"KOROBKA_SCREENS": dir, "KOROBKA_DEV": "1"})
	a, b, dialog := e.pair()
	e.want(e.do("POST", "/v1/dialogs/"+dialog+"/messages", a.AccessToken, map[string]any{"client_id": "1", "text": "Привет, https://example.com"}), 201)
	e.want(e.do("POST", "/v1/dialogs/"+dialog+"/messages", b.AccessToken, map[string]any{"client_id": "1", "text": "Здравствуйте"}), 201)
	e.befriend(a, b)

	p := newPerson(t, "anna")
	p.login(e.url, "8 999 000-00-01", "+79990000001", "111111")
	check := func(where, root string, mode int) {
		t.Helper()
		var allowed []string
		for tok, c := range colours {
			allowed = append(allowed, rgb(c[mode]))
			v := "--k-" + strings.ReplaceAll(tok, "_", "-")
			got := eval[string](p, fmt.Sprintf(`getComputedStyle(%s).getPropertyValue(%q).trim()`, root, v))
			if !strings.EqualFold(got, c[mode]) {
				t.Errorf("%s: %s is %q, want %s from theme.yaml", where, v, got, c[mode])
			}
		}
		js, _ := json.Marshal(allowed)
		if off := eval[[]string](p, fmt.Sprintf(`(%s)(%s, %s)`, offTheme, root, string(js))); len(off) > 0 {
			t.Errorf("%s draws colours that are not the theme's:\n  %s", where, strings.Join(off, "\n  "))
		}
	}
	shots := shippedShots(t, b.User.ID, dialog)
	for mode, scheme := range []string{"light", "dark"} {
		p.SetScheme(scheme)
		for _, s := range shots {
			p.Do("open "+s.screen, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
				`window.__prev = document.querySelector('#screen').firstElementChild; location.hash = %q`, s.hash)))
			p.WaitFor(s.screen+" drawn", fmt.Sprintf(`document.querySelector('#screen').firstElementChild !== window.__prev &&
				document.documentElement.dataset.theme === %q && !!document.querySelector('#screen > .ks-screen, #screen > .k-error')`, scheme))
			check(fmt.Sprintf("/app/ %s (%s)", s.screen, scheme), "document.getElementById('screen')", mode)
		}
	}
	for mode, scheme := range []string{"light", "dark"} {
		for _, s := range shots {
			p.Do("preview "+s.screen, chromedp.Navigate(fmt.Sprintf("%s/preview/?open=%s-%s#name=%s&fixture=%s&lang=ru&theme=%s&caps=composer", e.url, s.screen, scheme, s.screen, s.screen, scheme)))
			p.WaitFor("preview of "+s.screen, fmt.Sprintf(`document.getElementById('p-frame')?.dataset.theme === %q && !!document.querySelector('#p-frame > .ks-screen, #p-frame > .p-problems')`, scheme))
			if msg := eval[string](p, `document.querySelector('#p-frame > .p-problems')?.textContent ?? ''`); msg != "" {
				t.Errorf("preview %s (%s) shows problems: %s", s.screen, scheme, msg)
				continue
			}
			check(fmt.Sprintf("preview %s (%s)", s.screen, scheme), "document.getElementById('p-frame')", mode)
		}
	}
	for _, s := range p.TakeProblems() {
		if strings.Contains(s, "/media/") { // fixtures and the news seed name media no install has
			continue
		}
		t.Errorf("the browser reported: %s", s)
	}
}
