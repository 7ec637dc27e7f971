package main

import (
	"bytes"
	"image/png"
	"strconv"
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
