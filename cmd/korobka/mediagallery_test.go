package main

import (
	"bytes"
	"image/png"
	"strconv"
	"strings"
	"testing"
)

// TestDialogMedia: the gallery lists a dialog's photos, videos and files
// by kind, newest first, in bounded pages, for members only, without the
// attachments of deleted messages.
func TestDialogMedia(t *testing.T) {
	clip := testClip(t, "mp4")
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		eve := e.loginTest("+79991230001", "333333")
		send := func(tk tokens, clientID, name string, data []byte) float64 {
			t.Helper()
			up := e.want(e.postUpload(tk.AccessToken, name, data), 201)
			r := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", tk.AccessToken, map[string]any{
				"client_id": clientID, "attachments": []any{map[string]any{"upload_id": up.field(t, "id")}}}), 201)
			return r.field(t, "seq").(float64)
		}
		photo := func(w int) []byte {
			var buf bytes.Buffer
			png.Encode(&buf, gradient(w, 20))
			return buf.Bytes()
		}
		p1 := send(a, "p1", "one.png", photo(30))
		p2 := send(b, "p2", "two.png", photo(40))
		p3 := send(a, "p3", "three.png", photo(50))
		v1 := send(b, "v1", "answer.mp4", clip)
		f1 := send(a, "f1", "notes.txt", []byte("some notes\n"))
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "t1", "text": "no media"}), 201)
		// Deleting a message takes its photo out of the gallery.
		e.want(e.do("DELETE", "/v1/dialogs/"+id+"/messages/"+strconv.Itoa(int(p2)), b.AccessToken, nil), 200)

		type page struct {
			Kind  string
			Items []struct {
				Seq        float64
				SenderID   string `json:"sender_id"`
				Attachment videoAttachment
			}
			NextCursor string `json:"next_cursor"`
		}
		get := func(tk tokens, query string) page {
			t.Helper()
			var p page
			e.want(e.do("GET", "/v1/dialogs/"+id+"/media?"+query, tk.AccessToken, nil), 200).json(t, &p)
			return p
		}
		// Photos, newest first, one a page: p3, then p1, then the end.
		first := get(b, "kind=photo&limit=1")
		if first.Kind != "photo" || len(first.Items) != 1 || first.Items[0].Seq != p3 || first.NextCursor == "" ||
			first.Items[0].Attachment.Kind != "image" || first.Items[0].SenderID != a.User.ID {
			t.Fatalf("first page %+v, want photo %v and a cursor", first, p3)
		}
		second := get(b, "kind=photo&limit=1&cursor="+first.NextCursor)
		if len(second.Items) != 1 || second.Items[0].Seq != p1 || second.NextCursor != "" {
			t.Fatalf("second page %+v, want photo %v and the end", second, p1)
		}
		if all := get(a, "kind=photo"); len(all.Items) != 2 || all.NextCursor != "" {
			t.Fatalf("all photos %+v, want 2 and no cursor", all)
		}
		videos := get(a, "kind=video")
		if len(videos.Items) != 1 || videos.Items[0].Seq != v1 || videos.Items[0].Attachment.PosterURL == "" ||
			videos.Items[0].Attachment.DurationMS == 0 {
			t.Fatalf("videos %+v, want the clip with its poster and duration", videos)
		}
		if r := e.getMedia(videos.Items[0].Attachment.URL); r.status != 200 || !bytes.Equal(r.body, clip) {
			t.Fatalf("the gallery's video URL: %d", r.status)
		}
		if files := get(b, "kind=file"); len(files.Items) != 1 || files.Items[0].Seq != f1 || files.Items[0].Attachment.Name != "notes.txt" {
			t.Fatalf("files %+v, want notes.txt", files)
		}

		// Bad input changes nothing and says what is wrong.
		e.wantErr(e.do("GET", "/v1/dialogs/"+id+"/media", a.AccessToken, nil), 400, "invalid_media_kind")
		e.wantErr(e.do("GET", "/v1/dialogs/"+id+"/media?kind=audio", a.AccessToken, nil), 400, "invalid_media_kind")
		e.wantErr(e.do("GET", "/v1/dialogs/"+id+"/media?kind=photo&cursor=zz", a.AccessToken, nil), 400, "invalid_cursor")
		e.wantErr(e.do("GET", "/v1/dialogs/"+id+"/media?kind=photo&limit=1000", a.AccessToken, nil), 400, "invalid_limit")
		// Someone outside the dialog sees nothing, as if it did not exist.
		e.wantErr(e.do("GET", "/v1/dialogs/"+id+"/media?kind=photo", eve.AccessToken, nil), 404, "not_found")
		e.want(e.do("GET", "/v1/dialogs/"+id+"/media?kind=photo", "", nil), 401)
	})
}

