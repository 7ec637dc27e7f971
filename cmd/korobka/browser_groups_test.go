package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/korobka/korobka/assets/browsertest"
)

// texts is a page expression: whether some element of the open screen
// shows exactly s (system messages are plain text lines).
func texts(s string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#screen .k-text')].some((e) => e.textContent === %q)`, s)
}

// bubbleFace is a page expression: the bubble showing first has Anna's
// name and avatar (initials "A" in a 28 px circle) visible, and the one
// showing next, joined to it, has them hidden.
func bubbleFace(first, next string) string {
	return fmt.Sprintf(`(() => {
		const [a] = window.__bubbles(%q), [b] = window.__bubbles(%q);
		if (!a || !b) return false;
		const av = a.querySelector('.k-bubble-avatar'), bv = b.querySelector('.k-bubble-avatar');
		if (!av || !bv || av.textContent !== 'A' || a.querySelector('.k-sender')?.textContent !== 'Anna') return false;
		const r = av.getBoundingClientRect();
		return r.width === 28 && r.height === 28 && getComputedStyle(av).visibility === 'visible' &&
			b.classList.contains('k-joined') && getComputedStyle(bv).visibility === 'hidden' &&
			getComputedStyle(b.querySelector('.k-sender')).display === 'none';
	})()`, first, next)
}

