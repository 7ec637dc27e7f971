package chattest

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/korobka/korobka/schemas"
)

// TestOpenAPIContractLoads checks the document itself: it parses, every
// $ref resolves (inside the document or to a sibling schema file), every
// schema compiles (LoadOpenAPI compiles them all) and the conventions
// hold for every operation.
func TestOpenAPIContractLoads(t *testing.T) {
	o := MustLoadOpenAPI(t)
	if o.doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", o.doc["openapi"])
	}
	info, _ := o.doc["info"].(map[string]any)
	if d, _ := info["description"].(string); !strings.Contains(d, "shell contract v1") || !strings.Contains(d, "generate their clients") {
		t.Errorf("info.description must say it is the shell contract v1 that native shells generate clients from")
	}
	if len(o.schemas) < 40 || len(o.frames) != 8 || len(o.paths) < 25 {
		t.Errorf("got %d schemas, %d server frame types, %d paths: the document is incomplete", len(o.schemas), len(o.frames), len(o.paths))
	}

	// Every $ref resolves.
	refs := 0
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if k == "$ref" {
					refs++
					if err := resolveRef(o.doc, e); err != nil {
						t.Errorf("%s: %v", at, err)
					}
					continue
				}
				walk(e, at+"/"+escapeToken(k))
			}
		case []any:
			for _, e := range x {
				walk(e, at+"/[]")
			}
		}
	}
	walk(o.doc, "#")
	if refs < 100 {
		t.Errorf("only %d $refs found", refs)
	}

	// Conventions of every operation.
	ids := map[string]string{}
	paths := o.doc["paths"].(map[string]any)
	for tmpl, item := range paths {
		for _, m := range methods {
			op, ok := item.(map[string]any)[m].(map[string]any)
			if !ok {
				continue
			}
			name := strings.ToUpper(m) + " " + tmpl
			id, _ := op["operationId"].(string)
			if id == "" {
				t.Errorf("%s: no operationId", name)
			} else if other, dup := ids[id]; dup {
				t.Errorf("%s: operationId %s is also %s's", name, id, other)
			}
			ids[id] = name
			resps := op["responses"].(map[string]any)
			if authed(o.doc, op) && resps["401"] == nil {
				t.Errorf("%s needs a bearer token but documents no 401", name)
			}
			for code := range resps {
				if code != "default" && (len(code) != 3 || code[0] < '1' || code[0] > '5') {
					t.Errorf("%s: bad status %q", name, code)
				}
			}
		}
	}
	for _, p := range o.paths {
		for _, op := range p.ops {
			for code, r := range op.responses {
				want := map[string]string{"401": "WWW-Authenticate", "429": "Retry-After"}[code]
				if want != "" && !contains(r.headers, want) {
					t.Errorf("%s %s: does not require the %s header", op.name, code, want)
				}
			}
		}
	}
}

