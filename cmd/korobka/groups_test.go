package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// groupOfThree logs in Anna, Boris and Vera on e (names set) and makes
// Anna's group of the three; it returns their tokens and the group's id.
func (e *env) groupOfThree() (anna, boris, vera tokens, id string) {
	e.t.Helper()
	anna, boris = e.loginTest("+79990000001", "111111"), e.loginTest("+79990000002", "222222")
	vera = e.loginTest("+79991230010", "333333")
	for tk, name := range map[*tokens]string{&anna: "Анна", &boris: "Борис", &vera: "Вера"} {
		e.want(e.do("PATCH", "/v1/me", tk.AccessToken, map[string]any{"first_name": name}), 200)
	}
	r := e.want(e.do("POST", "/v1/dialogs", anna.AccessToken, map[string]any{"kind": "group", "title": "Клуб",
		"member_ids": []string{boris.User.ID, vera.User.ID}}), 201)
	return anna, boris, vera, r.field(e.t, "id").(string)
}

// TestGroupRemovalEverywhere: with two nodes on MariaDB and Redis, a
// member removed through one node stops at once on the other: no more
// live messages on their socket there, sends and history refused, and the
// media URL they held answers 403, while the others go on and get fresh
// URLs that work. (Each test node keeps its media in its own folder, so
// files are fetched from node A, where they were uploaded.)
func TestGroupRemovalEverywhere(t *testing.T) {
	nodePair(t, map[string]string{"KOROBKA_MEDIA_SECRET": strings.Repeat("s3cr3t", 8)}, func(t *testing.T, nodeA, nodeB *env) {
		anna, boris, vera, id := nodeA.groupOfThree()
		ct, form := multipartFile("file", "p.png", pngBytes(t, 40, 30))
		up := nodeA.want(nodeA.doType("POST", "/v1/uploads", vera.AccessToken, ct, form), 201).field(t, "id").(string)
		nodeA.want(nodeA.do("POST", "/v1/dialogs/"+id+"/messages", vera.AccessToken,
			map[string]any{"client_id": "p-1", "text": "", "attachments": []map[string]string{{"upload_id": up}}}), 201)
		hist := nodeA.want(nodeA.do("GET", "/v1/dialogs/"+id+"/messages", vera.AccessToken, nil), 200)
		var page struct {
			Messages []struct {
				Attachments []struct {
					URL string `json:"url"`
				} `json:"attachments"`
			} `json:"messages"`
		}
		hist.json(t, &page)
		last := page.Messages[len(page.Messages)-1]
		if len(last.Attachments) != 1 {
			t.Fatalf("no attachment in %s", hist.body)
		}
		photo := last.Attachments[0].URL
		if res := statusOf(t, nodeA.url+photo); res != http.StatusOK {
			t.Fatalf("photo for a member: %d", res)
		}

		veraB := dial(t, nodeB.url, vera.AccessToken)
		borisB := dial(t, nodeB.url, boris.AccessToken)
		nodeA.want(nodeA.do("POST", "/v1/dialogs/"+id+"/messages", anna.AccessToken, map[string]any{"client_id": "a-1", "text": "до"}), 201)
		veraB.waitFor("a message before the removal", messageWith("a-1"))

		nodeB.want(nodeB.do("DELETE", "/v1/dialogs/"+id+"/members/"+vera.User.ID, anna.AccessToken, nil), 204)
		// The photo URL she held dies on the node that serves it
		// (through the broker when that is the other node).
		deadline := time.Now().Add(5 * time.Second)
		for statusOf(t, nodeA.url+photo) != http.StatusForbidden {
			if time.Now().After(deadline) {
				t.Fatalf("her old media URL still works")
			}
			time.Sleep(10 * time.Millisecond)
		}
		veraB.waitFor("her removal", func(f map[string]any) bool {
			return f["type"] == "message" && str(f, "message", "system", "type") == "member_removed"
		})
		nodeA.want(nodeA.do("POST", "/v1/dialogs/"+id+"/messages", anna.AccessToken, map[string]any{"client_id": "a-2", "text": "после"}), 201)
		borisB.waitFor("a message after the removal", messageWith("a-2"))
		veraB.none("anything after the removal", messageWith("a-2"))

		nodeB.wantErr(nodeB.do("POST", "/v1/dialogs/"+id+"/messages", vera.AccessToken, map[string]any{"client_id": "v-1", "text": "я тут"}), 404, "not_found")
		// She keeps the history up to her removal, without media.
		mine := nodeB.want(nodeB.do("GET", "/v1/dialogs/"+id+"/messages", vera.AccessToken, nil), 200)
		var kept struct {
			Messages []struct {
				ClientID    string            `json:"client_id"`
				Attachments []json.RawMessage `json:"attachments"`
				System      *struct {
					Type string `json:"type"`
				} `json:"system"`
			} `json:"messages"`
		}
		mine.json(t, &kept)
		if n := len(kept.Messages); n == 0 || kept.Messages[n-1].System == nil || kept.Messages[n-1].System.Type != "member_removed" {
			t.Errorf("her history after removal = %s, want it to end with her removal", mine.body)
		}
		for _, m := range kept.Messages {
			if m.ClientID == "a-2" || len(m.Attachments) != 0 {
				t.Errorf("her history after removal holds %+v (after the removal, or media)", m)
			}
		}
		if d := nodeB.want(nodeB.do("GET", "/v1/dialogs/"+id, vera.AccessToken, nil), 200); d.field(t, "membership") != "removed" {
			t.Errorf("her dialog after removal = %s, want membership removed", d.body)
		}
		veraB.send(map[string]any{"type": "send", "id": "s1", "dialog_id": id, "client_id": "v-2", "text": "эй"})
		if r := veraB.waitFor("refused send", replyTo("s1")); str(r, "error", "code") != "not_found" {
			t.Errorf("send over the socket after removal: %v", r)
		}
		// The members who stay get fresh URLs that work.
		hist = nodeB.want(nodeB.do("GET", "/v1/dialogs/"+id+"/messages", boris.AccessToken, nil), 200)
		hist.json(t, &page)
		for _, m := range page.Messages {
			for _, a := range m.Attachments {
				if res := statusOf(t, nodeA.url+a.URL); res != http.StatusOK {
					t.Errorf("a member's fresh URL: %d", res)
				}
			}
		}
	})
}

