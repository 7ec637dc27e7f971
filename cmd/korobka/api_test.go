package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/korobka/korobka/chat/chattest"
)

// fakeSMSRu stands in for the sms.ru API so that tests read the codes the
// real adapter sends.
type fakeSMSRu struct {
	mu    sync.Mutex
	codes map[string]string // "+7..." -> last code
	sent  int
}

var codeRE = regexp.MustCompile(`\b\d{6}\b`)

func newFakeSMSRu(t *testing.T) (*fakeSMSRu, string) {
	t.Helper()
	f := &fakeSMSRu{codes: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.URL.Path != "/sms/send" || r.Form.Get("api_id") != "test-api-id" {
			w.Write([]byte(`{"status":"ERROR","status_code":200,"status_text":"bad request"}`))
			return
		}
		to := r.Form.Get("to")
		f.mu.Lock()
		f.codes["+"+to] = codeRE.FindString(r.Form.Get("msg"))
		f.sent++
		f.mu.Unlock()
		fmt.Fprintf(w, `{"status":"OK","status_code":100,"sms":{%q:{"status":"OK","status_code":100,"sms_id":"1"}}}`, to)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeSMSRu) code(t *testing.T, phone string) string {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.codes[phone]
	if !ok {
		t.Fatalf("no SMS was sent to %s", phone)
	}
	return c
}

func (f *fakeSMSRu) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent
}

// env is one running server under test with its fakes.
type env struct {
	t    *testing.T
	url  string
	sms  *fakeSMSRu
	app  *app
	data string       // KOROBKA_DATA
	h    http.Handler // the HTTP surface, for its route table
}

// backends runs fn against the embedded default and, when the services are
// configured, against MySQL + Redis.
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	backendsWith(t, nil, fn)
}

// backendsWith is backends with more settings for both servers.
func backendsWith(t *testing.T, vars map[string]string, fn func(t *testing.T, e *env)) {
	t.Run("sqlite+memory", func(t *testing.T) { fn(t, newEnv(t, vars)) })
	t.Run("mysql+redis", func(t *testing.T) {
		dsn := chattest.MySQLDSN(t)
		redisURL := chattest.RedisURL(t)
		prod := map[string]string{
			"KOROBKA_MYSQL_DSN":    dsn,
			"KOROBKA_REDIS_URL":    redisURL,
			"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
		}
		for k, v := range vars {
			prod[k] = v
		}
		fn(t, newEnv(t, prod))
	})
}

func newEnv(t *testing.T, vars map[string]string) *env {
	t.Helper()
	return newEnvConfig(t, vars, nil)
}

// newEnvConfig is newEnv with a last say over the parsed Config.
func newEnvConfig(t *testing.T, vars map[string]string, adjust func(*Config)) *env {
	t.Helper()
	sms, smsURL := newFakeSMSRu(t)
	envv := map[string]string{
		"KOROBKA_DATA":         t.TempDir(),
		"KOROBKA_ADDR":         "127.0.0.1:0",
		"KOROBKA_TEST_PHONES":  "+79990000001:111111,+79990000002:222222,+7999123*:333333",
		"KOROBKA_SMS_PROVIDER": "smsru",
		"KOROBKA_SMSRU_API_ID": "test-api-id",
		"KOROBKA_SMSRU_URL":    smsURL,
		// Tests run on loopback like production behind nothing: the
		// per-address limits apply unless a test turns them off.
		"KOROBKA_LOOPBACK_UNLIMITED": "0",
		// Link previews fetch what messages link to; tests that want
		// them turn them on with a fixture site they allow.
		"KOROBKA_LINK_PREVIEWS": "off",
		// Presence tests expect the offline announcement at once; tests
		// of the reconnect grace set their own.
		"KOROBKA_PRESENCE_GRACE": "0s",
	}
	for k, v := range vars {
		envv[k] = v
	}
	cfg, err := parseConfig("serve", nil, func(k string) string { return envv[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(&cfg)
	}
	log := slog.New(slog.DiscardHandler)
	a, err := openApp(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	a.start()
	h, err := a.handler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The public listener's limits, as korobka serve sets them.
	srv := httptest.NewUnstartedServer(h)
	srv.Config = newHTTPServer(h, log)
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, url: srv.URL, sms: sms, app: a, data: cfg.Data, h: h}
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) field(t *testing.T, path ...string) any {
	t.Helper()
	var v any
	r.json(t, &v)
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: no field %q", r.body, p)
		}
		v = m[p]
	}
	return v
}

