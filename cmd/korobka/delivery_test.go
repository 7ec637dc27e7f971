package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/korobka/korobka/chat/chattest"
)

// End-to-end tests of issue 10 (delivery correctness), one per kind, over
// REST and the WebSocket on both backends.

// TestClientIDScopedToDialog is item 1: "k1" in dialog 1, then "k1" with
// other text in dialog 2, used to answer 201 with the dialog-1 message and
// store nothing in dialog 2.
func TestClientIDScopedToDialog(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, _, d1 := e.pair()
		c := e.loginTest("+79991234011", "333333")
		d2 := e.want(e.do("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": c.User.ID}), 201).field(t, "id").(string)
		post := func(dialog, clientID, text string) response {
			t.Helper()
			return e.do("POST", "/v1/dialogs/"+dialog+"/messages", a.AccessToken, map[string]any{"client_id": clientID, "text": text})
		}

		m1 := e.want(post(d1, "k1", "to Boris"), 201)
		m2 := e.want(post(d2, "k1", "to the third"), 201)
		if m2.field(t, "dialog_id") != d2 || m2.field(t, "text") != "to the third" || m2.field(t, "id") == m1.field(t, "id") {
			t.Fatalf("k1 in dialog 2: got %s, want a new message in dialog %s", m2.body, d2)
		}
		again := e.want(post(d1, "k1", "to Boris"), 200)
		if again.field(t, "id") != m1.field(t, "id") {
			t.Fatalf("retry: got %s, want the stored %s", again.body, m1.body)
		}
		e.wantErr(post(d1, "k1", "something else"), 409, "client_id_conflict")

		// The WebSocket: the same rules, the same codes.
		ws := dial(t, e.url, a.AccessToken)
		ws.send(map[string]any{"type": "send", "id": "1", "dialog_id": d1, "client_id": "k2", "text": "one"})
		ws.waitFor("reply", replyTo("1"))
		ws.send(map[string]any{"type": "send", "id": "2", "dialog_id": d2, "client_id": "k2", "text": "two"})
		if r := ws.waitFor("reply", replyTo("2")); r["type"] != "reply" || str(r, "message", "dialog_id") != d2 || str(r, "message", "text") != "two" {
			t.Fatalf("k2 in dialog 2 over the socket: got %v", r)
		}
		ws.send(map[string]any{"type": "send", "id": "3", "dialog_id": d1, "client_id": "k2", "text": "not one"})
		if r := ws.waitFor("error", replyTo("3")); r["type"] != "error" || str(r, "error", "code") != "client_id_conflict" {
			t.Fatalf("k2 again with other text: got %v, want client_id_conflict", r)
		}

		var hist struct {
			Messages []struct {
				ClientID string `json:"client_id"`
				Text     string `json:"text"`
			} `json:"messages"`
		}
		e.want(e.do("GET", "/v1/dialogs/"+d2+"/messages", c.AccessToken, nil), 200).json(t, &hist)
		if len(hist.Messages) != 2 || hist.Messages[0].Text != "to the third" || hist.Messages[1].Text != "two" {
			t.Fatalf("dialog 2 holds %+v, want both messages sent to it", hist.Messages)
		}
		e.want(e.do("GET", "/v1/dialogs/"+d1+"/messages", a.AccessToken, nil), 200).json(t, &hist)
		if len(hist.Messages) != 2 {
			t.Fatalf("dialog 1 holds %+v, want 2 messages: nothing from the retries or conflicts", hist.Messages)
		}
	})
}

// TestUnreadExcludesDeleted is item 2: the partner sends one message and
// deletes it; the badge used to stay at 1.
func TestUnreadExcludesDeleted(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", b.AccessToken, map[string]any{"client_id": "b1", "text": "oops"}), 201)
		if u := e.want(e.do("GET", "/v1/dialogs/"+id, a.AccessToken, nil), 200).field(t, "unread"); u != float64(1) {
			t.Fatalf("unread after one message: got %v, want 1", u)
		}
		e.want(e.do("DELETE", "/v1/dialogs/"+id+"/messages/1", b.AccessToken, nil), 200)
		if u := e.want(e.do("GET", "/v1/dialogs/"+id, a.AccessToken, nil), 200).field(t, "unread"); u != float64(0) {
			t.Errorf("one dialog after the delete: got unread %v, want 0", u)
		}
		var list struct {
			Dialogs []struct {
				Unread int `json:"unread"`
			} `json:"dialogs"`
		}
		e.want(e.do("GET", "/v1/dialogs", a.AccessToken, nil), 200).json(t, &list)
		if len(list.Dialogs) != 1 || list.Dialogs[0].Unread != 0 {
			t.Errorf("chat list after the delete: got %+v, want unread 0", list.Dialogs)
		}
	})
}

