package main

import (
	"strings"
	"testing"
)

// TestFAQVideos: the consulting case. The seed's faq_videos collection
// holds 40 video answers; the faq_videos screen, opened from a chat, sends
// one into the chat in one tap (its submit action, replayed here as the
// shell sends it), once however often it is tapped.
func TestFAQVideos(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		r := e.screen("/v1/screens/faq_videos?dialog_id="+id, a.AccessToken, "")
		if r.status != 200 {
			t.Fatalf("faq_videos screen: %d %s", r.status, r.body)
		}
		var layout map[string]any
		r.json(t, &layout)
		var cards []map[string]any
		for i := 1; i <= 40; i++ {
			n := findNode(layout["root"], "faq-q"+twoDigits(i))
			if n == nil {
				t.Fatalf("the screen lacks answer %d of 40", i)
			}
			cards = append(cards, n)
		}
		if chat := e.screen("/v1/screens/chat?dialog_id="+id, a.AccessToken, ""); !strings.Contains(string(chat.body), `"screen":"faq_videos"`) {
			t.Fatal("the chat screen does not lead to the video answers")
		}
		send := findSubmit(cards[0])
		if send == nil {
			t.Fatalf("answer 1 has no one-tap send: %v", cards[0])
		}
		endpoint, _ := send["endpoint"].(string)
		if endpoint != "/v1/dialogs/"+id+"/messages" {
			t.Fatalf("send goes to %q, want this chat's messages", endpoint)
		}
		extra := send["extra"].(map[string]any)
		first := e.want(e.do("POST", endpoint, a.AccessToken, extra), 201)
		text, _ := first.field(t, "text").(string)
		if !strings.Contains(text, "https://example.com/faq/q01.mp4") || !strings.HasPrefix(text, "How much does a consultation cost?") {
			t.Fatalf("sent %q, want the question and the video's link", text)
		}
		// A second tap is the same message.
		again := e.want(e.do("POST", endpoint, a.AccessToken, extra), 200)
		if again.field(t, "seq") != first.field(t, "seq") {
			t.Fatalf("a second tap sent another message: %s", again.body)
		}
		hist := e.want(e.do("GET", "/v1/dialogs/"+id+"/messages", b.AccessToken, nil), 200)
		if n := len(hist.field(t, "messages").([]any)); n != 1 {
			t.Fatalf("Boris has %d messages, want the one answer", n)
		}
		// In Russian the question is Russian.
		ru := e.screenLang("/v1/screens/faq_videos?dialog_id="+id, a.AccessToken, "ru")
		if !strings.Contains(string(ru.body), "Сколько стоит консультация?") {
			t.Fatalf("the Russian screen lacks the Russian question")
		}
	})
}

func twoDigits(i int) string {
	return string([]byte{byte('0' + i/10), byte('0' + i%10)})
}

// findSubmit finds the first submit action in a layout tree.
func findSubmit(n any) map[string]any {
	switch x := n.(type) {
	case map[string]any:
		if x["type"] == "submit" {
			return x
		}
		for _, v := range x {
			if m := findSubmit(v); m != nil {
				return m
			}
		}
	case []any:
		for _, v := range x {
			if m := findSubmit(v); m != nil {
				return m
			}
		}
	}
	return nil
}