// errCode returns the contract error code of an error answer.
func (r response) errCode(t *testing.T) string {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	r.json(t, &b)
	if b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("answer %d %s is not an error with code and message", r.status, r.body)
	}
	return b.Error.Code
}

// do sends a request; body may be nil, a string (sent as is) or a value
// (sent as JSON).
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	return e.doType(method, path, token, "application/json", body)
}

func (e *env) doType(method, path, token, contentType string, body any) response {
	e.t.Helper()
	return e.doHeaders(method, path, token, contentType, body, nil)
}

// doFrom sends a JSON request as if from the client address addr, which
// the server believes when KOROBKA_TRUSTED_PROXIES holds 127.0.0.1 (see
// fromAddresses).
func (e *env) doFrom(addr, method, path, token string, body any) response {
	e.t.Helper()
	return e.doHeaders(method, path, token, "application/json", body, map[string]string{"X-Forwarded-For": addr})
}

// fromAddresses is the setting under which doFrom's addresses are
// believed: the test client on loopback is a trusted proxy.
var fromAddresses = map[string]string{"KOROBKA_TRUSTED_PROXIES": "127.0.0.1"}

func (e *env) doHeaders(method, path, token, contentType string, body any, headers map[string]string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	// Every answer any API test receives must be what the contract says.
	if err := theContract(e.t).ValidateHTTP(method, req.URL.Path, res.StatusCode, res.Header, data); err != nil {
		e.t.Errorf("%s %s: the answer breaks schemas/openapi.yaml: %v\n%.300s", method, path, err, data)
	}
	return response{res.StatusCode, res.Header, data}
}

// theContract is schemas/openapi.yaml, loaded once for every test.
func theContract(t testing.TB) *chattest.OpenAPI {
	t.Helper()
	return chattest.MustLoadOpenAPI(t)
}

// want checks the status of an answer.
func (e *env) want(r response, status int) response {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("got status %d (%s), want %d", r.status, r.body, status)
	}
	return r
}

// wantErr checks an error answer's status and code.
func (e *env) wantErr(r response, status int, code string) {
	e.t.Helper()
	e.want(r, status)
	if got := r.errCode(e.t); got != code {
		e.t.Fatalf("got error code %q, want %q", got, code)
	}
}

// untilLimited sends up to n requests, each answered with status ok until
// the first 429, which must be rate_limited with a Retry-After. It returns
// how many were allowed and fails when none was limited.
func (e *env) untilLimited(n, ok int, req func(i int) response) int {
	e.t.Helper()
	for i := 0; i < n; i++ {
		r := req(i)
		if r.status == 429 {
			e.wantErr(r, 429, "rate_limited")
			if r.header.Get("Retry-After") == "" {
				e.t.Fatal("429 without Retry-After")
			}
			return i
		}
		e.want(r, ok)
	}
	e.t.Fatalf("%d requests were all allowed", n)
	return n
}

// tokens is the login answer.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	NewUser      bool   `json:"new_user"`
	User         struct {
		ID        string `json:"id"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		AvatarURL string `json:"avatar_url"`
		Phone     string `json:"phone"`
	} `json:"user"`
}

// login logs a number in through the real SMS path and returns its tokens.
func (e *env) login(phone string) tokens {
	e.t.Helper()
	r := e.want(e.do("POST", "/v1/auth/otp", "", map[string]string{"phone": phone}), 200)
	e164 := r.field(e.t, "phone").(string)
	code := e.sms.code(e.t, e164)
	var tk tokens
	e.want(e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": phone, "code": code}), 200).json(e.t, &tk)
	return tk
}

// loginTest logs a configured test number in with its fixed code.
func (e *env) loginTest(phone, code string) tokens {
	e.t.Helper()
	e.want(e.do("POST", "/v1/auth/otp", "", map[string]string{"phone": phone}), 200)
	var tk tokens
	e.want(e.do("POST", "/v1/auth/verify", "", map[string]string{"phone": phone, "code": code}), 200).json(e.t, &tk)
	return tk
}