func statusOf(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestGroupBadInputChangesNothing: each refused group request leaves the
// group as it was, on both backends.
func TestGroupBadInputChangesNothing(t *testing.T) {
	backendsWith(t, map[string]string{"KOROBKA_GROUP_MAX_MEMBERS": "3"}, func(t *testing.T, e *env) {
		anna, boris, vera, id := e.groupOfThree()
		gleb := e.loginTest("+79991230011", "333333")
		before := e.want(e.do("GET", "/v1/dialogs/"+id, anna.AccessToken, nil), 200)
		e.wantErr(e.do("POST", "/v1/dialogs/"+id+"/members", anna.AccessToken, map[string]any{"user_ids": []string{gleb.User.ID}}), 400, "too_many_members")
		e.wantErr(e.do("POST", "/v1/dialogs/"+id+"/members", anna.AccessToken, map[string]any{"user_ids": []string{"123"}}), 400, "unknown_user")
		e.wantErr(e.do("DELETE", "/v1/dialogs/"+id+"/members/"+anna.User.ID, boris.AccessToken, nil), 403, "not_permitted")
		e.want(e.do("PUT", "/v1/dialogs/"+id+"/members/"+boris.User.ID+"/role", anna.AccessToken, map[string]any{"role": "admin"}), 204)
		e.wantErr(e.do("DELETE", "/v1/dialogs/"+id+"/members/"+anna.User.ID, boris.AccessToken, nil), 403, "cannot_remove_owner")
		e.wantErr(e.do("DELETE", "/v1/dialogs/"+id+"/members/"+boris.User.ID, vera.AccessToken, nil), 403, "not_permitted")
		e.wantErr(e.do("PATCH", "/v1/dialogs/"+id, anna.AccessToken, map[string]any{"title": "\u2066\u2069 \u200d"}), 400, "invalid_title")
		e.wantErr(e.do("POST", "/v1/dialogs", anna.AccessToken, map[string]any{"kind": "group", "title": "x",
			"member_ids": []string{boris.User.ID, vera.User.ID, gleb.User.ID}}), 400, "too_many_members")
		after := e.want(e.do("GET", "/v1/dialogs/"+id, anna.AccessToken, nil), 200)
		for _, f := range []string{"title", "member_count"} {
			if before.field(t, f) != after.field(t, f) {
				t.Errorf("%s changed: %v → %v", f, before.field(t, f), after.field(t, f))
			}
		}
		// The promotion is the one change: one system message more.
		if b, a := before.field(t, "last_message", "seq").(float64), after.field(t, "last_message", "seq").(float64); a != b+1 {
			t.Errorf("last seq %v → %v, want one more (the promotion)", b, a)
		}
		list := e.want(e.do("GET", "/v1/dialogs", gleb.AccessToken, nil), 200)
		if d, _ := list.field(t, "dialogs").([]any); len(d) != 0 {
			t.Errorf("the refused group was created: %s", list.body)
		}
	})
}

// TestGroupRemovedSeesNoLaterChanges: after Vera's removal Anna edits a
// message from before it and deletes another. Vera's history, her
// ?since= pages and her sync (seq and change forms) keep the messages up
// to her removal that did not change, and give neither the new text nor
// the delete: what changed after the removal is not hers to see.
func TestGroupRemovedSeesNoLaterChanges(t *testing.T) {
	nodePair(t, nil, func(t *testing.T, nodeA, nodeB *env) {
		anna, _, vera, id := nodeA.groupOfThree()
		send := func(cid, text string) {
			nodeA.want(nodeA.do("POST", "/v1/dialogs/"+id+"/messages", anna.AccessToken, map[string]any{"client_id": cid, "text": text}), 201)
		}
		send("keep", "kept as it was")
		send("edit", "before the removal")
		send("gone", "deleted after the removal")
		nodeA.want(nodeA.do("DELETE", "/v1/dialogs/"+id+"/members/"+vera.User.ID, anna.AccessToken, nil), 204)
		nodeA.want(nodeA.do("PATCH", "/v1/dialogs/"+id+"/messages/4", anna.AccessToken, map[string]any{"text": "SECRET written after the removal"}), 200)
		nodeA.want(nodeA.do("DELETE", "/v1/dialogs/"+id+"/messages/5", anna.AccessToken, nil), 200)

		check := func(how string, raw []byte) {
			t.Helper()
			s := string(raw)
			if strings.Contains(s, "SECRET") || strings.Contains(s, `"deleted":true`) || strings.Contains(s, `"client_id":"edit"`) || strings.Contains(s, `"client_id":"gone"`) {
				t.Errorf("%s gives the removed member a change made after her removal: %s", how, s)
			}
			if !strings.Contains(s, "kept as it was") {
				t.Errorf("%s lost the history up to the removal: %s", how, s)
			}
		}
		check("GET messages", nodeB.want(nodeB.do("GET", "/v1/dialogs/"+id+"/messages", vera.AccessToken, nil), 200).body)
		check("GET messages?since=0", nodeB.want(nodeB.do("GET", "/v1/dialogs/"+id+"/messages?since=0", vera.AccessToken, nil), 200).body)
		check("the group_chat screen", nodeB.want(nodeB.do("GET", "/v1/screens/group_chat?dialog_id="+id, vera.AccessToken, nil), 200).body)

		ws := dial(t, nodeB.url, vera.AccessToken)
		for _, form := range []string{"dialogs", "since"} {
			ws.send(map[string]any{"type": "sync", "id": form, form: map[string]any{id: 0}})
			reply := ws.waitFor("sync reply", replyTo(form))
			if reply["type"] != "reply" || reply["more"] != false {
				t.Fatalf("sync %s: %v", form, reply)
			}
			raw, _ := json.Marshal(ws.take(typed("message")))
			check("sync by "+form, raw)
			if form == "since" {
				// The change cursor stops at the removal: syncing again from it
				// gives nothing, however much the group changes.
				at, _ := reply["since"].(map[string]any)[id].(float64)
				ws.send(map[string]any{"type": "sync", "id": "again", "since": map[string]any{id: at}})
				ws.waitFor("sync reply", replyTo("again"))
				if more := ws.take(typed("message")); len(more) != 0 {
					t.Errorf("a sync from the answered cursor %v replayed %v", at, more)
				}
			}
		}
	})
}

// TestGroupRemovedKeepsTitle: the group is renamed after Vera's removal;
// her dialog list, the dialog and her group_chat screen keep the title
// she last saw, while Boris sees the new one.
func TestGroupRemovedKeepsTitle(t *testing.T) {
	nodePair(t, nil, func(t *testing.T, nodeA, nodeB *env) {
		anna, boris, vera, id := nodeA.groupOfThree()
		nodeA.want(nodeA.do("DELETE", "/v1/dialogs/"+id+"/members/"+vera.User.ID, anna.AccessToken, nil), 204)
		nodeA.want(nodeA.do("PATCH", "/v1/dialogs/"+id, anna.AccessToken, map[string]any{"title": "Renamed SECRET"}), 200)
		for how, r := range map[string]response{
			"GET dialog":            nodeB.want(nodeB.do("GET", "/v1/dialogs/"+id, vera.AccessToken, nil), 200),
			"GET dialogs":           nodeB.want(nodeB.do("GET", "/v1/dialogs", vera.AccessToken, nil), 200),
			"the group_chat screen": nodeB.want(nodeB.do("GET", "/v1/screens/group_chat?dialog_id="+id, vera.AccessToken, nil), 200),
		} {
			if s := string(r.body); strings.Contains(s, "SECRET") || !strings.Contains(s, `"title":"Клуб"`) {
				t.Errorf("%s shows the removed member a title given after her removal: %s", how, s)
			}
		}
		if r := nodeB.want(nodeB.do("GET", "/v1/dialogs/"+id, boris.AccessToken, nil), 200); r.field(t, "title") != "Renamed SECRET" {
			t.Errorf("a member sees the title %v", r.field(t, "title"))
		}
	})
}
