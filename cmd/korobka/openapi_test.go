package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/korobka/korobka/chat/chattest"
)

// The contract tests run the real server and check every answer and every
// WebSocket frame against schemas/openapi.yaml. They use only the test
// helpers (newEnv, dial, …) and the chattest validator, so they move with
// the handlers.

// contract is one server under contract checks; it records which
// operations answered a success and which an error.
type contract struct {
	t      *testing.T
	e      *env
	o      *chattest.OpenAPI
	client *http.Client
	ok     map[string]bool // "GET /v1/dialogs/{id}" answered < 400
	failed map[string]bool // … answered >= 400
	frames map[string]int  // server frame types validated
}

func newContract(t *testing.T, e *env) *contract {
	return &contract{
		t: t, e: e, o: chattest.MustLoadOpenAPI(t),
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		ok:     map[string]bool{}, failed: map[string]bool{}, frames: map[string]int{},
	}
}

// req sends a request and checks the answer against the contract and want
// (0: any status). body is nil, a string or []byte (sent as is) or a value
// (sent as JSON); ctype defaults to application/json with a body.
func (c *contract) req(method, path, token, ctype string, body any, hdr map[string]string, want int) response {
	c.t.Helper()
	var data []byte
	switch b := body.(type) {
	case nil:
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			c.t.Fatal(err)
		}
	}
	r, err := http.NewRequest(method, c.e.url+path, bytes.NewReader(data))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		if ctype == "" {
			ctype = "application/json"
		}
		r.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	res, err := c.client.Do(r)
	if err != nil {
		c.t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		c.t.Fatal(err)
	}
	resp := response{res.StatusCode, res.Header, got}
	c.check(method, r.URL.Path, ctype, data, resp)
	if want != 0 && resp.status != want {
		c.t.Fatalf("%s %s: got %d %.300s, want %d", method, path, resp.status, resp.body, want)
	}
	return resp
}

// check validates one answer and, for a success, the request body that
// earned it: what the server accepted, the contract must allow.
func (c *contract) check(method, path, ctype string, reqBody []byte, r response) {
	c.t.Helper()
	if err := c.o.ValidateHTTP(method, path, r.status, r.header, r.body); err != nil {
		c.t.Errorf("%v", err)
	}
	if r.status < 300 && len(reqBody) > 0 {
		if err := c.o.ValidateRequest(method, path, ctype, reqBody); err != nil {
			c.t.Errorf("the server took a request the contract refuses: %v", err)
		}
	}
	c.record(method, path, r.status)
}

func (c *contract) record(method, path string, status int) {
	tmpl, ok := c.o.Route(path)
	if !ok {
		return
	}
	key := method + " " + tmpl
	if status < 400 {
		c.ok[key] = true
	} else {
		c.failed[key] = true
	}
}

// json sends a JSON request.
func (c *contract) json(method, path, token string, body any, want int) response {
	c.t.Helper()
	return c.req(method, path, token, "", body, nil, want)
}

// errCode sends a request that must fail with status and code.
func (c *contract) fail(method, path, token string, body any, status int, code string) {
	c.t.Helper()
	r := c.json(method, path, token, body, status)
	if got := r.errCode(c.t); got != code {
		c.t.Errorf("%s %s: got code %q, want %q", method, path, got, code)
	}
}

func (c *contract) login(phone, code string) tokens {
	c.t.Helper()
	c.json("POST", "/v1/auth/otp", "", map[string]string{"phone": phone}, 200)
	var tk tokens
	c.json("POST", "/v1/auth/verify", "", map[string]string{"phone": phone, "code": code}, 200).json(c.t, &tk)
	return tk
}

// frame validates a frame a test device got.
func (c *contract) frame(f map[string]any) map[string]any {
	c.t.Helper()
	data, err := json.Marshal(f)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.o.ValidateFrame(data); err != nil {
		c.t.Errorf("%v", err)
	}
	typ, _ := f["type"].(string)
	c.frames[typ]++
	return f
}

func (c *contract) waitFor(d *wsClient, what string, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	return c.frame(d.waitFor(what, match))
}

// rest validates the frames a device got that no test waited for.
func (c *contract) rest(d *wsClient) {
	c.t.Helper()
	for _, f := range d.take(func(map[string]any) bool { return true }) {
		c.frame(f)
	}
}