// TestMediaScreen: the media screen renders a dialog's gallery of one kind
// and, watched, is patched live: a new video is inserted at the top, a
// deleted one removed. Only members may open or watch it.
func TestMediaScreen(t *testing.T) {
	clip := testClip(t, "mp4")
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		c := e.loginTest("+79991234001", "333333")
		key := "media:" + id

		bDev := dial(t, e.url, b.AccessToken)
		if r := bDev.watch("media", map[string]any{"dialog_id": id, "kind": "video"}, "ru", "dark"); r["type"] != "reply" || r["screen"] != key {
			t.Fatalf("watch answered %v, want a reply for %s", r, key)
		}
		cDev := dial(t, e.url, c.AccessToken)
		if r := cDev.watch("media", map[string]any{"dialog_id": id}, "en", "light"); r["type"] != "error" || str(r, "error", "code") != "not_found" {
			t.Fatalf("a stranger's watch answered %v, want not_found", r)
		}

		up := e.want(e.postUpload(a.AccessToken, "answer.mp4", clip), 201)
		sent := e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{
			"client_id": "v1", "text": "Ответ", "attachments": []any{map[string]any{"upload_id": up.field(t, "id")}}}), 201)
		seq := strconv.Itoa(int(sent.field(t, "seq").(float64)))
		item := "media-" + seq + "-0"
		p := bDev.waitFor("gallery insert", patchOp(key, "insert", item))
		ins := findOp(t, p, key, "insert", item)
		if ins["into"] != "media" || ins["at"] != "start" {
			t.Fatalf("insert %v, want it at the start of media", ins)
		}
		v := findVideo(ins["node"])
		if v == nil || !strings.Contains(str(v, "src"), "?dialog="+id+"&") || !strings.HasSuffix(strings.Split(str(v, "poster"), "?")[0], ".jpg") {
			t.Fatalf("inserted %v, want a video with its signed URL and poster", ins["node"])
		}

		// The full screen shows the same item.
		r := e.screen("/v1/screens/media?dialog_id="+id+"&kind=video", b.AccessToken, "")
		if r.status != 200 {
			t.Fatalf("GET media screen: %d %s", r.status, r.body)
		}
		var layout map[string]any
		r.json(t, &layout)
		if findNode(layout["root"], item) == nil {
			t.Fatalf("the media screen lacks %s: %s", item, r.body)
		}
		if r := e.screen("/v1/screens/media?dialog_id="+id+"&kind=video", c.AccessToken, ""); r.status != 404 {
			t.Fatalf("a stranger's media screen: %d, want 404", r.status)
		}
		if r := e.screen("/v1/screens/chat?dialog_id="+id, b.AccessToken, ""); !strings.Contains(string(r.body), `"screen":"media"`) {
			t.Fatalf("the chat screen does not lead to the media screen: %s", r.body)
		}

		// Deleting the message takes the video out of the open gallery.
		e.want(e.do("DELETE", "/v1/dialogs/"+id+"/messages/"+seq, a.AccessToken, nil), 200)
		bDev.waitFor("gallery remove", patchOp(key, "remove", item))
	})
}

// findVideo finds the first video node in a layout tree.
func findVideo(n any) map[string]any {
	switch x := n.(type) {
	case map[string]any:
		if x["type"] == "video" {
			return x
		}
		for _, v := range x {
			if m := findVideo(v); m != nil {
				return m
			}
		}
	case []any:
		for _, v := range x {
			if m := findVideo(v); m != nil {
				return m
			}
		}
	}
	return nil
}

// TestGroupMediaVisibility: in a group that hides its history, a member
// added later sees the media from their join on; a removed member sees
// none.
func TestGroupMediaVisibility(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a := e.loginTest("+79990000001", "111111")
		b := e.loginTest("+79990000002", "222222")
		c := e.loginTest("+79991234001", "333333")
		g := e.want(e.do("POST", "/v1/dialogs", a.AccessToken, map[string]any{"kind": "group", "title": "Клуб",
			"member_ids": []string{b.User.ID}}), 201)
		id := g.field(t, "id").(string)
		e.want(e.do("PATCH", "/v1/dialogs/"+id, a.AccessToken, map[string]any{"history_visible": false}), 200)
		var buf bytes.Buffer
		png.Encode(&buf, gradient(30, 20))
		send := func(clientID string) {
			up := e.want(e.postUpload(a.AccessToken, "p.png", buf.Bytes()), 201)
			e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{
				"client_id": clientID, "attachments": []any{map[string]any{"upload_id": up.field(t, "id")}}}), 201)
		}
		count := func(tk tokens) int {
			t.Helper()
			var p struct{ Items []any }
			e.want(e.do("GET", "/v1/dialogs/"+id+"/media?kind=photo", tk.AccessToken, nil), 200).json(t, &p)
			return len(p.Items)
		}
		send("before")
		e.want(e.do("POST", "/v1/dialogs/"+id+"/members", a.AccessToken, map[string]any{"user_ids": []string{c.User.ID}}), 200)
		send("after")
		if n := count(b); n != 2 {
			t.Errorf("b sees %d photos, want 2", n)
		}
		if n := count(c); n != 1 {
			t.Errorf("c, added with the history hidden, sees %d photos, want the 1 sent since", n)
		}
		e.want(e.do("DELETE", "/v1/dialogs/"+id+"/members/"+b.User.ID, a.AccessToken, nil), 204)
		e.wantErr(e.do("GET", "/v1/dialogs/"+id+"/media?kind=photo", b.AccessToken, nil), 404, "not_found")
	})
}
