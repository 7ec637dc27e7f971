package ws

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/korobka/korobka/chat"
)

// fakePatcher resolves watches of "chat" with a dialog_id and answers every
// group with a frame naming the group, recording each call.
type fakePatcher struct {
	mu      sync.Mutex
	events  []string // "user frame-type"
	patches []string // "user key variant"
}

func (f *fakePatcher) Watch(ctx context.Context, p chat.Principal, frame []byte) (*Watch, error) {
	var req struct {
		Screen, Lang, Theme string
		Params              map[string]string
	}
	if err := json.Unmarshal(frame, &req); err != nil {
		return nil, chat.Errorf(chat.KindInvalid, "invalid_frame", "bad watch")
	}
	if req.Screen == "" {
		return nil, nil
	}
	if req.Screen != "chat" && req.Screen != "login" {
		return nil, chat.Errorf(chat.KindNotFound, "unknown_screen", "No such screen.")
	}
	if req.Screen == "login" {
		return &Watch{Key: "login", Screen: "login"}, nil // nothing live
	}
	id := req.Params["dialog_id"]
	switch id {
	case "":
		return nil, chat.Errorf(chat.KindInvalid, "missing_param", "screen chat needs param dialog_id")
	case "404":
		return nil, chat.ErrNotFound
	}
	return &Watch{Key: "chat:" + id, Screen: "chat", Params: map[string]string{"dialog_id": id},
		Topics: []string{"dialog:" + id}, Variant: req.Lang + "|" + req.Theme}, nil
}

func (f *fakePatcher) Delivery(uid int64, e chat.Event) Delivery {
	f.mu.Lock()
	f.events = append(f.events, fmt.Sprintf("%d %s", uid, e.Type))
	f.mu.Unlock()
	if e.Type == chat.EventTyping {
		return nil
	}
	return fakeEvent{f, uid}
}

type fakeEvent struct {
	f   *fakePatcher
	uid int64
}

func (e fakeEvent) Patch(ctx context.Context, w *Watch) ([]byte, error) {
	e.f.mu.Lock()
	e.f.patches = append(e.f.patches, fmt.Sprintf("%d %s %s", e.uid, w.Key, w.Variant))
	e.f.mu.Unlock()
	return fmt.Appendf(nil, `{"type":"patch","screen":%q,"ops":[],"variant":%q}`, w.Key, w.Variant), nil
}

func (f *fakePatcher) calls() (events, patches []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events), slices.Clone(f.patches)
}

// readRaw reads one frame as a map.
func (c *client) readMap() map[string]any {
	c.t.Helper()
	f := c.read()
	var m map[string]any
	json.Unmarshal([]byte(f.Raw), &m)
	return m
}

func (c *client) watch(id, frame string) map[string]any {
	c.t.Helper()
	c.send(frame)
	r := c.readMap()
	if r["id"] != id {
		c.t.Fatalf("watch %s answered %v", frame, r)
	}
	return r
}