// TestBrowserGroup: in three browsers, Anna creates a group on the
// new_group screen, adds Boris and Vera on group_info, the three chat in
// group_chat, Anna removes Vera, and Vera's window shows her removal and
// then stops receiving while Boris's goes on.
func TestBrowserGroup(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, nil)
	// Names and Anna's address book over REST, to keep the test on groups.
	a := e.loginTest("+79990000001", "111111")
	b := e.loginTest("+79990000002", "222222")
	v := e.loginTest("+79991230010", "333333")
	for tk, name := range map[string]string{a.AccessToken: "Anna", b.AccessToken: "Boris", v.AccessToken: "Vera"} {
		e.want(e.do("PATCH", "/v1/me", tk, map[string]any{"first_name": name}), 200)
	}
	e.want(e.do("POST", "/v1/contacts/sync", a.AccessToken, map[string]any{"phones": []string{"+79990000002", "+79991230010"}}), 200)

	anna, boris, vera := newPerson(t, "anna"), newPerson(t, "boris"), newPerson(t, "vera")
	anna.login(e.url, "8 999 000-00-01", "+79990000001", "111111")
	boris.login(e.url, "8 999 000-00-02", "+79990000002", "222222")
	vera.login(e.url, "8 999 123-00-10", "+79991230010", "333333")

	// Anna: chat list → new group → its info, where she adds the two.
	anna.tap("new group", `#screen .k-nav-bar button[aria-label="group"]`)
	anna.WaitFor("new group screen", `location.hash === '#/new_group' && !!document.querySelector('input[data-name="title"]')`)
	anna.typeInto("title", `input[data-name="title"]`, "Book club")
	anna.tap("create", `#screen button.k-primary`)
	// The creation opens the group's chat; members are added on its info.
	anna.WaitFor("the new group's chat", `location.hash.startsWith('#/group_chat?dialog_id=') && !!document.querySelector('#screen .k-composer textarea')`)
	anna.Do("open group info", chromedp.Evaluate[chromedp.Void](`location.hash = location.hash.replace('#/group_chat?', '#/group_info?')`))
	anna.WaitFor("group info", `location.hash.startsWith('#/group_info?dialog_id=') && !!document.querySelector('#screen .k-list[data-kid="members"]')`)
	group := eval[string](anna, `new URLSearchParams(location.hash.split('?')[1]).get('dialog_id')`)
	for _, name := range []string{"Boris", "Vera"} {
		row := fmt.Sprintf(`[...document.querySelectorAll('#screen .k-list[data-kid="candidates"] .k-row')].find((r) => r.textContent.includes(%q))`, name)
		anna.WaitFor(name+" among the contacts to add", "!!"+row)
		anna.Do("add "+name, chromedp.Evaluate[chromedp.Void](row+`.querySelector('button').click()`))
		anna.WaitFor(name+" a member", fmt.Sprintf(`[...document.querySelectorAll('#screen .k-list[data-kid="members"] .k-row')].some((r) => r.textContent.includes(%q))`, name))
	}

	// Everyone opens the group chat, which shows how the group came to be.
	for _, p := range []*person{boris, vera} {
		p.WaitFor("the group in the chat list", fmt.Sprintf(`!!document.querySelector('#screen .k-row[data-kid="dialog-%s"]')`, group))
		p.tap("open the group", fmt.Sprintf(`#screen .k-row[data-kid="dialog-%s"]`, group))
		p.WaitFor("group chat", `location.hash.startsWith('#/group_chat?dialog_id=') && !!document.querySelector('#screen .k-composer textarea')`)
		p.WaitFor("the created line", texts("Anna created the group «Book club»"))
	}
	anna.Do("open the chat", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = '#/group_chat?dialog_id=%s'`, group)))
	anna.WaitFor("group chat", `location.hash.startsWith('#/group_chat?dialog_id=') && !!document.querySelector('#screen .k-composer textarea')`)

	const hello = "Hello, club"
	anna.send(hello)
	for _, p := range []*person{boris, vera} {
		p.WaitFor("Anna's message", fmt.Sprintf(`window.__bubbles(%q).length === 1`, hello))
	}
	const again = "Second in a row"
	anna.send(again)
	for _, p := range []*person{boris, vera} {
		p.WaitFor("Anna's second message", fmt.Sprintf(`window.__bubbles(%q).length === 1`, again))
	}
	// Live-patched: Anna's bubbles carry her name and avatar (initials, a
	// size before any picture), shown on the first of the run only.
	boris.WaitFor("avatar and name on the first bubble of Anna's run", bubbleFace(hello, again))
	vera.send("Hi all")
	boris.WaitFor("Vera's message", `window.__bubbles("Hi all").length === 1`)
	boris.WaitFor("Vera's bubble with her own avatar", `(() => { const b = window.__bubbles("Hi all")[0];
		return b.querySelector('.k-bubble-avatar').textContent === 'V' && b.querySelector('.k-sender').textContent === 'Vera' &&
			getComputedStyle(b.querySelector('.k-bubble-avatar')).visibility === 'visible'; })()`)
	if eval[bool](anna, fmt.Sprintf(`!!window.__bubbles(%q)[0].querySelector('.k-bubble-avatar, .k-sender')`, hello)) {
		t.Errorf("Anna's own bubble has an avatar or a name")
	}
	// Rendered by the screen (Boris opens the chat again), the bubbles
	// look as the live ones did.
	live := eval[string](boris, fmt.Sprintf(`window.__bubbles(%q)[0].querySelector('.k-bubble-avatar').outerHTML`, hello))
	boris.Do("reopen the chat", chromedp.Evaluate[chromedp.Void](`location.hash = '#/chat_list'`))
	boris.WaitFor("the chat list", fmt.Sprintf(`!!document.querySelector('#screen .k-row[data-kid="dialog-%s"]')`, group))
	boris.tap("open the group again", fmt.Sprintf(`#screen .k-row[data-kid="dialog-%s"]`, group))
	// (The unread separator may stand between the two now, so the second
	// need not be joined: only the first bubble's face is checked.)
	boris.WaitFor("rendered bubbles with the avatar", fmt.Sprintf(`window.__bubbles(%q).length === 1 && (() => {
		const av = window.__bubbles(%q)[0].querySelector('.k-bubble-avatar');
		return !!av && av.textContent === 'A' && getComputedStyle(av).visibility === 'visible'; })()`, again, hello))
	if got := eval[string](boris, fmt.Sprintf(`window.__bubbles(%q)[0].querySelector('.k-bubble-avatar').outerHTML`, hello)); got != live {
		t.Errorf("rendered avatar %s, live-patched %s", got, live)
	}

	// Anna removes Vera on the group's info screen.
	anna.Do("open group info", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = '#/group_info?dialog_id=%s'`, group)))
	remove := fmt.Sprintf(`#screen .k-row[data-kid="member-%s"] button.k-destructive`, v.User.ID)
	anna.tap("remove Vera", remove)
	anna.WaitFor("Vera gone from the members", fmt.Sprintf(`!document.querySelector('#screen .k-row[data-kid="member-%s"]')`, v.User.ID))

	// Vera's window hears of it, live; then nothing more reaches it.
	vera.WaitFor("her removal", texts("Anna removed Vera"))
	boris.WaitFor("Vera's removal", texts("Anna removed Vera"))
	anna.Do("back to the chat", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`location.hash = '#/group_chat?dialog_id=%s'`, group)))
	anna.WaitFor("group chat", `!!document.querySelector('#screen .k-composer textarea')`)
	const after = "Just the two of us"
	anna.send(after)
	boris.WaitFor("the message after the removal", fmt.Sprintf(`window.__bubbles(%q).length === 1`, after))
	// Boris has it, so the fan-out is done: Vera's window must not.
	if n := eval[int](vera, fmt.Sprintf(`window.__bubbles(%q).length`, after)); n != 0 {
		t.Errorf("Vera's window shows the message sent after her removal %d times", n)
	}
	if n := eval[int](vera, fmt.Sprintf(`window.__bubbles(%q).length`, hello)); n != 1 {
		t.Errorf("Vera's window lost the history she had: %d", n)
	}
	// Opened again from the server, the group still shows her the
	// history up to her removal, without a composer, and nothing after.
	vera.Do("the chat list", chromedp.Evaluate[chromedp.Void](`location.hash = '#/chat_list'`))
	vera.WaitFor("the group still listed", fmt.Sprintf(`!!document.querySelector('#screen .k-row[data-kid="dialog-%s"]')`, group))
	vera.tap("open the group again", fmt.Sprintf(`#screen .k-row[data-kid="dialog-%s"]`, group))
	vera.WaitFor("the history up to her removal", fmt.Sprintf(`location.hash.startsWith('#/group_chat?') && window.__bubbles(%q).length === 1 &&
		document.querySelector('#screen').textContent.includes('You were removed from this group.')`, hello))
	if eval[bool](vera, `!!document.querySelector('#screen .k-composer')`) {
		t.Errorf("a removed member has a composer")
	}
	if n := eval[int](vera, fmt.Sprintf(`window.__bubbles(%q).length`, after)); n != 0 {
		t.Errorf("reopened, Vera's window shows the message sent after her removal")
	}
}