// TestSyncReplaysEditsAndDeletes is item 3: a device holding seq 1 goes
// offline, the partner deletes seq 1, and the device resumed with sync and
// heard nothing about it. With a change cursor it hears of every edit and
// delete once, in the latest state, over the socket and over REST.
func TestSyncReplaysEditsAndDeletes(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		dev := dial(t, e.url, b.AccessToken)
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "m1", "text": "first"}), 201)
		f := dev.waitFor("m1", messageWith("m1"))
		held := str(f, "message", "change") // the device holds seq 1 and goes away
		dev.close()

		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "m2", "text": "second"}), 201)
		e.want(e.do("DELETE", "/v1/dialogs/"+id+"/messages/1", a.AccessToken, nil), 200)
		e.want(e.do("PATCH", "/v1/dialogs/"+id+"/messages/2", a.AccessToken, map[string]any{"text": "second, edited"}), 200)

		back := dial(t, e.url, b.AccessToken)
		back.send(map[string]any{"type": "sync", "id": "s", "since": map[string]any{id: json.Number(held)}})
		del := back.waitFor("the delete", messageWith("m1"))
		if str(del, "message", "seq") != "1" || del["message"].(map[string]any)["deleted"] != true || str(del, "message", "text") != "" {
			t.Fatalf("got %v, want seq 1 deleted with no text", del)
		}
		edit := back.waitFor("the edit", messageWith("m2"))
		if str(edit, "message", "text") != "second, edited" || str(edit, "message", "edited_at") == "" {
			t.Fatalf("got %v, want seq 2 as edited", edit)
		}
		r := back.waitFor("sync reply", replyTo("s"))
		if r["type"] != "reply" || str(r, "since", id) != "4" || r["more"] != false {
			t.Fatalf("got %v, want since %s: 4", r, id)
		}
		back.none("a duplicate", typed("message"))

		// The same over REST.
		var hist struct {
			Messages []struct {
				Seq     int    `json:"seq"`
				Change  int    `json:"change"`
				Text    string `json:"text"`
				Deleted bool   `json:"deleted"`
			} `json:"messages"`
		}
		e.want(e.do("GET", "/v1/dialogs/"+id+"/messages?since="+held, b.AccessToken, nil), 200).json(t, &hist)
		if len(hist.Messages) != 2 || hist.Messages[0].Seq != 1 || !hist.Messages[0].Deleted || hist.Messages[0].Change != 3 ||
			hist.Messages[1].Seq != 2 || hist.Messages[1].Text != "second, edited" || hist.Messages[1].Change != 4 {
			t.Fatalf("history since %s: got %+v", held, hist.Messages)
		}
	})
}

// TestOpenExistingDialogShowsLastMessage is item 4: POST /v1/dialogs for
// an existing dialog answered last_message null while GET showed it.
func TestOpenExistingDialogShowsLastMessage(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "m1", "text": "hello"}), 201)
		opened := e.want(e.do("POST", "/v1/dialogs", b.AccessToken, map[string]any{"user_id": a.User.ID}), 200)
		got := e.want(e.do("GET", "/v1/dialogs/"+id, b.AccessToken, nil), 200)
		if string(opened.body) != string(got.body) {
			t.Fatalf("POST /v1/dialogs answered\n%s\nGET answered\n%s\nwant the same dialog", opened.body, got.body)
		}
		if lm, _ := opened.field(t, "last_message").(map[string]any); lm == nil || lm["text"] != "hello" {
			t.Fatalf("POST /v1/dialogs for an existing dialog: last_message %v, want the message", opened.field(t, "last_message"))
		}
	})
}

