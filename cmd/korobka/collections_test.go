package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/korobka/korobka/chat"
)

// admin logs a test number in and makes it an admin (roles are read per
// request, so the token works as an admin's at once).
func (e *env) admin(phone, code string) tokens {
	e.t.Helper()
	tk := e.loginTest(phone, code)
	if _, err := e.app.store.SetRole(context.Background(), tk.User.Phone, chat.RoleAdmin); err != nil {
		e.t.Fatal(err)
	}
	return tk
}

// audited reports whether the audit log has an entry of action on target
// by actor.
func (e *env) audited(actor, action, target string) bool {
	e.t.Helper()
	id, err := chat.ParseID(actor)
	if err != nil {
		e.t.Fatal(err)
	}
	entries, err := e.app.store.Audit(context.Background(), chat.AuditFilter{ActorID: id, Action: action, TargetID: target}, 10)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(entries) > 0
}

func TestContentCollections(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		adm := e.admin("+79990000001", "111111")
		user := e.loginTest("+79990000002", "222222")

		// Users are refused every collection route; nothing changes.
		e.wantErr(e.do("GET", "/v1/admin/collections", user.AccessToken, nil), 403, "forbidden")
		e.wantErr(e.do("PUT", "/v1/admin/collections/tariffs/documents/x", user.AccessToken, map[string]any{"data": map[string]any{}}), 403, "forbidden")
		e.wantErr(e.do("GET", "/v1/admin/collections", "", nil), 401, "missing_token")

		// The shipped collections are defined from schemas/content.
		var list struct{ Collections []chat.Collection }
		e.want(e.do("GET", "/v1/admin/collections", adm.AccessToken, nil), 200).json(t, &list)
		names := map[string]bool{}
		for _, c := range list.Collections {
			names[c.Name] = true
		}
		for _, want := range []string{"tariffs", "news", "faq_videos", "order_service", "catalogue", "canned_answers"} {
			if !names[want] {
				t.Errorf("collection %s not defined; have %v", want, names)
			}
		}

		before := e.screen("/v1/screens/tariffs", user.AccessToken, "")
		etag := before.header.Get("ETag")

		// A document that fails the schema is refused with the schema's
		// path, and nothing changes.
		pro := map[string]any{"title": map[string]string{"en": "Pro", "ru": "Про"}, "price": 990, "currency": "RUB", "period": "month",
			"features": []any{map[string]string{"en": "Priority support", "ru": "Приоритетная поддержка"}}}
		bad := map[string]any{}
		for k, v := range pro {
			bad[k] = v
		}
		bad["price"] = -1
		r := e.do("PUT", "/v1/admin/collections/tariffs/documents/pro", adm.AccessToken, map[string]any{"data": bad, "published": true})
		e.wantErr(r, 400, "schema_mismatch")
		if got := r.field(t, "error", "path"); got != "/data/price" {
			t.Fatalf("schema error path: got %v, want /data/price (%s)", got, r.body)
		}
		bad["period"], bad["price"] = "week", 1
		r = e.do("PUT", "/v1/admin/collections/tariffs/documents/pro", adm.AccessToken, map[string]any{"data": bad})
		if e.wantErr(r, 400, "schema_mismatch"); r.field(t, "error", "path") != "/data/period" {
			t.Fatalf("schema error path: got %s, want /data/period", r.body)
		}
		e.wantErr(e.do("PUT", "/v1/admin/collections/tariffs/documents/pro", adm.AccessToken, map[string]any{"data": map[string]any{"id": "other"}}), 400, "id_mismatch")
		e.wantErr(e.do("PUT", "/v1/admin/collections/nope/documents/pro", adm.AccessToken, map[string]any{"data": pro}), 404, "no_collection")
		e.wantErr(e.do("PUT", "/v1/admin/collections/tariffs/documents/Bad%20Id", adm.AccessToken, map[string]any{"data": pro}), 400, "invalid_document_id")
		if r := e.screen("/v1/screens/tariffs", user.AccessToken, etag); r.status != 304 {
			t.Fatalf("after refused edits: got %d, want 304 (nothing changed)", r.status)
		}

		// An open tariffs screen is patched when the collection changes.
		ws := dial(t, e.url, user.AccessToken)
		if r := ws.watch("tariffs", nil, "ru", "light"); r["screen"] != "tariffs" {
			t.Fatalf("watch tariffs: %v", r)
		}

		// A valid document is stored; the next fetch has a new ETag and
		// shows it, and the open screen gets a patch with it.
		var doc chat.ContentDocView
		e.want(e.do("PUT", "/v1/admin/collections/tariffs/documents/pro", adm.AccessToken, map[string]any{"data": pro, "published": true}), 201).json(t, &doc)
		if doc.ID != "pro" || !doc.Published || doc.Position != 3 {
			t.Fatalf("put: got %+v, want pro published at position 3", doc)
		}
		after := e.screen("/v1/screens/tariffs", user.AccessToken, etag)
		if after.status != 200 || !bytes.Contains(after.body, []byte("Pro")) {
			t.Fatalf("after the edit: got %d, want 200 with the new tariff", after.status)
		}
		f := ws.waitFor("tariffs patch", patchOp("tariffs", "replace", "tariffs"))
		node, _ := json.Marshal(findOp(t, f, "tariffs", "replace", "tariffs")["node"])
		if !bytes.Contains(node, []byte("Про")) {
			t.Fatalf("patch node: %s, want the new tariff in Russian", node)
		}

		// A draft is not shown to screens.
		e.want(e.do("PUT", "/v1/admin/collections/tariffs/documents/pro", adm.AccessToken, map[string]any{"published": false}), 200)
		if r := e.screen("/v1/screens/tariffs", user.AccessToken, ""); bytes.Contains(r.body, []byte(`"Pro"`)) {
			t.Fatal("a draft is shown")
		}

		// Ordering: every document once, or 400.
		e.wantErr(e.do("PUT", "/v1/admin/collections/tariffs/order", adm.AccessToken, map[string]any{"ids": []string{"pro", "start"}}), 400, "invalid_order")
		e.wantErr(e.do("PUT", "/v1/admin/collections/tariffs/order", adm.AccessToken, map[string]any{"ids": []string{"pro", "pro", "start", "business"}}), 400, "invalid_order")
		e.want(e.do("PUT", "/v1/admin/collections/tariffs/order", adm.AccessToken, map[string]any{"ids": []string{"pro", "enterprise", "start", "business"}}), 204)
		var got struct {
			Collection chat.Collection
			Documents  []chat.ContentDocView
		}
		e.want(e.do("GET", "/v1/admin/collections/tariffs", adm.AccessToken, nil), 200).json(t, &got)
		var order []string
		for _, d := range got.Documents {
			order = append(order, d.ID)
		}
		if len(order) != 4 || order[0] != "pro" || order[1] != "enterprise" || order[3] != "business" {
			t.Fatalf("order: got %v", order)
		}

		// A new schema must hold for the documents there are.
		strict := json.RawMessage(`{"type":"object","required":["title","discount"]}`)
		r = e.do("PUT", "/v1/admin/collections/tariffs", adm.AccessToken, map[string]any{"title": "Tariffs", "schema": strict})
		e.wantErr(r, 409, "documents_mismatch")
		e.wantErr(e.do("PUT", "/v1/admin/collections/tariffs", adm.AccessToken, map[string]any{"schema": map[string]any{"type": 7}}), 400, "invalid_schema")
		e.wantErr(e.do("PUT", "/v1/admin/collections/x", adm.AccessToken, map[string]any{"schema": map[string]any{"$ref": "https://example.com/s.json"}}), 400, "invalid_schema")
		e.wantErr(e.do("PUT", "/v1/admin/collections/Bad", adm.AccessToken, map[string]any{"schema": map[string]any{}}), 400, "invalid_collection")

		// A collection of one's own.
		schema := json.RawMessage(`{"type":"object","required":["q","a"],"additionalProperties":false,"properties":{"id":{"type":"string"},"q":{"type":"string","maxLength":200},"a":{"type":"string"}}}`)
		e.want(e.do("PUT", "/v1/admin/collections/faq", adm.AccessToken, map[string]any{"title": "FAQ", "schema": schema}), 201)
		e.want(e.do("PUT", "/v1/admin/collections/faq", adm.AccessToken, map[string]any{"title": "Вопросы", "schema": schema}), 200)
		e.wantErr(e.do("PUT", "/v1/admin/collections/faq/documents/one", adm.AccessToken, map[string]any{"data": map[string]any{"q": "Why?"}}), 400, "schema_mismatch")
		e.want(e.do("PUT", "/v1/admin/collections/faq/documents/one", adm.AccessToken, map[string]any{"data": map[string]any{"q": "Why?", "a": "Because."}}), 201)

		// Delete.
		e.want(e.do("DELETE", "/v1/admin/collections/faq/documents/one", adm.AccessToken, nil), 204)
		e.wantErr(e.do("DELETE", "/v1/admin/collections/faq/documents/one", adm.AccessToken, nil), 404, "no_document")

		// Every change is in the audit log.
		for _, a := range []struct{ action, target string }{
			{"content.put", "tariffs/pro"}, {"content.reorder", "tariffs"}, {"collection.define", "faq"},
			{"content.put", "faq/one"}, {"content.delete", "faq/one"},
		} {
			if !e.audited(adm.User.ID, a.action, a.target) {
				t.Errorf("no audit entry %s %s", a.action, a.target)
			}
		}
	})
}

