package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/korobka/korobka/assets/browsertest"
)

// TestBrowserVideo: a video message in the web shell shows its poster
// and duration, plays in a <video> from the signed URL (readyState and
// currentTime advance) and seeks, which the media handler's byte ranges
// serve; a video answer of the FAQ goes into the chat in one tap.
func TestBrowserVideo(t *testing.T) {
	browsertest.Need(t)
	clip := testClip(t, "webm")
	e := newEnv(t, nil)
	a, _, id := e.pair()
	up := e.want(e.postUpload(a.AccessToken, "answer.webm", clip), 201)
	const text = "Video answer"
	e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{
		"client_id": "v1", "text": text, "attachments": []any{map[string]any{"upload_id": up.field(t, "id")}}}), 201)

	boris := newPerson(t, "boris")
	boris.login(e.url, "8 (999) 000 00 02", "+79990000002", "222222")
	boris.tap("open the dialog", fmt.Sprintf(`#screen .k-row[data-kid="dialog-%s"]`, id))
	video := fmt.Sprintf(`window.__bubbles(%q)[0]?.querySelector('video')`, text)
	boris.WaitFor("the video", "!!"+video)
	src := eval[string](boris, video+`.getAttribute('src')`)
	poster := eval[string](boris, video+`.getAttribute('poster')`)
	for _, u := range []string{src, poster} {
		if path, query, _ := strings.Cut(u, "?"); !strings.HasPrefix(path, "/media/uploads/") || !strings.HasPrefix(query, "dialog="+id+"&") {
			t.Fatalf("video src %q poster %q, want upload URLs signed for the dialog", src, poster)
		}
	}
	if !strings.HasSuffix(strings.Split(poster, "?")[0], ".jpg") {
		t.Errorf("poster %q, want the poster JPEG", poster)
	}
	if d := eval[bool](boris, fmt.Sprintf(`window.__bubbles(%q)[0].textContent.includes('0:02')`, text)); !d {
		t.Errorf("the bubble does not show the duration 0:02")
	}
	boris.Do("play", chromedp.Evaluate[chromedp.Void](`(() => { const v = `+video+`; v.muted = true; v.play(); })()`))
	boris.WaitFor("playing", `(() => { const v = `+video+`; return v.readyState >= 2 && v.currentTime > 0; })()`)
	boris.Do("seek", chromedp.Evaluate[chromedp.Void](`(() => { const v = `+video+`; v.pause(); v.currentTime = 1.5; })()`))
	boris.WaitFor("seeked", `(() => { const v = `+video+`; return !v.seeking && v.currentTime >= 1.5 && v.readyState >= 2; })()`)

	// The consulting case: from the chat's header, one tap sends a video
	// answer's link into the chat.
	boris.tap("video answers", `#screen .k-nav-bar button[aria-label="video"]`)
	boris.WaitFor("video answers", `location.hash.startsWith('#/faq_videos?') && !!document.querySelector('#screen [data-kid="faq-q01"] button.k-primary')`)
	boris.tap("send the first answer", `#screen [data-kid="faq-q01"] button.k-primary`)
	boris.WaitFor("back in the chat with the answer", `location.hash.startsWith('#/chat?') && [...document.querySelectorAll('#screen .k-message-bubble .k-body')].some((b) => b.textContent.includes('https://example.com/faq/q01.mp4'))`)
	if n := len(boris.TakeProblems()); n != 0 {
		t.Errorf("%d problems in the page", n)
	}
}