// TestLastSeenSurvivesShutdown is item 15: disconnects are written
// together, read right at once, and written when the server stops.
func TestLastSeenSurvivesShutdown(t *testing.T) {
	for _, name := range []string{"sqlite+memory", "mysql+redis"} {
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{"KOROBKA_DATA": t.TempDir()}
			if name == "mysql+redis" {
				vars["KOROBKA_MYSQL_DSN"] = chattest.MySQLDSN(t)
				vars["KOROBKA_REDIS_URL"] = chattest.RedisURL(t)
				vars["KOROBKA_REDIS_PREFIX"] = chattest.RedisPrefix(t)
			}
			e := newEnv(t, vars)
			a, b, _ := e.pair()
			e.befriend(a, b) // presence is shared with consent
			watch := dial(t, e.url, a.AccessToken)
			dev := dial(t, e.url, b.AccessToken)
			watch.waitFor("b online", func(f map[string]any) bool {
				return f["type"] == "presence" && f["user_id"] == b.User.ID && f["online"] == true
			})
			dev.close()
			off := watch.waitFor("b offline", func(f map[string]any) bool {
				return f["type"] == "presence" && f["user_id"] == b.User.ID && f["online"] == false
			})
			seen := off["last_seen"]
			if r := e.want(e.do("GET", "/v1/users/"+b.User.ID, a.AccessToken, nil), 200); r.field(t, "last_seen") != seen {
				t.Fatalf("last seen at once: got %s, want %v", r.body, seen)
			}
			watch.close()
			e.app.close() // writes what is gathered

			again := newEnv(t, vars)
			r := again.want(again.do("GET", "/v1/users/"+b.User.ID, a.AccessToken, nil), 200)
			if r.field(t, "online") != false || r.field(t, "last_seen") != seen {
				t.Fatalf("last seen after a restart: got %s, want %v", r.body, seen)
			}
		})
	}
}

// TestTwoNodesChangeCursor: edits and deletes made on node A reach a
// device that resumes on node B by change cursor, and last seen gathered
// on node A reads right on node B once written.
func TestTwoNodesChangeCursor(t *testing.T) {
	vars := map[string]string{
		"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
		"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
		"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
	}
	nodeA, nodeB := newEnv(t, vars), newEnv(t, vars)
	a, b, id := nodeA.pair()
	nodeA.befriend(a, b) // presence is shared with consent
	onA := dial(t, nodeA.url, b.AccessToken)
	watchB := dial(t, nodeB.url, a.AccessToken)
	for i := 1; i <= 3; i++ {
		nodeA.want(nodeA.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": fmt.Sprint("m", i), "text": fmt.Sprint("n", i)}), 201)
	}
	held := str(onA.waitFor("m3", messageWith("m3")), "message", "change")
	onA.close()
	off := watchB.waitFor("b offline, seen on node B", func(f map[string]any) bool {
		return f["type"] == "presence" && f["user_id"] == b.User.ID && f["online"] == false
	})
	// Node A writes last seen within its interval; node B reads it then.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := nodeB.want(nodeB.do("GET", "/v1/users/"+b.User.ID, a.AccessToken, nil), 200)
		if r.field(t, "last_seen") == off["last_seen"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B shows %s, want last_seen %v", r.body, off["last_seen"])
		}
		time.Sleep(20 * time.Millisecond)
	}

	nodeB.want(nodeB.do("DELETE", "/v1/dialogs/"+id+"/messages/2", a.AccessToken, nil), 200)
	nodeA.want(nodeA.do("PATCH", "/v1/dialogs/"+id+"/messages/3", a.AccessToken, map[string]any{"text": "n3!"}), 200)
	onB := dial(t, nodeB.url, b.AccessToken)
	onB.send(map[string]any{"type": "sync", "id": "s", "since": map[string]any{id: json.Number(held)}})
	if f := onB.waitFor("the delete", messageWith("m2")); f["message"].(map[string]any)["deleted"] != true {
		t.Fatalf("got %v, want m2 deleted", f)
	}
	if f := onB.waitFor("the edit", messageWith("m3")); str(f, "message", "text") != "n3!" {
		t.Fatalf("got %v, want m3 edited", f)
	}
	if r := onB.waitFor("sync reply", replyTo("s")); str(r, "since", id) != "5" {
		t.Fatalf("got %v, want since 5", r)
	}
}
