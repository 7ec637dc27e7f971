package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/korobka/korobka/assets/browsertest"
)

// The chat window as the web shell draws it (render.js decorate): date
// separators, the unread separator, sender groups and the jump button.

// chatShape reads the open chat's history in the page: for each element
// of the list, "day:<label>", "unread:<label>" or the bubble's node id
// with its group classes ("msg-m203 joined tail").
const chatShape = `(() => {
	const items = document.querySelector('[data-kid="messages"] > .k-items');
	return [...items.children].map((el) => {
		if (el.classList.contains('k-day-sep')) return 'day:' + el.textContent;
		if (el.classList.contains('k-unread-sep')) return 'unread:' + el.textContent;
		// An item is the bubble itself or a column around it (chat.yaml's
		// items, which draw a system line or a bubble).
		const b = el.dataset.kid?.startsWith('msg-') ? el : el.childElementCount === 1 ? el.firstElementChild : el;
		return (b.dataset.kid ?? '?') + (b.classList.contains('k-joined') ? ' joined' : '') + (b.classList.contains('k-tail') ? ' tail' : '');
	});
})()`

// TestBrowserChatSeparators opens the chat.unread fixture (messages of
// last December, 12 November, yesterday and today, seen on 30 November
// 2026 in Moscow, three unread) in the preview in Russian and English:
// one separator above each day in the reader's words, the unread
// separator above the first unread message with the window opened there,
// and each sender's run of messages within minutes grouped with one tail.
func TestBrowserChatSeparators(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, map[string]string{"KOROBKA_DEV": "1"})
	p := newPerson(t, "reader") // the fixture's avatar is on no server: its 404 is expected
	if _, err := chromedp.Call(p.Ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: 360, Height: 640, DeviceScaleFactor: 1, Mobile: true,
	}); err != nil {
		t.Fatal(err)
	}
	const nb = "\u00a0"
	for _, tc := range []struct {
		lang   string
		days   []string
		unread string
	}{
		{"ru", []string{"29" + nb + "декабря 2025" + nb + "г.", "12" + nb + "ноября", "Вчера", "Сегодня"}, "Непрочитанные сообщения"},
		{"en", []string{"29" + nb + "December 2025", "12" + nb + "November", "Yesterday", "Today"}, "Unread messages"},
	} {
		p.Do("open the chat in "+tc.lang, chromedp.Navigate(fmt.Sprintf("%s/preview/?%s#name=chat&fixture=chat.unread&lang=%s&theme=light&fill=1", e.url, tc.lang, tc.lang)))
		p.WaitFor("chat drawn in "+tc.lang, `!!document.querySelector('#p-frame [data-kid="messages"] .k-message-bubble')`)
		want := []string{
			"day:" + tc.days[0], "msg-m200 tail", "msg-m201 tail",
			"day:" + tc.days[1], "msg-m202", "msg-m203 joined", "msg-m204 joined tail", "msg-m205", "msg-m206 joined tail",
			"day:" + tc.days[2], "msg-m207 tail",
			"day:" + tc.days[3], "unread:" + tc.unread, "msg-m208", "msg-m209 joined", "msg-m210 joined tail",
		}
		if got := eval[[]string](p, chatShape); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: the chat reads\n%s\nwant\n%s", tc.lang, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// Grouped bubbles sit closer than a new sender's.
		gaps := eval[[]float64](p, `(() => {
			const r = (id) => document.querySelector('[data-kid="' + id + '"]').getBoundingClientRect();
			return [r('msg-m203').top - r('msg-m202').bottom, r('msg-m205').top - r('msg-m204').bottom];
		})()`)
		if gaps[0] >= gaps[1] || gaps[0] < 0 {
			t.Errorf("%s: %.0f points between grouped bubbles, %.0f between senders; want the group tighter", tc.lang, gaps[0], gaps[1])
		}
		// The window opens at the unread messages: the separator is in
		// view, the oldest day is not.
		inView := eval[[]bool](p, `(() => {
			const l = document.querySelector('[data-kid="messages"]').getBoundingClientRect();
			const vis = (el) => { const r = el.getBoundingClientRect(); return r.bottom > l.top && r.top < l.bottom; };
			return [vis(document.querySelector('.k-unread-sep')), vis(document.querySelector('[data-kid="msg-m200"]'))];
		})()`)
		if !inView[0] || inView[1] {
			t.Errorf("%s: unread separator in view %v, first message in view %v; want the chat opened at the unread messages", tc.lang, inView[0], inView[1])
		}
	}

	// An older page goes above (render.js appendPage, as load_more does):
	// two more messages of the oldest day shown and one of a day before.
	// That day's separator moves above them, once, and the new day gets
	// its own.
	p.Do("merge an older page", chromedp.Evaluate[chromedp.Void](`import('/preview/render.js').then((r) => {
		const b = (id, day, at) => ({ type: 'message_bubble', id, own: false, text: id, time: '', day, sender_id: 'u3', sent_at: at });
		r.appendPage(document.querySelector('[data-kid="messages"]'), { children: [
			b('msg-m197', '1`+nb+`December 2025', '2025-12-01T09:00:00Z'),
			b('msg-m198', '29`+nb+`December 2025', '2025-12-29T09:00:00Z'),
			b('msg-m199', '29`+nb+`December 2025', '2025-12-29T09:01:00Z'),
		] }, { run() {} });
		window.__merged = true;
	})`))
	p.WaitFor("the older page merged", `window.__merged === true`)
	got := eval[[]string](p, chatShape)
	want := []string{"day:1" + nb + "December 2025", "msg-m197 tail", "day:29" + nb + "December 2025", "msg-m198", "msg-m199 joined tail", "msg-m200 tail", "msg-m201 tail", "day:12" + nb + "November"}
	if len(got) < len(want) || strings.Join(got[:len(want)], "\n") != strings.Join(want, "\n") {
		t.Errorf("after an older page the chat reads\n%s\nwant it to begin\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBrowserChatUnreadAndJump: Boris writes 60 messages after five of
// Anna's. Anna's chat opens at the first unread one, above the first page
// (50); the older page moves the unread separator above it and keeps one
// date separator. Scrolled up, new messages do not move the view and the
// jump button counts them; it takes her to the newest.
func TestBrowserChatUnreadAndJump(t *testing.T) {
	browsertest.Need(t)
	e := newEnv(t, nil)
	a, b, dialog := e.pair()
	send := func(from tokens, id, text string) {
		e.want(e.do("POST", "/v1/dialogs/"+dialog+"/messages", from.AccessToken, map[string]any{"client_id": id, "text": text}), 201)
	}
	for i := 1; i <= 5; i++ {
		send(a, fmt.Sprint("a", i), fmt.Sprint("mine ", i))
	}
	for i := 1; i <= 60; i++ {
		send(b, fmt.Sprint("b", i), fmt.Sprint("his ", i))
	}

	anna := newPerson(t, "anna")
	anna.FailOnProblems()
	anna.login(e.url, "8 999 000-00-01", "+79990000001", "111111")
	anna.tap("open the chat", fmt.Sprintf(`#screen [data-kid="dialog-%s"]`, dialog))
	list := `document.querySelector('#screen [data-kid="messages"]')`
	// The first page is drawn and opened at the top of its unread part;
	// the older page comes by itself, since the view is at the top.
	anna.WaitFor("both pages", `document.querySelectorAll('#screen [data-kid="messages"] .k-message-bubble').length === 65`)
	shape := eval[[]string](anna, `(() => {
		const items = `+list+`.kKids;
		return [...items.children].map((el) => el.classList.contains('k-day-sep') ? 'day' :
			el.classList.contains('k-unread-sep') ? 'unread:' + el.textContent : el.querySelector('.k-body')?.textContent ?? '?');
	})()`)
	var days, unread int
	for i, s := range shape {
		switch {
		case s == "day":
			days++
		case strings.HasPrefix(s, "unread:"):
			unread++
			if i == 0 || shape[i-1] != "mine 5" || i+1 == len(shape) || shape[i+1] != "his 1" {
				t.Errorf("the unread separator is at %d, between %q and %q; want it between mine 5 and his 1", i, shape[max(i-1, 0)], shape[min(i+1, len(shape)-1)])
			}
		}
	}
	if days != 1 || shape[0] != "day" || unread != 1 {
		t.Errorf("the chat has %d date separators (first item %q) and %d unread separators; want one each, the date first", days, shape[0], unread)
	}
	if label := eval[string](anna, list+`.querySelector('.k-day-sep').textContent`); label != "Today" && label != "Сегодня" {
		t.Errorf("today's messages are under %q", label)
	}
	// It opened where the unread messages begin, not at the newest.
	if newest := eval[bool](anna, `(() => {
		const l = `+list+`.getBoundingClientRect(), b = window.__bubbles('his 60')[0].getBoundingClientRect();
		return b.bottom > l.top && b.top < l.bottom;
	})()`); newest {
		t.Errorf("the chat opened at the newest message, want the first unread one")
	}
	anna.WaitFor("the jump button while not at the newest", `!`+list+`.querySelector('.k-jump').hidden`)
	anna.tap("jump to the newest", `#screen [data-kid="messages"] .k-jump`)
	anna.WaitFor("at the newest, the button gone", `(() => {
		const l = `+list+`;
		return l.scrollHeight - l.scrollTop - l.clientHeight < 2 && l.querySelector('.k-jump').hidden;
	})()`)

	// Scrolled up, two new messages: the view stays, the button counts.
	anna.WaitFor("scrolled up", `(() => { const l = `+list+`; l.scrollTop = 0; return !l.querySelector('.k-jump').hidden; })()`)
	if n := eval[string](anna, list+`.querySelector('.k-jump .k-badge').textContent`); n != "" {
		t.Errorf("the jump button counts %q before anything new came", n)
	}
	send(b, "late1", "late 1")
	send(b, "late2", "late 2")
	anna.WaitFor("two new messages counted", `window.__bubbles('late 2').length === 1 && `+list+`.querySelector('.k-jump .k-badge').textContent === '2'`)
	if top := eval[float64](anna, list+`.scrollTop`); top != 0 {
		t.Errorf("new messages moved the scrolled-up chat to %.0f", top)
	}
	anna.ScreenshotMin(filepath.Join(artifactDir(t), "chat-jump.png"), 4) // the jump button with its count
	anna.tap("jump to the newest", `#screen [data-kid="messages"] .k-jump`)
	anna.WaitFor("the new messages in view", `(() => {
		const l = `+list+`, r = l.getBoundingClientRect(), b = window.__bubbles('late 2')[0].getBoundingClientRect();
		return b.bottom <= r.bottom + 1 && b.top >= r.top && l.querySelector('.k-jump').hidden;
	})()`)
	// At the newest, a new message follows into view, uncounted.
	send(b, "late3", "late 3")
	anna.WaitFor("followed the new message", `(() => {
		const l = `+list+`;
		return window.__bubbles('late 3').length === 1 && l.scrollHeight - l.scrollTop - l.clientHeight < 2 && l.querySelector('.k-jump').hidden;
	})()`)
}

// TestBrowserLoginLogo draws the login screen of both brands on a small
// phone and a tablet: the logo is the theme's size (logo.size), square,
// inside the screen, and no taller than twice the large title's type
// (meridian's ringed mark once filled the top of the screen).
func TestBrowserLoginLogo(t *testing.T) {
	browsertest.Need(t)
	for _, brand := range []string{"", "meridian"} {
		e := newEnv(t, map[string]string{"KOROBKA_DEV": "1", "KOROBKA_BRAND": brand})
		p := newPerson(t, "designer-"+brand)
		p.FailOnProblems()
		for _, vp := range []struct{ w, h int64 }{{360, 640}, {768, 1024}} {
			if _, err := chromedp.Call(p.Ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
				Width: vp.w, Height: vp.h, DeviceScaleFactor: 1, Mobile: true,
			}); err != nil {
				t.Fatal(err)
			}
			where := fmt.Sprintf("brand %q at %dx%d", brand, vp.w, vp.h)
			p.Do("open login, "+where, chromedp.Navigate(fmt.Sprintf("%s/preview/?%s-%d#name=login&fixture=login&lang=en&theme=light&fill=1", e.url, brand, vp.w)))
			p.WaitFor("login drawn, "+where, `(() => { const i = document.querySelector('#p-frame img.k-image'); return !!i && i.complete && !!document.querySelector('#p-frame .ks-large_title'); })()`)
			m := eval[map[string]float64](p, `(() => {
				const f = document.getElementById('p-frame').getBoundingClientRect();
				const r = document.querySelector('#p-frame img.k-image').getBoundingClientRect();
				const title = parseFloat(getComputedStyle(document.querySelector('#p-frame .ks-large_title')).fontSize);
				return { w: r.width, h: r.height, left: r.left - f.left, right: f.right - r.right, top: r.top - f.top, title };
			})()`)
			if m["w"] < 32 || m["w"] > 2*m["title"] || m["h"] != m["w"] {
				t.Errorf("%s: the logo is %.0fx%.0f, want square, 32 to %.0f (twice the large title's %.0f)", where, m["w"], m["h"], 2*m["title"], m["title"])
			}
			if m["left"] < 0 || m["right"] < 0 || m["top"] < 0 {
				t.Errorf("%s: the logo sticks out of the screen: %v", where, m)
			}
		}
	}
}
