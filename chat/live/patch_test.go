package live

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/ws"
	"github.com/korobka/korobka/renderer"
	"github.com/korobka/korobka/screens"
)

const webShell = "web/1 (components: composer@1, video@1, file@1, web@1, tabs@1)"

// fakeService answers the patcher's reads from fixed data: every dialog
// is a direct one with Anna, whose last message is the one asked about.
type fakeService struct {
	Service // the methods a test does not use panic
	dialogs int
}

func (f *fakeService) Dialog(ctx context.Context, p chat.Principal, id int64) (chat.DialogView, error) {
	f.dialogs++
	last := testMessage(id, 1)
	return chat.DialogView{ID: chat.FormatID(id), Kind: chat.DialogDirect, Title: "Анна Петрова",
		LastMessage: &last, Unread: 3, UpdatedAt: last.CreatedAt}, nil
}

func (f *fakeService) History(ctx context.Context, p chat.Principal, dialogID, before int64, limit int) ([]chat.MessageView, error) {
	return []chat.MessageView{}, nil
}

func testMessage(dialogID, seq int64) chat.MessageView {
	return chat.MessageView{ID: chat.MessageID(dialogID, seq), DialogID: chat.FormatID(dialogID), Seq: seq, SenderID: "1",
		ClientID: "c-5f1d", Text: "Привет! Как дела? Завтра в 7, https://example.com", Attachments: json.RawMessage("[]"),
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Status: chat.StatusSent}
}

func loadScreens(tb testing.TB) Fixed {
	tb.Helper()
	eng, _, err := renderer.Load(screens.FS)
	if err != nil {
		tb.Fatal(err)
	}
	return Fixed{Engine: eng}
}

// TestWatchBounds: a watch frame over its bounds is a malformed frame,
// whatever it names.
func TestWatchBounds(t *testing.T) {
	p := NewPatcher(&fakeService{}, loadScreens(t), nil)
	for _, frame := range []string{
		`{"type":"watch","id":"1","screen":"` + strings.Repeat("x", 65) + `"}`,
		`{"type":"watch","id":"1","screen":"chat","lang":"` + strings.Repeat("x", 300) + `"}`,
		`{"type":"watch","id":"1","screen":"chat","params":{"` + strings.Repeat("k", 300) + `":"1"}}`,
	} {
		_, err := p.Watch(context.Background(), chat.Principal{UserID: 1}, []byte(frame))
		if got := chat.ErrorOf(err).Code; got != "invalid_frame" {
			t.Errorf("%.80s: got %q, want invalid_frame", frame, got)
		}
	}
	if w, err := p.Watch(context.Background(), chat.Principal{UserID: 1}, []byte(`{"type":"watch","id":"1"}`)); w != nil || err != nil {
		t.Errorf("a watch of no screen: got %v, %v; want it cleared", w, err)
	}
}

// benchPatches measures the patches of one message event for a user whose
// devices show watches, one Delivery and one Patch per group. Messages
// cycle through more ids than the node cache holds, so every group renders.
func benchPatches(b *testing.B, svc *fakeService, watches []*ws.Watch) {
	p := NewPatcher(svc, loadScreens(b), nil)
	ctx := context.Background()
	const viewer, dialogID = 2, 17
	const n = 2 * nodeCacheSize
	events := make([]chat.Event, n)
	for i := range events {
		m := testMessage(dialogID, int64(i+1))
		frame := chat.EncodeEvent(chat.Event{Type: chat.EventMessage, Message: &m})
		var err error
		if events[i], err = chat.DecodeEvent(frame); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d := p.Delivery(viewer, events[i%n])
		i++
		for _, w := range watches {
			if out, err := d.Patch(ctx, w); err != nil || out == nil {
				b.Fatalf("patch: %v %s", err, out)
			}
		}
	}
	b.ReportMetric(float64(p.Renders())/float64(i), "renders/op")
	b.ReportMetric(float64(svc.dialogs)/float64(i), "dialog-reads/op")
}

func state(lang string, chatOpen, list bool) *watchState {
	st := &watchState{variant: renderer.Variant{Langs: []string{lang}, Theme: "dark", Caps: renderer.ParseShell(webShell)}, list: list}
	if chatOpen {
		st.dialogs = map[int64]chat.DialogKind{17: chat.DialogDirect}
	}
	return st
}

// BenchmarkPatchMessage: a user with three devices on the chat in two
// variants (two groups): two bubble renders, no service call.
func BenchmarkPatchMessage(b *testing.B) {
	benchPatches(b, &fakeService{}, []*ws.Watch{
		{Key: "chat:17", Screen: "chat", Topics: []string{"dialog:17"}, Variant: "ru|dark", State: state("ru", true, false)},
		{Key: "chat:17", Screen: "chat", Topics: []string{"dialog:17"}, Variant: "en|dark", State: state("en", true, false)},
	})
}