func TestBusinessDialog(t *testing.T) {
	backendsWith(t, map[string]string{"KOROBKA_BUSINESS_NAME": "Acme support"}, func(t *testing.T, e *env) {
		user := e.loginTest("+79990000002", "222222")
		// A news post's "Discuss" opens the user's dialog with the
		// business about the post: created once, then found.
		r := e.want(e.do("POST", "/v1/business/dialog", user.AccessToken, map[string]any{"subject": "news:launch"}), 201)
		if r.field(t, "title") != "Acme support" || r.field(t, "subject") != "news:launch" {
			t.Fatalf("business dialog: got %s, want one titled Acme support about news:launch", r.body)
		}
		id := r.field(t, "id")
		if again := e.want(e.do("POST", "/v1/business/dialog", user.AccessToken, map[string]any{"subject": "news:launch"}), 200); again.field(t, "id") != id {
			t.Fatalf("second open: got %s, want dialog %v", again.body, id)
		}
		e.wantErr(e.do("POST", "/v1/business/dialog", user.AccessToken, map[string]any{"subject": "\u202e"}), 400, "invalid_subject")
		e.wantErr(e.do("POST", "/v1/business/dialog", "", map[string]any{}), 401, "missing_token")

		// The shipped screens offer it.
		news := e.screen("/v1/screens/news_feed", user.AccessToken, "")
		if !bytes.Contains(news.body, []byte(`"subject":"news:launch"`)) || !bytes.Contains(news.body, []byte("/v1/business/dialog")) {
			t.Fatalf("news_feed: no discuss action in %s", news.body)
		}
		faq := e.screenLang("/v1/screens/faq_videos", user.AccessToken, "ru")
		if faq.status != 200 || !bytes.Contains(faq.body, []byte("Сколько стоит консультация?")) {
			t.Fatalf("faq_videos: got %d %s", faq.status, faq.body)
		}
	})
}