// TestBrowserGroupUnread: Anna writes twice in her group, then Boris
// three times. Anna's group_chat draws one date separator and the
// "Unread messages" separator once, between her last message and
// Boris's first, and opens there.
func TestBrowserGroupUnread(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, nil)
	a, b, _, group := e.groupOfThree()
	send := func(from tokens, id, text string) {
		e.want(e.do("POST", "/v1/dialogs/"+group+"/messages", from.AccessToken, map[string]any{"client_id": id, "text": text}), 201)
	}
	send(a, "a1", "mine 1")
	send(a, "a2", "mine 2")
	for i := 1; i <= 3; i++ {
		send(b, fmt.Sprint("b", i), fmt.Sprint("his ", i))
	}

	anna := newPerson(t, "anna")
	anna.FailOnProblems()
	anna.login(e.url, "8 999 000-00-01", "+79990000001", "111111")
	anna.tap("open the group", fmt.Sprintf(`#screen [data-kid="dialog-%s"]`, group))
	anna.WaitFor("group chat", `location.hash.startsWith('#/group_chat?dialog_id=') && window.__bubbles('his 3').length === 1`)
	shape := eval[[]string](anna, `[...document.querySelector('#screen [data-kid="messages"]').kKids.children].map((el) =>
		el.classList.contains('k-unread-sep') ? 'unread:' + el.textContent : el.classList.contains('k-day-sep') ? 'day' :
		el.querySelector('.k-body')?.textContent ?? '')`)
	var at []int
	days := 0
	for i, s := range shape {
		if strings.HasPrefix(s, "unread:") {
			at = append(at, i)
		}
		if s == "day" {
			days++
		}
	}
	// Group items wrap their bubble: the chat window's decorations see
	// through the wrapper (today's date separator, once).
	if days != 1 {
		t.Errorf("the group chat has %d date separators in %q; want one", days, shape)
	}
	if len(at) != 1 {
		t.Fatalf("the group chat has %d unread separators in %q; want one", len(at), shape)
	}
	if i := at[0]; shape[i] != "unread:Unread messages" && shape[i] != "unread:Непрочитанные сообщения" ||
		i == 0 || shape[i-1] != "mine 2" || i+1 == len(shape) || shape[i+1] != "his 1" {
		t.Errorf("the unread separator %q is between %q and %q; want it between mine 2 and his 1", shape[i], shape[max(i-1, 0)], shape[min(i+1, len(shape)-1)])
	}
	if !eval[bool](anna, `(() => {
		const l = document.querySelector('#screen [data-kid="messages"]').getBoundingClientRect(), r = document.querySelector('#screen .k-unread-sep').getBoundingClientRect();
		return r.bottom > l.top && r.top < l.bottom;
	})()`) {
		t.Errorf("the group chat opened with its unread separator out of view")
	}
}