func TestWatchGroupsByVariant(t *testing.T) {
	fp := &fakePatcher{}
	e := newEnv(t, Config{Patcher: fp})
	a1, a2, a3 := e.dial(t, "tok-a1"), e.dial(t, "tok-a2"), e.dial(t, "tok-a3")
	b := e.dial(t, "tok-b")
	for _, w := range []struct {
		c     *client
		frame string
	}{
		{a1, `{"type":"watch","id":"w","screen":"chat","params":{"dialog_id":"42"},"lang":"ru","theme":"dark"}`},
		{a2, `{"type":"watch","id":"w","screen":"chat","params":{"dialog_id":"42"},"lang":"ru","theme":"dark"}`},
		{a3, `{"type":"watch","id":"w","screen":"chat","params":{"dialog_id":"42"},"lang":"en","theme":"light"}`},
	} {
		r := w.c.watch("w", w.frame)
		if r["type"] != "reply" || r["screen"] != "chat:42" || fmt.Sprint(r["live"]) != "[dialog:42]" {
			t.Fatalf("watch reply %v, want screen chat:42 live [dialog:42]", r)
		}
	}

	// a1 sends: it gets the reply instead of the raw event, but the patch
	// too; a2 and a3 get the event and then their variant's patch. b's
	// device watches nothing: its delivery never reaches the patcher.
	a1.send(`{"type":"send","id":"s1","dialog_id":"42","client_id":"c1","text":"hi"}`)
	for i, c := range []*client{a1, a2, a3} {
		f1, f2 := c.readMap(), c.readMap()
		if i == 0 && f1["type"] == "patch" {
			f1, f2 = f2, f1
		}
		want, first := "ru|dark", "message"
		if i == 0 {
			first = "reply"
		}
		if i == 2 {
			want = "en|light"
		}
		if f1["type"] != first || f2["type"] != "patch" || f2["screen"] != "chat:42" || f2["variant"] != want {
			t.Fatalf("device %d got %v and %v, want the %s and the %s patch", i+1, f1, f2, first, want)
		}
	}
	if f := b.readMap(); f["type"] != "message" {
		t.Fatalf("b got %v, want the raw event", f)
	}
	events, patches := fp.calls()
	if !slices.Equal(events, []string{"1 message"}) {
		t.Fatalf("events %q, want one parse of the one delivery to user 1", events)
	}
	slices.Sort(patches)
	if !slices.Equal(patches, []string{"1 chat:42 en|light", "1 chat:42 ru|dark"}) {
		t.Fatalf("patch calls %q, want one per variant", patches)
	}

	// Clearing a watch, or failing a new one, stops patches to that
	// device; typing patches nothing.
	a2.watch("c", `{"type":"watch","id":"c"}`)
	r := a3.watch("bad", `{"type":"watch","id":"bad","screen":"chat","params":{"dialog_id":"404"}}`)
	if r["type"] != "error" || r["error"].(map[string]any)["code"] != "not_found" {
		t.Fatalf("watch of a foreign dialog got %v, want not_found", r)
	}
	publish := func(frame string) {
		if err := e.broker.Publish(context.Background(), chat.Publication{Topic: chat.UserTopic(1), Payload: chat.Envelope(chat.EnvFrame, 0, []byte(frame))}); err != nil {
			t.Fatal(err)
		}
	}
	publish(`{"type":"typing"}`)
	publish(`{"type":"message","message":{"id":"42.2"}}`)
	// A second event: a user's deliveries are patched in order, so once its
	// patch reaches a1 every patch of the first has been queued.
	publish(`{"type":"message","message":{"id":"42.3"}}`)
	var got []any
	for n := 0; n < 2; {
		f := a1.readMap()
		got = append(got, f["type"])
		if f["type"] == "patch" {
			n++
		}
	}
	if len(got) != 5 || got[0] != "typing" {
		t.Fatalf("a1 got %v, want typing, two messages and two patches", got)
	}
	for _, c := range []*client{a2, a3} {
		c.send(`{"type":"ping?","id":"rt"}`)
		var types []any
		for {
			f := c.readMap()
			if f["id"] == "rt" {
				break
			}
			types = append(types, f["type"])
		}
		if fmt.Sprint(types) != "[typing message message]" {
			t.Fatalf("a device without a watch got %v, want the raw events alone", types)
		}
	}
	_, patches = fp.calls()
	if len(patches) != 4 {
		t.Fatalf("patch calls %q, want two more, for a1 alone", patches)
	}
}

func TestWatchErrors(t *testing.T) {
	e := newEnv(t, Config{Patcher: &fakePatcher{}})
	c := e.dial(t, "tok-a1")
	for _, tt := range []struct{ frame, code string }{
		{`{"type":"watch","id":"1","screen":"nope"}`, "unknown_screen"},
		{`{"type":"watch","id":"1","screen":"chat"}`, "missing_param"},
		{`{"type":"watch","id":"1","screen":"chat","params":{"dialog_id":"404"}}`, "not_found"},
		{`{"type":"watch","id":"1","screen":"chat","params":{"dialog_id":17}}`, "invalid_frame"},
	} {
		r := c.watch("1", tt.frame)
		if r["type"] != "error" || r["error"].(map[string]any)["code"] != tt.code {
			t.Errorf("%s: got %v, want %s", tt.frame, r, tt.code)
		}
	}
	// A screen with no live topics is fine and watches nothing.
	if r := c.watch("1", `{"type":"watch","id":"1","screen":"login"}`); r["type"] != "reply" || r["screen"] != "login" {
		t.Fatalf("got %v, want a reply", r)
	}
	if c2 := e.g.userConns(1, nil); len(c2) != 1 || c2[0].watching.Load() != nil {
		t.Fatal("a screen without live topics left a watch")
	}
	// Without a Patcher, watch is accepted and does nothing.
	e2 := newEnv(t, Config{})
	c3 := e2.dial(t, "tok-a1")
	if r := c3.watch("2", `{"type":"watch","id":"2","screen":"chat","params":{"dialog_id":"42"}}`); r["type"] != "reply" {
		t.Fatalf("got %v, want a reply", r)
	}
}