// multipartFile is a form with data in field, named filename.
func multipartFile(field, filename string, data []byte) (string, []byte) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile(field, filename)
	w.Write(data)
	mw.Close()
	return mw.FormDataContentType(), body.Bytes()
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, gradient(w, h)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestOpenAPIContract exercises every route of routes.go with a success and
// its typical errors, on both backends, and checks every answer and every
// WebSocket frame against schemas/openapi.yaml.
func TestOpenAPIContract(t *testing.T) {
	// It logs in more users from loopback than one address may: as
	// korobka bench does, it runs with loopback exempt.
	t.Run("sqlite+memory", func(t *testing.T) {
		vars := map[string]string{"KOROBKA_DATA": t.TempDir(), "KOROBKA_LOOPBACK_UNLIMITED": "1"}
		contractTest(t, vars)
	})
	t.Run("mysql+redis", func(t *testing.T) {
		vars := map[string]string{
			"KOROBKA_MYSQL_DSN":          chattest.MySQLDSN(t),
			"KOROBKA_REDIS_URL":          chattest.RedisURL(t),
			"KOROBKA_REDIS_PREFIX":       chattest.RedisPrefix(t),
			"KOROBKA_LOOPBACK_UNLIMITED": "1",
		}
		contractTest(t, vars)
	})
}