// TestBrowserNewGroup: Anna opens new_group from the chat list, names the
// group, ticks Boris and Vera among her contacts (a tap on the row ticks,
// a second untick and a third tick again), creates it, and the group's
// chat opens with three members; Boris has it in his chat list.
func TestBrowserNewGroup(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, nil)
	a := e.loginTest("+79990000001", "111111")
	b := e.loginTest("+79990000002", "222222")
	v := e.loginTest("+79991230010", "333333")
	g := e.loginTest("+79991230011", "333333")
	for tk, name := range map[string]string{a.AccessToken: "Anna", b.AccessToken: "Boris", v.AccessToken: "Vera", g.AccessToken: "Gleb"} {
		e.want(e.do("PATCH", "/v1/me", tk, map[string]any{"first_name": name}), 200)
	}
	e.want(e.do("POST", "/v1/contacts/sync", a.AccessToken, map[string]any{"phones": []string{"+79990000002", "+79991230010", "+79991230011"}}), 200)

	anna, boris := newPerson(t, "anna"), newPerson(t, "boris")
	anna.login(e.url, "8 999 000-00-01", "+79990000001", "111111")
	boris.login(e.url, "8 999 000-00-02", "+79990000002", "222222")

	anna.tap("new group", `#screen .k-nav-bar button[aria-label="group"]`)
	anna.WaitFor("her contacts to pick from", `location.hash === '#/new_group' && document.querySelectorAll('#screen .k-list[data-kid="contacts"] .k-row input[type="checkbox"][data-name="member_ids"]').length === 3`)
	anna.typeInto("title", `input[data-name="title"]`, "Trio")
	row := func(id string) string { return fmt.Sprintf(`#screen .k-row[data-kid="pick-%s"]`, id) }
	box := func(id string) string { return row(id) + ` input[type="checkbox"]` }
	anna.tap("tick Boris by his row", row(b.User.ID))
	anna.tap("tick Vera by her box", box(v.User.ID))
	anna.tap("tick Gleb", row(g.User.ID))
	anna.tap("untick Gleb", row(g.User.ID))
	ticked := eval[[]string](anna, `[...document.querySelectorAll('#screen input[data-name="member_ids"]:checked')].map((c) => c.value).sort()`)
	want := []string{b.User.ID, v.User.ID}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	if fmt.Sprint(ticked) != fmt.Sprint(want) {
		t.Fatalf("ticked %v, want %v", ticked, want)
	}
	if !eval[bool](anna, `document.querySelector('#screen .k-row .k-avatar').getBoundingClientRect().width === 44`) {
		t.Errorf("the rows have no avatar of the list's size")
	}
	// A photo: uploaded when picked, sent as avatar_upload_id.
	photo := filepath.Join(t.TempDir(), "trio.png")
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, gradient(64, 48)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(photo, pngBuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	anna.tap("photo", `#screen button.k-secondary`)
	anna.Do("pick the photo", chromedp.SetUploadFiles(chromedp.CSS(`input.k-file-picker`), []string{photo}))
	anna.WaitFor("the photo uploaded", `!!document.querySelector('#screen input[type="hidden"][data-name="avatar_upload_id"]')?.value`)
	anna.tap("create", `#screen button.k-primary`)
	anna.WaitFor("the group's chat opens with three members", `location.hash.startsWith('#/group_chat?dialog_id=') &&
		!!document.querySelector('#screen .k-composer textarea') && document.querySelector('#screen .k-nav-bar').textContent.includes('3 members')`)
	anna.WaitFor("the created line", texts("Anna created the group «Trio»"))
	group := eval[string](anna, `new URLSearchParams(location.hash.split('?')[1]).get('dialog_id')`)
	boris.WaitFor("the group in Boris's chat list", fmt.Sprintf(`!!document.querySelector('#screen .k-row[data-kid="dialog-%s"]')`, group))
	// Over REST: the three are its members, Gleb is not.
	var d struct {
		AvatarURL   string `json:"avatar_url"`
		MemberCount int    `json:"member_count"`
		Members     []struct {
			ID string `json:"id"`
		} `json:"members"`
	}
	e.want(e.do("GET", "/v1/dialogs/"+group, a.AccessToken, nil), 200).json(t, &d)
	ids := map[string]bool{}
	for _, m := range d.Members {
		ids[m.ID] = true
	}
	if d.MemberCount != 3 || !ids[a.User.ID] || !ids[b.User.ID] || !ids[v.User.ID] || ids[g.User.ID] {
		t.Errorf("members %+v (count %d), want Anna, Boris and Vera", d.Members, d.MemberCount)
	}
	if d.AvatarURL == "" {
		t.Errorf("the group has no photo")
	}
}