// BenchmarkPatchChatList: a user with the chat list open in two variants:
// the dialog is read once per delivery and a row rendered per variant.
func BenchmarkPatchChatList(b *testing.B) {
	benchPatches(b, &fakeService{}, []*ws.Watch{
		{Key: "chat_list", Screen: "chat_list", Topics: []string{"dialogs"}, Variant: "ru|dark", State: state("ru", false, true)},
		{Key: "chat_list", Screen: "chat_list", Topics: []string{"dialogs"}, Variant: "en|dark", State: state("en", false, true)},
	})
}

// TestBubbleCacheFollowsMediaURLs: a bubble rendered once is reused for
// other deliveries of the same message, but not once its attachments'
// URLs changed (a new bucket signs new ones): the patch carries the URLs
// of the event, never expired ones.
func TestBubbleCacheFollowsMediaURLs(t *testing.T) {
	p := NewPatcher(&fakeService{}, loadScreens(t), nil)
	ctx := context.Background()
	w, err := p.Watch(ctx, chat.Principal{UserID: 2}, []byte(`{"type":"watch","id":"1","screen":"chat","params":{"dialog_id":"17"},"shell":"`+webShell+`"}`))
	if err != nil || w == nil {
		t.Fatalf("watch: %v %v", w, err)
	}
	for _, exp := range []string{"1767229200", "1767232800"} {
		m := testMessage(17, 5)
		m.Attachments = json.RawMessage(`[{"id":"9","kind":"image","url":"/media/uploads/ab.jpg?dialog=17&exp=` + exp + `&sig=x",` +
			`"thumb_url":"/media/uploads/ab_thumb.jpg?dialog=17&exp=` + exp + `&sig=x","name":"a.jpg","size":1,"mime":"image/jpeg","width":2,"height":3}]`)
		ev, err := chat.DecodeEvent(chat.EncodeEvent(chat.Event{Type: chat.EventMessage, Message: &m}))
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Delivery(2, ev).Patch(ctx, w)
		if err != nil || !strings.Contains(string(out), "exp="+exp) {
			t.Errorf("patch for exp %s: %s (%v), want the event's URLs", exp, out, err)
		}
	}
}

// groupService is fakeService whose dialogs are groups and whose users
// have a photo.
type groupService struct {
	fakeService
	users int
}

func (f *groupService) Dialog(ctx context.Context, p chat.Principal, id int64) (chat.DialogView, error) {
	d, err := f.fakeService.Dialog(ctx, p, id)
	d.Kind, d.Title = chat.DialogGroup, "Клуб"
	return d, err
}

func (f *groupService) User(ctx context.Context, p chat.Principal, id int64) (chat.Profile, error) {
	f.users++
	return chat.Profile{ID: chat.FormatID(id), FirstName: "Анна", LastName: "Петрова",
		AvatarURL: "/media/av/1.jpg", AvatarThumbURL: "/media/av/1_thumb.jpg"}, nil
}

// TestGroupBubbleCarriesSenderFace: a live-patched bubble of someone
// else in a group has the sender's name, photo thumb and initials, as the
// rendered group_chat gives it; the viewer's own has none.
func TestGroupBubbleCarriesSenderFace(t *testing.T) {
	svc := &groupService{}
	p := NewPatcher(svc, loadScreens(t), nil)
	ctx := context.Background()
	for _, tc := range []struct {
		viewer int64
		want   []string
	}{
		{2, []string{`"sender":"Анна"`, `"sender_avatar":"/media/av/1_thumb.jpg"`, `"sender_initials":"АП"`}},
		{1, []string{`"sender":""`, `"sender_avatar":""`, `"sender_initials":""`}},
	} {
		w, err := p.Watch(ctx, chat.Principal{UserID: tc.viewer}, []byte(`{"type":"watch","id":"1","screen":"group_chat","params":{"dialog_id":"17"},"shell":"`+webShell+`"}`))
		if err != nil || w == nil {
			t.Fatalf("watch: %v %v", w, err)
		}
		m := testMessage(17, 5)
		ev, err := chat.DecodeEvent(chat.EncodeEvent(chat.Event{Type: chat.EventMessage, Message: &m}))
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Delivery(tc.viewer, ev).Patch(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tc.want {
			if !strings.Contains(string(out), s) {
				t.Errorf("viewer %d: patch %s lacks %s", tc.viewer, out, s)
			}
		}
	}
	if svc.users != 1 {
		t.Errorf("the sender was read %d times, want once (the viewer's own bubble needs no read)", svc.users)
	}
}
