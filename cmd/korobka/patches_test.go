package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/korobka/korobka/chat"
)

const webShell = "web/1 (components: composer@1, video@1, file@1, web@1, tabs@1)"

// watch sends a watch frame and waits for its answer.
func (c *wsClient) watch(screen string, params map[string]any, lang, theme string) map[string]any {
	c.t.Helper()
	id := fmt.Sprintf("w-%s-%v-%s", screen, params, lang)
	c.send(map[string]any{"type": "watch", "id": id, "screen": screen, "params": params, "lang": lang, "theme": theme, "shell": webShell})
	return c.waitFor("watch answer", replyTo(id))
}

// ops returns a patch frame's ops for screen, or nil for any other frame.
func ops(f map[string]any, screen string) []map[string]any {
	if f["type"] != "patch" || f["screen"] != screen {
		return nil
	}
	var out []map[string]any
	for _, o := range f["ops"].([]any) {
		out = append(out, o.(map[string]any))
	}
	return out
}

// patchOp matches a patch for screen that has an op of kind on id (for an
// insert, the inserted node's id).
func patchOp(screen, kind, id string) func(map[string]any) bool {
	return func(f map[string]any) bool {
		for _, o := range ops(f, screen) {
			if o["op"] != kind {
				continue
			}
			if o["id"] == id || kind == "insert" && str(o, "node", "id") == id {
				return true
			}
		}
		return false
	}
}

// findOp returns the op of kind on id in a patch frame.
func findOp(t *testing.T, f map[string]any, screen, kind, id string) map[string]any {
	t.Helper()
	for _, o := range ops(f, screen) {
		if o["op"] == kind && (o["id"] == id || kind == "insert" && str(o, "node", "id") == id) {
			return o
		}
	}
	t.Fatalf("no %s of %s in %v", kind, id, f)
	return nil
}

// findNode finds a node by id in a layout tree.
func findNode(n any, id string) map[string]any {
	switch x := n.(type) {
	case map[string]any:
		if x["id"] == id {
			return x
		}
		for _, v := range x {
			if m := findNode(v, id); m != nil {
				return m
			}
		}
	case []any:
		for _, v := range x {
			if m := findNode(v, id); m != nil {
				return m
			}
		}
	}
	return nil
}

func TestLivePatches(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		c := e.loginTest("+79991234001", "333333") // in no dialog with them
		chatKey := "chat:" + id
		rowID, badgeID := "dialog-"+id, "badge-"+id

		bChat := dial(t, e.url, b.AccessToken)
		bList := dial(t, e.url, b.AccessToken)
		aChat := dial(t, e.url, a.AccessToken)
		aIdle := dial(t, e.url, a.AccessToken) // watches nothing
		if r := bChat.watch("chat", map[string]any{"dialog_id": id}, "ru", "dark"); r["type"] != "reply" || r["screen"] != chatKey {
			t.Fatalf("watch answered %v, want a reply for %s", r, chatKey)
		}
		if r := bList.watch("chat_list", nil, "ru", "dark"); r["type"] != "reply" || r["screen"] != "chat_list" {
			t.Fatalf("watch answered %v, want a reply for chat_list", r)
		}
		aChat.watch("chat", map[string]any{"dialog_id": id}, "en", "light")

		// Watches are checked like screen requests, and only members may
		// watch a dialog.
		cDev := dial(t, e.url, c.AccessToken)
		for _, tt := range []struct {
			screen string
			params map[string]any
			code   string
		}{
			{"chat", map[string]any{"dialog_id": id}, "not_found"},
			{"chat", nil, "missing_param"},
			{"chat", map[string]any{"dialog_id": "a b"}, "invalid_param"},
			{"nope", nil, "unknown_screen"},
		} {
			if r := cDev.watch(tt.screen, tt.params, "en", "light"); r["type"] != "error" || str(r, "error", "code") != tt.code {
				t.Errorf("watch %s %v answered %v, want %s", tt.screen, tt.params, r, tt.code)
			}
		}

		// A sends: B's chat gets the raw event and a bubble, B's list the
		// row on top with one unread, A's own chat its own bubble.
		aChat.send(map[string]any{"type": "send", "id": "s1", "dialog_id": id, "client_id": "m1", "text": "Привет, Борис"})
		msgID := str(aChat.waitFor("reply", replyTo("s1")), "message", "id")
		node := "msg-" + msgID
		bChat.waitFor("message event", messageWith("m1"))
		p := bChat.waitFor("bubble insert", patchOp(chatKey, "insert", node))
		ins := findOp(t, p, chatKey, "insert", node)
		if ins["into"] != "messages" || ins["at"] != "end" || str(ins, "node", "text") != "Привет, Борис" ||
			str(ins, "node", "type") != "message_bubble" || ins["node"].(map[string]any)["own"] != false {
			t.Fatalf("insert %v, want B's bubble of the message at the end of messages", ins)
		}
		p = bList.waitFor("row move", patchOp("chat_list", "insert", rowID))
		if o := ops(p, "chat_list"); len(o) != 2 || o[0]["op"] != "remove" || o[0]["id"] != rowID || o[1]["into"] != "dialogs" || o[1]["at"] != "start" {
			t.Fatalf("list patch %v, want remove %s and insert at the start of dialogs", o, rowID)
		}
		row := findOp(t, p, "chat_list", "insert", rowID)["node"]
		if badge := findNode(row, badgeID); badge == nil || badge["text"] != "1" {
			t.Fatalf("row %v, want badge %s with 1", row, badgeID)
		}
		p = aChat.waitFor("own bubble", patchOp(chatKey, "insert", node))
		if own := findOp(t, p, chatKey, "insert", node)["node"].(map[string]any); own["own"] != true || own["status"] != "sent" {
			t.Fatalf("own bubble %v, want own with status sent", own)
		}

		// B reads: A's bubble turns read; B's row loses its badge.
		bChat.send(map[string]any{"type": "read", "dialog_id": id, "seq": 1})
		p = aChat.waitFor("ticks", patchOp(chatKey, "set", node))
		if st := findOp(t, p, chatKey, "set", node)["props"].(map[string]any)["status"]; st != "read" {
			t.Fatalf("set %v, want status read", p)
		}
		p = bList.waitFor("row update", patchOp("chat_list", "replace", rowID))
		if findNode(findOp(t, p, "chat_list", "replace", rowID)["node"], badgeID) != nil {
			t.Fatalf("row %v still has a badge after the read", p)
		}

		// An edit replaces the bubble on both sides.
		e.want(e.do("PATCH", "/v1/dialogs/"+id+"/messages/1", a.AccessToken, map[string]any{"text": "Привет, Боря"}), 200)
		p = bChat.waitFor("bubble replace", patchOp(chatKey, "replace", node))
		if n := findOp(t, p, chatKey, "replace", node)["node"].(map[string]any); n["text"] != "Привет, Боря" || n["edited"] != true {
			t.Fatalf("replace %v, want the edited text", n)
		}
		aChat.waitFor("own bubble replace", patchOp(chatKey, "replace", node))

		// The device that watches nothing got the events and no patch (A's
		// later patches have arrived, so earlier ones would have too).
		aIdle.waitFor("message event", messageWith("m1"))
		aIdle.none("patch", typed("patch"))
		cDev.none("patch", typed("patch"))

		// Clearing the watch stops patches.
		bChat.send(map[string]any{"type": "watch", "id": "clear"})
		bChat.waitFor("clear", replyTo("clear"))
		bChat.take(typed("patch"))
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "m2", "text": "ещё"}), 201)
		bList.waitFor("row move", patchOp("chat_list", "insert", rowID))
		bChat.waitFor("message event", messageWith("m2"))
		aChat.waitFor("own bubble", patchOp(chatKey, "insert", "msg-"+chat.MessageID(mustID(t, id), 2)))
		bChat.none("patch", typed("patch"))
	})
}