// authed reports whether an operation requires the bearer scheme (an
// operation's security overrides the document's).
func authed(doc map[string]any, op map[string]any) bool {
	sec, ok := op["security"].([]any)
	if !ok {
		sec, _ = doc["security"].([]any)
	}
	for _, s := range sec {
		m, _ := s.(map[string]any)
		if len(m) == 0 {
			return false // {} makes the token optional
		}
	}
	for _, s := range sec {
		if _, ok := s.(map[string]any)["bearer"]; ok {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// resolveRef resolves a $ref of openapi.yaml: "#/…" in the document,
// "file.json#/…" in the schemas folder.
func resolveRef(doc map[string]any, v any) error {
	ref, ok := v.(string)
	if !ok {
		return errors.New("$ref is not a string")
	}
	file, frag, _ := strings.Cut(ref, "#")
	var target any = doc
	if file != "" {
		data, err := fs.ReadFile(schemas.FS, file)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(data, &target); err != nil {
			return err
		}
	}
	if pointerGet(target, frag) == nil {
		return errors.New(ref + " does not resolve")
	}
	return nil
}

const (
	goodUser    = `{"id":"509813918241981561","first_name":"Анна","last_name":"","avatar_url":"","avatar_thumb_url":"","phone":"+79161234567"}`
	goodMessage = `{"id":"17.42","dialog_id":"17","seq":42,"change":57,"sender_id":"509813918241981561","client_id":"c-8f3a","text":"привет","attachments":[],"created_at":"2026-11-25T17:20:31.123456Z","status":"read"}`
	goodDialog  = `{"id":"17","kind":"direct","title":"Борис","avatar_url":"","avatar_thumb_url":"","members":[` + goodUser + `],"last_message":` + goodMessage + `,"unread":3,"updated_at":"2026-11-25T17:20:31.123456Z"}`
)

// TestOpenAPIContractRejects proves the validator catches what it is for:
// wrong types, missing fields, undocumented statuses, paths, methods and
// content types, and bad frames; and that it accepts the right answers.
func TestOpenAPIContractRejects(t *testing.T) {
	o := MustLoadOpenAPI(t)
	const js = "application/json; charset=utf-8"
	ok := func(err error) {
		t.Helper()
		if err != nil {
			t.Errorf("want valid, got %v", err)
		}
	}
	bad := func(err error, want ...string) {
		t.Helper()
		if err == nil {
			t.Errorf("want an error mentioning %q, got none", want)
			return
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}

	ok(o.ValidateResponse("GET", "/v1/dialogs/17", 200, js, []byte(goodDialog)))
	newDialog := strings.Replace(goodDialog, `"last_message":`+goodMessage, `"last_message":null`, 1)
	ok(o.ValidateResponse("POST", "/v1/dialogs", 201, js, []byte(newDialog)))
	ok(o.ValidateResponse("POST", "/v1/dialogs", 200, js, []byte(newDialog)))
	// Extra response fields are allowed: the contract is additive.
	ok(o.ValidateResponse("GET", "/v1/dialogs/17", 200, js, []byte(strings.Replace(goodDialog, `"unread":3`, `"unread":3,"archived":true`, 1))))

	// unread as a string: the pointer names the field.
	err := o.ValidateResponse("GET", "/v1/dialogs/17", 200, js, []byte(strings.Replace(goodDialog, `"unread":3`, `"unread":"3"`, 1)))
	bad(err, "getDialog", "200", "/unread")
	var ve *ViolationError
	if !errors.As(err, &ve) || ve.Pointer != "/unread" {
		t.Errorf("got %#v, want a ViolationError at /unread", err)
	}
	// Deep: a message's seq inside a page of dialogs.
	page := `{"dialogs":[` + strings.Replace(goodDialog, `"seq":42`, `"seq":"42"`, 1) + `],"next_cursor":""}`
	bad(o.ValidateResponse("GET", "/v1/dialogs", 200, js, []byte(page)), "/dialogs/0/last_message")
	// A missing required field.
	bad(o.ValidateResponse("GET", "/v1/dialogs/17", 200, js, []byte(strings.Replace(goodDialog, `"last_message":`+goodMessage+`,`, ``, 1))), "last_message")
	// Ids are strings of digits; times are RFC 3339.
	bad(o.ValidateResponse("GET", "/v1/me", 200, js, []byte(strings.Replace(goodUser, `"509813918241981561"`, `509813918241981561`, 1))), "/id")
	bad(o.ValidateResponse("GET", "/v1/dialogs/17", 200, js, []byte(strings.Replace(goodDialog, `"updated_at":"2026-11-25T17:20:31.123456Z"`, `"updated_at":"yesterday"`, 1))), "/updated_at")
	bad(o.ValidateResponse("GET", "/v1/dialogs/17/messages", 200, js, []byte(`{"messages":[`+strings.Replace(goodMessage, `"17.42"`, `"17-42"`, 1)+`]}`)), "/messages/0/id")
	// Not JSON at all.
	bad(o.ValidateResponse("GET", "/v1/me", 200, js, []byte(`{"id":`)), "not JSON")

	// Statuses, paths, methods, content types.
	bad(o.ValidateResponse("GET", "/v1/me", 418, js, []byte(`{"error":{"code":"teapot","message":"No."}}`)), "status 418 is not documented", "getMe")
	bad(o.ValidateResponse("POST", "/v1/dialogs", 202, js, []byte(newDialog)), "status 202")
	bad(o.ValidateResponse("GET", "/v1/nope", 200, js, []byte(`{}`)), "not documented")
	bad(o.ValidateResponse("PUT", "/v1/me", 200, js, []byte(goodUser)), "method is not documented")
	ok(o.ValidateResponse("PUT", "/v1/me", 405, js, []byte(`{"error":{"code":"method_not_allowed","message":"No."}}`)))
	bad(o.ValidateResponse("GET", "/v1/me", 200, "text/html; charset=utf-8", []byte(goodUser)), "text/html is not documented")
	bad(o.ValidateResponse("GET", "/v1/me", 200, "", []byte(goodUser)), "no Content-Type")
	bad(o.ValidateResponse("GET", "/v1/me", 401, js, []byte(`{"error":"missing_token"}`)), "/error")
	bad(o.ValidateResponse("GET", "/v1/me", 401, js, []byte(`{"code":"missing_token","message":"x"}`)), "error")
	ok(o.ValidateResponse("POST", "/v1/auth/logout", 204, "", nil))
	bad(o.ValidateResponse("POST", "/v1/auth/logout", 204, js, []byte(`{}`)), "without a body")
	bad(o.ValidateResponse("GET", "/v1/screens/chat", 304, js, []byte(`{}`)), "without a body")
	ok(o.ValidateResponse("GET", "/v1/screens/chat", 304, "", nil))

	// Required headers.
	h := http.Header{"Content-Type": {js}}
	rl := []byte(`{"error":{"code":"rate_limited","message":"Slow down."}}`)
	bad(o.ValidateHTTP("POST", "/v1/auth/otp", 429, h, rl), "Retry-After")
	h.Set("Retry-After", "12")
	ok(o.ValidateHTTP("POST", "/v1/auth/otp", 429, h, rl))

	// Non-JSON bodies: only the content type counts; wildcards take
	// nested paths; HEAD has no body.
	ok(o.ValidateResponse("GET", "/media/avatars/3f/9c.jpg", 200, "image/jpeg", []byte{0xff, 0xd8}))
	ok(o.ValidateResponse("HEAD", "/media/uploads/5c0d.bin", 200, "application/pdf", nil))
	ok(o.ValidateResponse("GET", "/media/nope", 404, "text/plain; charset=utf-8", []byte("404 page not found\n")))
	ok(o.ValidateResponse("GET", "/metrics", 200, "text/plain; version=0.0.4; charset=utf-8", []byte("# HELP x\n")))
	bad(o.ValidateResponse("GET", "/metrics", 200, "application/json", []byte("{}")), "application/json is not documented")
	ok(o.ValidateResponse("GET", "/app/", 200, "text/html; charset=utf-8", []byte("<!doctype html>")))
	ok(o.ValidateResponse("HEAD", "/app/app.js", 200, "text/javascript; charset=utf-8", nil))
	bad(o.ValidateResponse("GET", "/app/app.js", 200, "application/x-sh", []byte("x")), "not documented")

	// Path matching: literal segments win over parameters and wildcards.
	for path, want := range map[string]string{
		"/preview/api/screens":      "/preview/api/screens",
		"/preview/api/nope":         "/preview/{file}",
		"/preview/":                 "/preview/{file}",
		"/preview":                  "/preview",
		"/app":                      "/app",
		"/media/uploads/a/b/c.bin":  "/media/{path}",
		"/v1/dialogs/17/messages":   "/v1/dialogs/{id}/messages",
		"/v1/dialogs/17/read":       "/v1/dialogs/{id}/read",
		"/v1/dialogs/17/messages/3": "/v1/dialogs/{id}/messages/{seq}",
		"/v1/dialogs":               "/v1/dialogs",
		"/":                         "/",
	} {
		got := o.match(path)
		if got == nil || got.template != want {
			t.Errorf("match(%s) = %v, want %s", path, got, want)
		}
	}
	for _, path := range []string{"/v1/dialogs/17/nope", "/v1/dialogs//messages", "/v1", "/v1/users/"} {
		if got := o.match(path); got != nil {
			t.Errorf("match(%s) = %s, want none", path, got.template)
		}
	}

	// Requests are strict.
	ok(o.ValidateRequest("POST", "/v1/dialogs/17/messages", "application/json", []byte(`{"client_id":"c-1","text":"hi","attachments":[{"upload_id":"7"}]}`)))
	bad(o.ValidateRequest("POST", "/v1/dialogs/17/messages", "application/json", []byte(`{"client_id":"c-1","text":"hi","silent":true}`)), "silent")
	ok(o.ValidateRequest("POST", "/v1/contacts/sync", "application/json", []byte(`{"phones":["8 999 000-00-01","Mom"]}`)))
	ok(o.ValidateRequest("POST", "/v1/contacts/sync", "application/json", []byte(`{"phone":"8 999 000-00-01"}`)))
	bad(o.ValidateRequest("POST", "/v1/contacts/sync", "application/json", []byte(`{"phone":"1","phones":["2"]}`)))
	ok(o.ValidateRequest("PUT", "/v1/me/avatar", "multipart/form-data; boundary=x", []byte("--x--")))
	bad(o.ValidateRequest("PUT", "/v1/me/avatar", "application/json", []byte(`{}`)), "not documented")
}

// TestOpenAPIContractFrames checks the WebSocket frame schemas against the
// examples of docs/api.md and against broken frames.
func TestOpenAPIContractFrames(t *testing.T) {
	o := MustLoadOpenAPI(t)
	for _, f := range []string{
		`{"type":"message","message":` + goodMessage + `}`,
		`{"type":"status","dialog_id":"17","user_id":"5","delivered_seq":43,"read_seq":42}`,
		`{"type":"typing","dialog_id":"17","user_id":"5"}`,
		`{"type":"presence","user_id":"5","online":false,"last_seen":"2026-11-25T17:30:00Z"}`,
		`{"type":"presence","user_id":"5","online":true,"last_seen":null}`,
		`{"type":"dialog","dialog":` + goodDialog + `}`,
		`{"type":"patch","screen":"chat:17","ops":[{"op":"remove","id":"msg-1"},{"op":"set","id":"b","props":{"text":"4"}}]}`,
		`{"type":"reply","id":"1","message":` + goodMessage + `}`,
		`{"type":"reply","id":"s1","synced":{"17":43,"23":5},"more":false}`,
		`{"type":"reply","id":"s2","synced":{},"since":{"17":57},"more":true}`,
		`{"type":"reply","id":"w1","screen":"chat:17","live":["dialog:17"]}`,
		`{"type":"reply","id":7,"live":[]}`,
		`{"type":"error","id":"1","error":{"code":"not_found","message":"No such dialog."}}`,
		`{"type":"error","error":{"code":"invalid_json","message":"A frame must be a JSON object."}}`,
	} {
		if err := o.ValidateFrame([]byte(f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for f, want := range map[string]string{
		`{"type":"typing","dialog_id":"17"}`:                                            "user_id",
		`{"type":"status","dialog_id":17,"user_id":"5","delivered_seq":1,"read_seq":1}`: "/dialog_id",
		`{"type":"presence","user_id":"5","online":true}`:                               "last_seen",
		`{"type":"reply","id":"1"}`:                                                     "reply",
		`{"type":"patch","screen":"chat:17","ops":[{"op":"explode"}]}`:                  "/ops/0",
		`{"type":"hello"}`: "not a documented WsServerFrame type",
		`[1,2]`:            "not a JSON object",
		`{"type":"message","message":{"id":"17.1"}}`: "/message",
	} {
		err := o.ValidateFrame([]byte(f))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error mentioning %q", f, err, want)
		}
	}
	// The client frames of docs/api.md.
	for _, f := range []string{
		`{"type":"send","id":"1","dialog_id":"17","client_id":"c-8f3a","text":"привет"}`,
		`{"type":"send","id":"2","dialog_id":"17","client_id":"c-8f3b","text":"","attachments":[{"upload_id":"7302981554412350921"}]}`,
		`{"type":"delivered","dialog_id":"17","seq":43}`,
		`{"type":"read","dialog_id":"17","seq":43}`,
		`{"type":"typing","dialog_id":"17"}`,
		`{"type":"sync","id":"s1","dialogs":{"17":40,"23":0}}`,
		`{"type":"sync","id":"s2","since":{"17":52},"dialogs":{"23":0}}`,
		`{"type":"watch","id":"w1","screen":"chat","params":{"dialog_id":"17"},"lang":"ru","theme":"dark","shell":"web/1 (components: composer@1, video@1)"}`,
		`{"type":"watch"}`,
	} {
		if err := o.ValidateSchema("WsClientFrame", []byte(f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{
		`{"type":"send","dialog_id":"17","client_id":"c","text":"no id"}`,
		`{"type":"read","dialog_id":"17","seq":0}`,
		`{"type":"sync","id":"s","dialogs":{"x":1}}`,
		`{"type":"sync","id":"s","since":{"17":-1}}`,
		`{"type":"shout"}`,
	} {
		if err := o.ValidateSchema("WsClientFrame", []byte(f)); err == nil {
			t.Errorf("%s: valid, want refused", f)
		}
	}
}
