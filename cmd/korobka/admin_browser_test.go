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
	"github.com/korobka/korobka/chat"
)

// TestBrowserAdmin: an admin signs in at /admin/ with a test number,
// finds a user, blocks them (their session ends), and sees the block in
// the audit log. Screenshots of every section are saved to
// KOROBKA_ARTIFACTS (a temporary folder without it).
func TestBrowserAdmin(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, nil)
	anna, boris, dialogID := e.pair()
	e.want(e.do("POST", "/v1/dialogs/"+dialogID+"/messages", anna.AccessToken,
		map[string]any{"client_id": "m1", "text": "Здравствуйте! Есть доставка в субботу?"}), 201)
	e.want(e.do("POST", "/v1/dialogs/"+dialogID+"/messages", boris.AccessToken,
		map[string]any{"client_id": "m2", "text": "Да, с 10 до 18."}), 201)
	if _, _, err := e.app.store.UpsertUser(t.Context(), "+79991230011", e.app.svc.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.store.SetRole(t.Context(), "+79991230011", chat.RoleAdmin); err != nil {
		t.Fatal(err)
	}

	dir := os.Getenv("KOROBKA_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := newPerson(t, "admin")
	b.FailOnProblems()
	b.Do("desktop size", chromedp.EmulateViewport(1280, 800))
	b.Do("open /admin/", chromedp.Navigate(e.url+"/admin/"))
	b.WaitFor("sign-in form", `!document.getElementById('a-login').hidden && document.activeElement?.id === 'a-phone'`)
	b.Screenshot(filepath.Join(dir, "admin-signin.png"))
	b.typeInto("phone", "#a-phone", "+7 999 123-00-11")
	b.tap("get code", "#a-login-button")
	b.WaitFor("code field", `!document.getElementById('a-code-row').hidden`)
	b.typeInto("code", "#a-code", "333333")
	b.tap("sign in", "#a-login-button")
	b.WaitFor("overview", `location.hash === '#/stats' && !!document.querySelector('.a-figure b')`)
	b.Screenshot(filepath.Join(dir, "admin-overview.png"))

	// Find Boris and block him.
	b.tap("users", `.a-side a[data-view="users"]`)
	b.WaitFor("user list", fmt.Sprintf(`!!document.querySelector('tr[data-user="%s"]')`, boris.User.ID))
	b.typeInto("search", `input[name="q"]`, "Бор")
	b.tap("apply", `form.a-toolbar button[type="submit"]`)
	b.WaitFor("one result", fmt.Sprintf(`document.querySelectorAll('tr[data-user]').length === 1 && !!document.querySelector('tr[data-user="%s"]')`, boris.User.ID))
	b.Screenshot(filepath.Join(dir, "admin-users.png"))
	b.tap("Boris", fmt.Sprintf(`tr[data-user="%s"]`, boris.User.ID))
	b.WaitFor("Boris's page", `!!document.querySelector('button[data-action="block"]')`)
	b.typeInto("reason", `input[name="reason"]`, "спам")
	b.tap("block", `button[data-action="block"]`)
	b.WaitFor("blocked", `!!document.querySelector('button[data-action="unblock"]') && !!document.querySelector('[data-field="state"] .a-blocked')`)
	b.Screenshot(filepath.Join(dir, "admin-user-blocked.png"))
	e.wantErr(e.do("GET", "/v1/me", boris.AccessToken, nil), 401, "invalid_token")

	// The dialogs, and one opened (which is audited too).
	b.tap("dialogs", `.a-side a[data-view="dialogs"]`)
	b.WaitFor("dialog list", fmt.Sprintf(`!!document.querySelector('tr[data-dialog="%s"]')`, dialogID))
	b.Screenshot(filepath.Join(dir, "admin-dialogs.png"))
	b.tap("the dialog", fmt.Sprintf(`tr[data-dialog="%s"]`, dialogID))
	b.WaitFor("history", `document.querySelectorAll('.a-message').length === 2`)
	b.Screenshot(filepath.Join(dir, "admin-dialog.png"))

	// A broadcast.
	b.tap("broadcasts", `.a-side a[data-view="broadcasts"]`)
	b.typeInto("text", `textarea[name="text"]`, "В субботу работаем до 18:00")
	b.tap("send", `#a-broadcast button[type="submit"]`)
	b.WaitFor("the broadcast listed", `!!document.querySelector('tr[data-broadcast]')`)
	deadline := time.Now().Add(20 * time.Second)
	for eval[bool](b, `!document.querySelector('tr[data-broadcast] .a-done')`) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		b.Do("reload", chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new HashChangeEvent('hashchange'))`))
		b.WaitFor("the broadcast listed", `!!document.querySelector('tr[data-broadcast]')`)
	}
	b.Screenshot(filepath.Join(dir, "admin-broadcasts.png"))

	// A screen: a broken version is refused with where and why.
	b.tap("screens", `.a-side a[data-view="screens"]`)
	b.tap("login screen", `tr[data-screen="login"]`)
	b.WaitFor("source", `document.querySelector('textarea[name="source"]')?.value.includes('screen: login')`)
	b.Do("break it", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('textarea[name="source"]'); s.value = s.value.replace('type: input', 'type: hologram'); })()`))
	b.tap("upload", `button[data-action="upload"]`)
	b.WaitFor("diagnostics", `!!document.querySelector('.a-diags li')`)
	// The refusal is the one error the browser may report.
	for _, p := range b.TakeProblems() {
		if !strings.Contains(p, "400") {
			t.Errorf("browser reported: %s", p)
		}
	}
	b.Screenshot(filepath.Join(dir, "admin-screen-refused.png"))
	e.want(e.do("GET", "/v1/screens/login", "", nil), 200)

	// The audit log shows the block: who, what, when.
	b.tap("audit", `.a-side a[data-view="audit"]`)
	b.WaitFor("block entry", `[...document.querySelectorAll('tr[data-audit="user.block"]')].some((r) => r.textContent.includes('спам'))`)
	b.WaitFor("dialog view entry", `!!document.querySelector('tr[data-audit="dialog.view"]')`)
	b.Screenshot(filepath.Join(dir, "admin-audit.png"))
	t.Logf("screenshots in %s", dir)
}