func mustID(t *testing.T, s string) int64 {
	t.Helper()
	id, err := chat.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPatchRendersOncePerVariant: two devices in one variant cost one
// render, a third in another language a second.
func TestPatchRendersOncePerVariant(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		chatKey := "chat:" + id
		d1, d2, d3 := dial(t, e.url, b.AccessToken), dial(t, e.url, b.AccessToken), dial(t, e.url, b.AccessToken)
		d1.watch("chat", map[string]any{"dialog_id": id}, "ru", "dark")
		d2.watch("chat", map[string]any{"dialog_id": id}, "ru-RU, ru;q=0.9", "dark")
		before := e.app.patcher.Renders()
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "v1", "text": "раз"}), 201)
		node := "msg-" + chat.MessageID(mustID(t, id), 1)
		p1 := d1.waitFor("patch", patchOp(chatKey, "insert", node))
		p2 := d2.waitFor("patch", patchOp(chatKey, "insert", node))
		if got := e.app.patcher.Renders() - before; got != 1 {
			t.Fatalf("%d renders for two devices of one variant, want 1", got)
		}
		if fmt.Sprint(p1) != fmt.Sprint(p2) {
			t.Fatalf("same variant, different patches:\n%v\n%v", p1, p2)
		}

		d3.watch("chat", map[string]any{"dialog_id": id}, "en", "dark")
		before = e.app.patcher.Renders()
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "v2", "text": "два"}), 201)
		node = "msg-" + chat.MessageID(mustID(t, id), 2)
		for _, d := range []*wsClient{d1, d2, d3} {
			d.waitFor("patch", patchOp(chatKey, "insert", node))
		}
		if got := e.app.patcher.Renders() - before; got != 2 {
			t.Fatalf("%d renders for three devices in two variants, want 2", got)
		}
	})
}

// TestLivePatchSubjectCardInLanguage: a chat list row patched live shows
// its subject card's title in the watcher's language, as the first render
// does (dialog_row takes lang).
func TestLivePatchSubjectCardInLanguage(t *testing.T) {
	e := newEnv(t, map[string]string{"KOROBKA_BUSINESS_NAME": "Acme support"})
	client := e.loginTest("+79990000002", "222222")
	d := e.want(e.do("POST", "/v1/business/dialog", client.AccessToken, map[string]any{"subject": "listing:bike-city"}), 201).field(t, "id").(string)
	rowID := "dialog-" + d
	for lang, want := range map[string]string{"ru": "Городской велосипед, 2023", "en": "City bike, 2023"} {
		list := dial(t, e.url, client.AccessToken)
		if r := list.watch("chat_list", nil, lang, "light"); r["type"] != "reply" {
			t.Fatalf("watch answered %v", r)
		}
		e.want(e.do("POST", "/v1/dialogs/"+d+"/messages", client.AccessToken, map[string]any{"client_id": "q-" + lang, "text": "Ещё продаёте?"}), 201)
		p := list.waitFor("row move", patchOp("chat_list", "insert", rowID))
		row, err := json.Marshal(findOp(t, p, "chat_list", "insert", rowID)["node"])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(row), want) {
			t.Errorf("%s row: %s, want the card titled %q", lang, row, want)
		}
	}
}