func TestContentImages(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		adm := e.admin("+79990000001", "111111")
		user := e.loginTest("+79990000002", "222222")
		ct, form := multipartFile("file", "tariff.png", pngBytes(t, 400, 200))
		up := e.want(e.doType("POST", "/v1/uploads", adm.AccessToken, ct, form), 201).field(t, "id").(string)
		ct, form = multipartFile("file", "mine.png", pngBytes(t, 40, 20))
		theirs := e.want(e.doType("POST", "/v1/uploads", user.AccessToken, ct, form), 201).field(t, "id").(string)

		e.wantErr(e.do("POST", "/v1/admin/content/images", user.AccessToken, map[string]any{"upload_id": theirs}), 403, "forbidden")
		e.wantErr(e.do("POST", "/v1/admin/content/images", adm.AccessToken, map[string]any{"upload_id": theirs}), 400, "invalid_upload")
		e.wantErr(e.do("POST", "/v1/admin/content/images", adm.AccessToken, map[string]any{"upload_id": "1"}), 400, "invalid_upload")
		var img chat.ContentImage
		e.want(e.do("POST", "/v1/admin/content/images", adm.AccessToken, map[string]any{"upload_id": up}), 201).json(t, &img)

		// Public, with no token, for ever; a document can show it.
		res, err := http.Get(e.url + img.URL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/jpeg" || !strings.Contains(res.Header.Get("Cache-Control"), "public") {
			t.Fatalf("content image: %d %v", res.StatusCode, res.Header)
		}
		news := map[string]any{"title": "С картинкой", "body": "Текст", "published_at": "2026-11-30T10:00:00Z", "image": img.URL}
		e.want(e.do("PUT", "/v1/admin/collections/news/documents/pic", adm.AccessToken, map[string]any{"data": news, "published": true, "position": 0}), 201)
		if s := e.screen("/v1/screens/news_feed", "", ""); !bytes.Contains(s.body, []byte(img.URL)) && !bytes.Contains(e.screen("/v1/screens/news_feed", user.AccessToken, "").body, []byte(img.URL)) {
			t.Fatal("news_feed does not show the image")
		}
		if !e.audited(adm.User.ID, "content.image", up) {
			t.Error("no audit entry content.image")
		}
	})
}