func contractTest(t *testing.T, vars map[string]string) {
	e := newEnv(t, vars)
	c := newContract(t, e)
	const js = "application/json"

	// Operations.
	c.json("GET", "/healthz", "", nil, 200)
	c.json("GET", "/readyz", "", nil, 200)
	c.json("GET", "/metrics", "", nil, 200)

	// Login.
	a := c.login("+79990000001", "111111")
	b := c.login("+79990000002", "222222")
	cc := c.login("+79991230001", "333333") // in no dialog with a and b
	c.fail("POST", "/v1/auth/otp", "", map[string]string{"phone": "abc"}, 400, "invalid_phone")
	c.fail("POST", "/v1/auth/otp", "", "{", 400, "invalid_json")
	c.fail("POST", "/v1/auth/otp", "", map[string]string{"phone": "+79990000001", "email": "x"}, 400, "unknown_field")
	c.fail("POST", "/v1/auth/otp", "", `{"phone":"`+strings.Repeat("1", 70<<10)+`"}`, 413, "body_too_large")
	r := c.req("POST", "/v1/auth/otp", "", "text/plain", "+79990000001", nil, 415)
	if r.errCode(t) != "unsupported_media_type" {
		t.Errorf("otp as text/plain: %s", r.body)
	}
	for i := 0; ; i++ { // 3 codes at once per number, then 429
		r := c.json("POST", "/v1/auth/otp", "", map[string]string{"phone": "+79991230099"}, 0)
		if r.status == 429 {
			break
		}
		if r.status != 200 || i > 5 {
			t.Fatalf("otp %d: got %d %s, want 200 until a 429", i, r.status, r.body)
		}
	}
	c.fail("POST", "/v1/auth/verify", "", map[string]string{"phone": "+79990000001", "code": "000000"}, 400, "invalid_code")
	c.fail("POST", "/v1/auth/verify", "", map[string]string{"phone": "+79161110000", "code": "123456"}, 400, "invalid_code")
	c.fail("POST", "/v1/auth/otp", "", map[string]string{"phone": "+78091234567"}, 400, "unsupported_phone")
	c.json("POST", "/v1/auth/otp", "", map[string]string{"phone": "+79161234567"}, 200) // a real SMS
	for i := 0; ; i++ {
		r := c.json("POST", "/v1/auth/verify", "", map[string]string{"phone": "+79161234567", "code": "000000", "device": "test"}, 0)
		if r.status == 429 {
			if code := r.errCode(t); code != "too_many_attempts" {
				t.Errorf("got %s, want too_many_attempts", code)
			}
			break
		}
		if r.status != 400 || i > 6 {
			t.Fatalf("wrong code %d: got %d %s", i, r.status, r.body)
		}
	}

	// Refresh and logout.
	d := c.login("+79991230002", "333333")
	var d2 tokens
	c.json("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": d.RefreshToken}, 200).json(t, &d2)
	c.fail("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": "nope"}, 401, "invalid_token")
	c.fail("POST", "/v1/auth/refresh", "", map[string]any{"refresh_token": 7}, 400, "invalid_json")
	c.fail("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": d.RefreshToken}, 401, "token_reused")
	d3 := c.login("+79991230003", "333333")
	c.json("POST", "/v1/auth/logout", d3.AccessToken, nil, 204)
	c.fail("POST", "/v1/auth/logout", d3.AccessToken, nil, 401, "invalid_token")
	c.fail("POST", "/v1/auth/logout", "", nil, 401, "missing_token")

	// Profile.
	c.json("GET", "/v1/me", a.AccessToken, nil, 200)
	c.fail("GET", "/v1/me", "", nil, 401, "missing_token")
	c.fail("GET", "/v1/me", "nope", nil, 401, "invalid_token")
	c.json("PATCH", "/v1/me", a.AccessToken, map[string]any{"first_name": " Анна ", "last_name": "Петрова"}, 200)
	c.json("PATCH", "/v1/me", b.AccessToken, map[string]any{"first_name": "Борис"}, 200)
	c.json("PATCH", "/v1/me", cc.AccessToken, map[string]any{"first_name": "Вера"}, 200)
	c.fail("PATCH", "/v1/me", a.AccessToken, map[string]any{"first_name": ""}, 400, "invalid_name")
	c.fail("PATCH", "/v1/me", a.AccessToken, map[string]any{"nick": "a"}, 400, "unknown_field")
	c.req("PATCH", "/v1/me", a.AccessToken, "text/plain", "x", nil, 415)
	ct, form := multipartFile("file", "me.png", pngBytes(t, 300, 200))
	me := c.req("PUT", "/v1/me/avatar", a.AccessToken, ct, form, nil, 200)
	avatar := me.field(t, "avatar_url").(string)
	c.req("PUT", "/v1/me/avatar", a.AccessToken, "", map[string]any{}, nil, 415)
	ct, form = multipartFile("file", "me.png", []byte("not an image at all"))
	c.req("PUT", "/v1/me/avatar", a.AccessToken, ct, form, nil, 415)
	ct, form = multipartFile("photo", "me.png", pngBytes(t, 10, 10))
	c.req("PUT", "/v1/me/avatar", a.AccessToken, ct, form, nil, 400)
	c.req("PUT", "/v1/me/avatar", "", ct, form, nil, 401)

	// Contacts.
	c.json("POST", "/v1/contacts/sync", a.AccessToken, map[string]any{"phones": []string{"8 999 000-00-02", "Mom"}}, 200)
	c.json("POST", "/v1/contacts/sync", a.AccessToken, map[string]any{"phone": "8 999 123-00-01"}, 200)
	c.fail("POST", "/v1/contacts/sync", a.AccessToken, map[string]any{}, 400, "invalid_phones")
	c.fail("POST", "/v1/contacts/sync", a.AccessToken, map[string]any{"phone": "abc"}, 400, "invalid_phone")
	c.fail("POST", "/v1/contacts/sync", a.AccessToken, map[string]any{"phones": "x"}, 400, "invalid_json")
	c.fail("POST", "/v1/contacts/sync", a.AccessToken, map[string]any{"phones": make([]string, 5001)}, 400, "too_many_phones")
	c.fail("POST", "/v1/contacts/sync", a.AccessToken, `{"phones":["`+strings.Repeat("1", 1<<20)+`"]}`, 413, "body_too_large")
	c.json("GET", "/v1/contacts", a.AccessToken, nil, 200)
	c.json("GET", "/v1/contacts?q=%D0%B1%D0%BE%D1%80&limit=10", a.AccessToken, nil, 200)
	c.fail("GET", "/v1/contacts?limit=0", a.AccessToken, nil, 400, "invalid_limit")
	c.fail("GET", "/v1/contacts?q="+strings.Repeat("x", 65), a.AccessToken, nil, 400, "invalid_query")
	c.fail("GET", "/v1/contacts", "", nil, 401, "missing_token")

	// Dialogs.
	id := c.json("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": b.User.ID}, 201).field(t, "id").(string)
	c.json("POST", "/v1/dialogs", b.AccessToken, map[string]any{"user_id": a.User.ID}, 200)
	c.json("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": b.User.ID, "subject": "listing:42"}, 201)
	c.fail("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": a.User.ID}, 400, "invalid_user")
	c.fail("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": b.User.ID, "subject": "a\x00b"}, 400, "invalid_subject")
	c.fail("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": "1"}, 404, "not_found")
	c.fail("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": "abc"}, 404, "not_found")
	c.fail("POST", "/v1/dialogs", a.AccessToken, "[]", 400, "invalid_json")
	c.json("GET", "/v1/dialogs", a.AccessToken, nil, 200)
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	c.json("GET", "/v1/dialogs?limit=1", a.AccessToken, nil, 200).json(t, &page)
	c.json("GET", "/v1/dialogs?limit=1&cursor="+page.NextCursor, a.AccessToken, nil, 200)
	c.fail("GET", "/v1/dialogs?cursor=!!", a.AccessToken, nil, 400, "invalid_cursor")
	c.fail("GET", "/v1/dialogs?limit=500", a.AccessToken, nil, 400, "invalid_limit")
	c.json("GET", "/v1/dialogs/"+id, a.AccessToken, nil, 200)
	c.fail("GET", "/v1/dialogs/"+id, cc.AccessToken, nil, 404, "not_found")
	c.fail("GET", "/v1/dialogs/x", a.AccessToken, nil, 404, "not_found")

	// Uploads and media.
	ct, form = multipartFile("file", "IMG_0412.png", pngBytes(t, 64, 48))
	img := c.req("POST", "/v1/uploads", a.AccessToken, ct, form, nil, 201)
	ct, form = multipartFile("file", "отчёт.txt", []byte("hello, world\n"))
	file := c.req("POST", "/v1/uploads", a.AccessToken, ct, form, nil, 201)
	c.req("POST", "/v1/uploads", a.AccessToken, "", map[string]any{}, nil, 415)
	ct, form = multipartFile("photo", "x.txt", []byte("x"))
	c.req("POST", "/v1/uploads", a.AccessToken, ct, form, nil, 400)
	c.req("POST", "/v1/uploads", "", ct, form, nil, 401)
	for _, u := range []string{avatar, img.field(t, "url").(string), img.field(t, "thumb_url").(string), file.field(t, "url").(string)} {
		c.req("GET", u, "", "", nil, nil, 200)
		c.req("HEAD", u, "", "", nil, nil, 200)
	}
	c.req("GET", "/media/avatars/nope.jpg", "", "", nil, nil, 404)
	c.req("GET", "/media/../go.mod", "", "", nil, nil, 404)
	c.req("HEAD", "/media/uploads/nope.bin", "", "", nil, nil, 403) // unsigned
	c.req("GET", strings.Split(img.field(t, "url").(string), "?")[0], "", "", nil, nil, 403)
	c.req("GET", avatar, "", "", nil, map[string]string{"Range": "bytes=0-9"}, 206)

	// Messages.
	m1 := c.json("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "c-1", "text": "привет"}, 201)
	c.json("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "c-1", "text": "привет"}, 200)
	c.fail("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "c-1", "text": "пока"}, 409, "client_id_conflict")
	c.json("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "c-2", "text": "",
		"attachments": []map[string]string{{"upload_id": img.field(t, "id").(string)}, {"upload_id": file.field(t, "id").(string)}}}, 201)
	c.json("POST", "/v1/dialogs/"+id+"/messages", b.AccessToken, map[string]any{"client_id": "c-3", "text": "и тебе"}, 201)
	c.fail("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "no spaces", "text": "x"}, 400, "invalid_client_id")
	c.fail("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "c-4", "text": "  "}, 400, "invalid_text")
	c.fail("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "c-4", "text": "x", "attachments": []map[string]string{{"upload_id": "1"}}}, 400, "invalid_attachment")
	c.fail("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "c-4", "txt": "x"}, 400, "unknown_field")
	c.fail("POST", "/v1/dialogs/"+id+"/messages", cc.AccessToken, map[string]any{"client_id": "c-4", "text": "x"}, 404, "not_found")
	c.json("GET", "/v1/dialogs/"+id+"/messages", a.AccessToken, nil, 200)
	c.json("GET", "/v1/dialogs/"+id+"/messages?before=3&limit=1", b.AccessToken, nil, 200)
	c.fail("GET", "/v1/dialogs/"+id+"/messages?before=0", a.AccessToken, nil, 400, "invalid_before")
	c.fail("GET", "/v1/dialogs/"+id+"/messages?limit=x", a.AccessToken, nil, 400, "invalid_limit")
	c.json("GET", "/v1/dialogs/"+id+"/messages?since=1&limit=2", b.AccessToken, nil, 200)
	c.fail("GET", "/v1/dialogs/"+id+"/messages?since=1&before=3", a.AccessToken, nil, 400, "invalid_since")
	c.fail("GET", "/v1/dialogs/"+id+"/messages", cc.AccessToken, nil, 404, "not_found")
	seq := fmt.Sprint(m1.field(t, "seq"))
	c.json("PATCH", "/v1/dialogs/"+id+"/messages/"+seq, a.AccessToken, map[string]any{"text": "привет!"}, 200)
	c.fail("PATCH", "/v1/dialogs/"+id+"/messages/"+seq, b.AccessToken, map[string]any{"text": "чужое"}, 404, "not_found")
	c.fail("PATCH", "/v1/dialogs/"+id+"/messages/"+seq, a.AccessToken, map[string]any{"text": ""}, 400, "invalid_text")
	c.fail("PATCH", "/v1/dialogs/"+id+"/messages/x", a.AccessToken, map[string]any{"text": "x"}, 404, "not_found")
	c.json("DELETE", "/v1/dialogs/"+id+"/messages/"+seq, a.AccessToken, nil, 200)
	c.fail("DELETE", "/v1/dialogs/"+id+"/messages/999", a.AccessToken, nil, 404, "not_found")
	c.fail("DELETE", "/v1/dialogs/"+id+"/messages/"+seq, "", nil, 401, "missing_token")
	c.json("POST", "/v1/dialogs/"+id+"/read", b.AccessToken, map[string]any{"seq": 2}, 200)
	c.fail("POST", "/v1/dialogs/"+id+"/read", b.AccessToken, map[string]any{"seq": 0}, 400, "invalid_seq")
	c.fail("POST", "/v1/dialogs/"+id+"/read", cc.AccessToken, map[string]any{"seq": 1}, 404, "not_found")
	// Push devices and mute.
	apnsTok, fcmTok := strings.Repeat("ab", 32), "fcm:APA91b-contract-test-token"
	c.json("POST", "/v1/devices", b.AccessToken, map[string]any{"platform": "apns", "token": apnsTok,
		"app_id": "com.example.korobka", "locale": "ru-RU", "time_zone": "Europe/Moscow"}, 200)
	c.json("POST", "/v1/devices", b.AccessToken, map[string]any{"platform": "fcm", "token": fcmTok}, 200)
	c.fail("POST", "/v1/devices", b.AccessToken, map[string]any{"platform": "webpush", "token": apnsTok}, 400, "invalid_platform")
	c.fail("POST", "/v1/devices", b.AccessToken, map[string]any{"platform": "apns", "token": "not a token"}, 400, "invalid_device_token")
	c.fail("POST", "/v1/devices", b.AccessToken, map[string]any{"platform": "fcm", "token": fcmTok, "time_zone": "../x"}, 400, "invalid_time_zone")
	c.fail("POST", "/v1/devices", b.AccessToken, map[string]any{"platform": "fcm", "tok": fcmTok}, 400, "unknown_field")
	c.fail("POST", "/v1/devices", "", map[string]any{"platform": "fcm", "token": fcmTok}, 401, "missing_token")
	c.req("DELETE", "/v1/devices/"+fcmTok, b.AccessToken, "", nil, nil, 204)
	c.fail("DELETE", "/v1/devices/"+fcmTok, b.AccessToken, nil, 404, "not_found")
	c.fail("DELETE", "/v1/devices/"+apnsTok, a.AccessToken, nil, 404, "not_found")
	mute := "/v1/dialogs/" + id + "/mute"
	c.json("PUT", mute, b.AccessToken, map[string]any{"muted": true, "until": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, 200)
	c.json("PUT", mute, b.AccessToken, map[string]any{"muted": false}, 200)
	c.json("PUT", mute, b.AccessToken, map[string]any{"muted": true}, 200)
	c.fail("PUT", mute, b.AccessToken, map[string]any{"muted": true, "until": "tomorrow"}, 400, "invalid_until")
	c.fail("PUT", mute, b.AccessToken, map[string]any{"muted": true, "until": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}, 400, "invalid_until")
	c.fail("PUT", mute, b.AccessToken, map[string]any{}, 400, "invalid_mute")
	c.fail("PUT", mute, cc.AccessToken, map[string]any{"muted": true}, 404, "not_found")
	c.groups(a, b, cc)
	// The media gallery.
	c.json("GET", "/v1/dialogs/"+id+"/media?kind=photo", b.AccessToken, nil, 200)
	c.json("GET", "/v1/dialogs/"+id+"/media?kind=file&limit=1", a.AccessToken, nil, 200)
	c.fail("GET", "/v1/dialogs/"+id+"/media?kind=audio", a.AccessToken, nil, 400, "invalid_media_kind")
	c.fail("GET", "/v1/dialogs/"+id+"/media?kind=photo", cc.AccessToken, nil, 404, "not_found")
	// The dialog list now carries last messages, attachments, unread.
	c.json("GET", "/v1/dialogs", b.AccessToken, nil, 200)
	c.json("GET", "/v1/users/"+b.User.ID, a.AccessToken, nil, 200)
	c.json("GET", "/v1/users/"+a.User.ID, a.AccessToken, nil, 200)
	c.json("GET", "/v1/users/"+a.User.ID, cc.AccessToken, nil, 200)
	c.fail("GET", "/v1/users/1", a.AccessToken, nil, 404, "not_found")
	c.fail("GET", "/v1/users/x", a.AccessToken, nil, 404, "not_found")

	// Screens.
	c.req("GET", "/v1/screens/login", "", "", nil, map[string]string{"Accept-Language": "ru"}, 200)
	screen := c.req("GET", "/v1/screens/chat?dialog_id="+id+"&theme=dark", a.AccessToken, "", nil, nil, 200)
	c.req("GET", "/v1/screens/chat?dialog_id="+id+"&theme=dark", a.AccessToken, "", nil,
		map[string]string{"If-None-Match": screen.header.Get("ETag")}, 304)
	c.req("GET", "/v1/screens/chat_list", b.AccessToken, "", nil,
		map[string]string{"X-Korobka-Shell": webShell, "Accept-Language": "en"}, 200)
	c.fail("GET", "/v1/screens/chat?dialog_id="+id, "", nil, 401, "missing_token")
	c.fail("GET", "/v1/screens/login", "nope", nil, 401, "invalid_token")
	c.fail("GET", "/v1/screens/nope", a.AccessToken, nil, 404, "unknown_screen")
	c.fail("GET", "/v1/screens/chat", a.AccessToken, nil, 400, "missing_param")
	c.fail("GET", "/v1/screens/chat?dialog_id="+id, cc.AccessToken, nil, 404, "not_found")

	// Web shell and preview.
	c.req("GET", "/", "", "", nil, nil, 302)
	c.req("GET", "/app", "", "", nil, nil, 301)
	index := c.req("GET", "/app/", "", "", nil, nil, 200)
	c.req("GET", "/app/", "", "", nil, map[string]string{"If-None-Match": index.header.Get("ETag")}, 304)
	c.req("GET", "/app/app.js", "", "", nil, nil, 200)
	c.req("GET", "/app/style.css", "", "", nil, nil, 200)
	c.req("HEAD", "/app/icon.svg", "", "", nil, nil, 200)
	c.req("GET", "/app/nope.js", "", "", nil, nil, 404)
	c.req("HEAD", "/app/nope.js", "", "", nil, nil, 404)
	c.req("GET", "/app/app.js", "", "", nil, map[string]string{"Range": "bytes=0-9"}, 206)
	c.req("GET", "/assets/logo.svg", "", "", nil, nil, 200)
	c.req("GET", "/assets/app.js", "", "", nil, nil, 404)
	c.req("GET", "/preview", "", "", nil, nil, 301)
	c.req("GET", "/preview/", "", "", nil, nil, 200)
	c.req("GET", "/preview/render.js", "", "", nil, nil, 200)
	var role bytes.Buffer
	if err := adminCmd(context.Background(), []string{"create", "--phone", "+79991230004"}, func(k string) string { return vars[k] }, &role, io.Discard); err != nil {
		t.Fatalf("make an admin: %v", err)
	}
	admin := c.login("+79991230004", "333333")
	c.fail("GET", "/preview/api/nope", admin.AccessToken, nil, 404, "not_found")
	c.fail("GET", "/preview/api/nope", "", nil, 401, "missing_token")
	c.json("GET", "/preview/api/screens", admin.AccessToken, nil, 200)
	c.fail("GET", "/preview/api/screens", "", nil, 401, "missing_token")
	c.fail("GET", "/preview/api/screens", a.AccessToken, nil, 403, "forbidden")
	c.json("GET", "/preview/api/source?name=chat", admin.AccessToken, nil, 200)
	c.fail("GET", "/preview/api/source?name=nope", admin.AccessToken, nil, 404, "unknown_screen")
	c.fail("GET", "/preview/api/source?name=chat&access_token=nope", "", nil, 401, "invalid_token")
	c.json("GET", "/preview/api/render?name=chat&lang=ru&theme=dark&caps=composer@1", admin.AccessToken, nil, 200)
	c.json("GET", "/preview/api/render?name=chat_list&fixture=chat_list.empty", admin.AccessToken, nil, 200)
	c.fail("GET", "/preview/api/render?name=chat&theme=blue", admin.AccessToken, nil, 400, "invalid_param")
	c.fail("GET", "/preview/api/render?name=nope", admin.AccessToken, nil, 404, "unknown_screen")
	c.fail("GET", "/preview/api/render?name=chat&fixture=chat.nope", admin.AccessToken, nil, 404, "unknown_fixture")
	c.fail("GET", "/preview/api/events", a.AccessToken, nil, 403, "forbidden")
	c.events("/preview/api/events?access_token=" + admin.AccessToken)
	c.adminAPI(admin, a, id)

	// The platform: collections, forms, the bot API, webhooks
	// (openapi_platform_test.go).
	c.platform(admin, a)

	// Methods a path does not take.
	c.fail("PUT", "/v1/me", a.AccessToken, map[string]any{}, 405, "method_not_allowed")
	c.fail("POST", "/v1/ws", a.AccessToken, nil, 405, "method_not_allowed")

	// The WebSocket: its handshake answers, then a short chat.
	c.wsHandshakes(a.AccessToken)
	c.chat(a, b, cc, id)

	// Every operation answered a success, and all but a few an error.
	noErrors := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true,
		"GET /": true, "GET /app": true, "GET /preview": true, "GET /admin": true}
	for _, op := range c.o.Paths() {
		if !c.ok[op] {
			t.Errorf("%s: no success was checked", op)
		}
		if !c.failed[op] && !noErrors[op] {
			t.Errorf("%s: no error was checked", op)
		}
	}
}

// events opens the preview's event stream, checks its answer and leaves.
func (c *contract) events(path string) {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, _ := http.NewRequestWithContext(ctx, "GET", c.e.url+path, nil)
	res, err := c.client.Do(r)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	// The stream does not end: check the status and type only.
	chattest.CheckResponse(c.t, res, nil)
	c.record("GET", r.URL.Path, res.StatusCode)
	if res.StatusCode != 200 {
		c.t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
}

// wsHandshakes checks the answers of /v1/ws before and at the upgrade.
func (c *contract) wsHandshakes(token string) {
	c.t.Helper()
	upgrade := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	with := func(extra map[string]string) map[string]string {
		h := map[string]string{}
		for k, v := range upgrade {
			h[k] = v
		}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	r := c.req("GET", "/v1/ws", token, "", nil, nil, 400)
	if r.errCode(c.t) != "bad_handshake" {
		c.t.Errorf("plain GET /v1/ws: %s", r.body)
	}
	r = c.req("GET", "/v1/ws", "", "", nil, upgrade, 401)
	if r.errCode(c.t) != "missing_token" {
		c.t.Errorf("GET /v1/ws without a token: %s", r.body)
	}
	c.req("GET", "/v1/ws?access_token=nope", "", "", nil, upgrade, 401)
	r = c.req("GET", "/v1/ws", token, "", nil, with(map[string]string{"Origin": "https://evil.example"}), 403)
	if r.errCode(c.t) != "origin_not_allowed" {
		c.t.Errorf("GET /v1/ws from another origin: %s", r.body)
	}
	u := "ws" + strings.TrimPrefix(c.e.url, "http") + "/v1/ws?access_token=" + url.QueryEscape(token)
	conn, res, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		c.t.Fatalf("dial: %v", err)
	}
	conn.Close()
	c.check("GET", "/v1/ws", "", nil, response{res.StatusCode, res.Header, nil})
}

// chat is a short conversation over WebSockets that makes the server send
// every frame type, each checked against WsServerFrame.
func (c *contract) chat(a, b, cc tokens, id string) {
	t := c.t
	t.Helper()
	da := dial(t, c.e.url, a.AccessToken)
	db := dial(t, c.e.url, b.AccessToken)
	// B came online: A, a dialog partner, hears it.
	c.waitFor(da, "B online", func(f map[string]any) bool {
		return f["type"] == "presence" && f["user_id"] == b.User.ID && f["online"] == true
	})

	// A watches the chat; what A sends arrives as a reply, B's message
	// event and A's patch.
	da.send(map[string]any{"type": "watch", "id": "w1", "screen": "chat", "params": map[string]any{"dialog_id": id},
		"lang": "en", "theme": "light", "shell": webShell})
	if r := c.waitFor(da, "watch reply", replyTo("w1")); r["type"] != "reply" {
		t.Fatalf("watch: %v", r)
	}
	da.send(map[string]any{"type": "send", "id": "s1", "dialog_id": id, "client_id": "ws-1", "text": "по сокету"})
	reply := c.waitFor(da, "send reply", replyTo("s1"))
	seq := reply["message"].(map[string]any)["seq"]
	c.waitFor(db, "message event", messageWith("ws-1"))
	c.waitFor(da, "patch", typed("patch"))

	// B reports the app on screen; a state it cannot have is an error.
	db.send(map[string]any{"type": "state", "state": "foreground"})
	db.send(map[string]any{"type": "state", "id": "st", "state": "asleep"})
	if r := c.waitFor(db, "bad state", replyTo("st")); str(r, "error", "code") != "invalid_frame" {
		t.Errorf("bad state: %v", r)
	}

	// B types and reads: A gets typing and status.
	db.send(map[string]any{"type": "typing", "dialog_id": id})
	c.waitFor(da, "typing", typed("typing"))
	db.send(map[string]any{"type": "delivered", "dialog_id": id, "seq": seq})
	db.send(map[string]any{"type": "read", "dialog_id": id, "seq": seq})
	c.waitFor(da, "status", func(f map[string]any) bool { return f["type"] == "status" && f["read_seq"] == seq })

	// A resumes: the missed messages, then the sync reply (numeric id);
	// by change cursor, the reply carries since.
	da.send(map[string]any{"type": "sync", "id": 7, "dialogs": map[string]any{id: 0}})
	c.waitFor(da, "sync reply", func(f map[string]any) bool { return f["type"] == "reply" && f["id"] == float64(7) })
	da.send(map[string]any{"type": "sync", "id": 8, "since": map[string]any{id: 1}})
	if r := c.waitFor(da, "sync reply by change", func(f map[string]any) bool { return f["type"] == "reply" && f["id"] == float64(8) }); str(r, "since", id) == "" {
		t.Errorf("sync by change: no since in %v", r)
	}

	// Errors keep the connection: a bad type, a bad frame, a stranger's dialog.
	da.send(map[string]any{"type": "shout", "id": "e1"})
	if r := c.waitFor(da, "unknown type", replyTo("e1")); str(r, "error", "code") != "unknown_type" {
		t.Errorf("unknown type: %v", r)
	}
	da.send(map[string]any{"type": "send", "id": "e2", "dialog_id": "x", "client_id": "c", "text": "x"})
	c.waitFor(da, "invalid frame", replyTo("e2"))
	dc := dial(t, c.e.url, cc.AccessToken)
	dc.send(map[string]any{"type": "typing", "id": "e3", "dialog_id": id})
	c.waitFor(dc, "not found", replyTo("e3"))

	// A new dialog: both members get a dialog frame.
	c.json("POST", "/v1/dialogs", a.AccessToken, map[string]any{"user_id": cc.User.ID, "subject": "ws"}, 201)
	c.waitFor(da, "dialog", typed("dialog"))
	c.waitFor(dc, "dialog", typed("dialog"))

	// An edit reaches B as a message event; clearing the watch is answered.
	c.json("PATCH", "/v1/dialogs/"+id+"/messages/"+fmt.Sprint(seq), a.AccessToken, map[string]any{"text": "по сокету!"}, 200)
	c.waitFor(db, "edit", func(f map[string]any) bool {
		m, _ := f["message"].(map[string]any)
		return f["type"] == "message" && m["edited_at"] != nil
	})
	da.send(map[string]any{"type": "watch", "id": "w0"})
	c.waitFor(da, "watch cleared", replyTo("w0"))

	// B leaves: A hears B offline with last_seen, and sees it in B's profile.
	db.close()
	c.waitFor(da, "B offline", func(f map[string]any) bool {
		return f["type"] == "presence" && f["user_id"] == b.User.ID && f["online"] == false
	})
	c.json("GET", "/v1/users/"+b.User.ID, a.AccessToken, nil, 200)

	// Whatever else arrived is checked too.
	time.Sleep(100 * time.Millisecond)
	for _, d := range []*wsClient{da, db, dc} {
		c.rest(d)
	}
	for _, typ := range []string{"message", "status", "typing", "presence", "dialog", "patch", "reply", "error"} {
		if c.frames[typ] == 0 {
			t.Errorf("no %s frame was checked", typ)
		}
	}
}
