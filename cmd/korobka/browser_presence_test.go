package main

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/korobka/korobka/assets/browsertest"
)

// TestBrowserPresence: a partner who is already online when the chat is
// opened shows as online in the chat's header, then typing while they
// type, then "last seen" when they leave.
func TestBrowserPresence(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, nil)
	a, b, dialog := e.pair() // Анна and Борис, with their dialog
	e.befriend(a, b)         // each in the other's book: they share presence

	boris := newPerson(t, "boris")
	boris.login(e.url, "8 999 000-00-02", "+79990000002", "222222")
	anna := newPerson(t, "anna")
	anna.login(e.url, "8 999 000-00-01", "+79990000001", "111111")
	anna.Do("open the chat", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = '#/chat?dialog_id=%s'`, dialog)))
	sub := `document.querySelector('#screen .k-nav-bar .k-subtitle')?.textContent`
	anna.WaitFor("Борис online in the header", sub+` === 'online'`)

	boris.Do("open the chat", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = '#/chat?dialog_id=%s'`, dialog)))
	boris.typeInto("type", `#screen .k-composer textarea[data-name="text"]`, "Привет")
	anna.WaitFor("typing in the header", sub+` === 'typing…'`)

	// He signs out on his profile screen, as people do: the session ends
	// and his only socket closes. (Clearing storage under a running page
	// instead sends its in-flight requests without a token, and their 401s
	// are the test's doing, not the shell's.)
	boris.Do("open the profile", chromedp.Evaluate[chromedp.Void](`location.hash = '#/profile'`))
	boris.tap("sign out", `#screen button.k-destructive`)
	boris.WaitFor("the login screen", `location.hash.startsWith('#/login')`)
	anna.WaitFor("last seen in the header", sub+`?.startsWith('last seen at ')`)
	for _, p := range []*person{anna, boris} {
		for _, s := range p.TakeProblems() {
			t.Errorf("%s's browser reported: %s", p.Name, s)
		}
	}
}
