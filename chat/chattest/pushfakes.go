package chattest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Local stand-ins for Apple's and Google's push services, so that the real
// client libraries (sideshow/apns2, firebase.google.com/go/v4) are tested
// end to end over real HTTP: HTTP/2 with TLS and ES256 provider tokens for
// APNs, OAuth 2 with a service account and the HTTP v1 API for FCM. Each
// records what it accepted and can be told to fail per token.

// PushFailure is how a fake answers pushes to one token.
type PushFailure struct {
	Status int
	// Reason is APNs' reason ("BadDeviceToken") or FCM's error code
	// ("UNREGISTERED"); FCM's status ("NOT_FOUND") is derived from Status.
	Reason string
	// RetryAfter, when set, is sent as a Retry-After header in seconds.
	RetryAfter int
	// Times is how many pushes fail before the token works again; 0 is
	// every push.
	Times int
	// Hang holds the request until the client gives up (a timeout).
	Hang bool
}

// fakePushState is what both fakes keep: failures per token and a global
// outage switch.
type fakePushState struct {
	mu       sync.Mutex
	fail     map[string]*PushFailure
	outage   *PushFailure
	attempts int
}

// Fail makes pushes to token fail as f says.
func (s *fakePushState) Fail(token string, f PushFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail == nil {
		s.fail = map[string]*PushFailure{}
	}
	s.fail[token] = &f
}

// Outage makes every push fail as f says until Restore.
func (s *fakePushState) Outage(f PushFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = &f
}

// Restore ends an Outage.
func (s *fakePushState) Restore() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = nil
}

// Attempts counts every push request received, failed ones included.
func (s *fakePushState) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// failure returns how to answer a push to token, counting it.
func (s *fakePushState) failure(token string) *PushFailure {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.outage != nil {
		return s.outage
	}
	f := s.fail[token]
	if f == nil {
		return nil
	}
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			delete(s.fail, token)
		}
	}
	return f
}

// APNsPush is one notification the fake APNs accepted.
type APNsPush struct {
	Token      string
	Topic      string
	CollapseID string
	PushType   string
	Priority   string
	Expiration string
	// Payload is the JSON body: "aps" and the custom keys.
	Payload map[string]any
	At      time.Time
}

// Alert returns the alert's title and body ("" for none).
func (p APNsPush) Alert() (title, body string) {
	aps, _ := p.Payload["aps"].(map[string]any)
	alert, _ := aps["alert"].(map[string]any)
	title, _ = alert["title"].(string)
	body, _ = alert["body"].(string)
	return title, body
}

// Aps returns one key of the payload's aps dictionary.
func (p APNsPush) Aps(key string) any {
	aps, _ := p.Payload["aps"].(map[string]any)
	return aps[key]
}

// FakeAPNs is a local APNs provider API: HTTP/2 over TLS, checking the
// provider token (ES256, signed with KeyPEM, kid KeyID, iss TeamID) of
// every request.
type FakeAPNs struct {
	fakePushState
	URL    string
	TLS    *tls.Config // trusts the server's certificate
	KeyPEM []byte      // a .p8 key (PKCS #8 PEM) to configure the sender with
	KeyID  string
	TeamID string

	key    *ecdsa.PublicKey
	pushes []APNsPush
	hang   chan struct{}
	// verified caches provider tokens already checked: a client reuses
	// one for up to an hour, and the ECDSA check would otherwise take
	// most of the fake's CPU in benchmarks.
	verified sync.Map
}

// NewFakeAPNs starts a fake APNs for the test.
func NewFakeAPNs(t testing.TB) *FakeAPNs {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	f := &FakeAPNs{
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		KeyID:  "ABC123DEFG",
		TeamID: "TEAM123456",
		key:    &priv.PublicKey,
		hang:   make(chan struct{}),
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(func() {
		close(f.hang)
		srv.Close()
	})
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	f.URL = srv.URL
	f.TLS = &tls.Config{RootCAs: pool}
	return f
}

func (f *FakeAPNs) serve(w http.ResponseWriter, r *http.Request) {
	answer := func(status int, reason string) {
		w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000001")
		w.WriteHeader(status)
		if reason != "" {
			body := map[string]any{"reason": reason}
			if status == http.StatusGone {
				body["timestamp"] = time.Now().UnixMilli()
			}
			json.NewEncoder(w).Encode(body)
		}
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if r.ProtoMajor != 2 || r.Method != http.MethodPost || !ok || token == "" {
		answer(http.StatusMethodNotAllowed, "MethodNotAllowed")
		return
	}
	if reason := f.checkProviderToken(r.Header.Get("Authorization")); reason != "" {
		answer(http.StatusForbidden, reason)
		return
	}
	if r.Header.Get("apns-topic") == "" {
		answer(http.StatusBadRequest, "MissingTopic")
		return
	}
	var payload map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&payload); err != nil {
		answer(http.StatusRequestEntityTooLarge, "PayloadTooLarge")
		return
	}
	if id := r.Header.Get("apns-collapse-id"); len(id) > 64 {
		answer(http.StatusBadRequest, "BadCollapseId")
		return
	}
	if fail := f.failure(token); fail != nil {
		if fail.Hang {
			select {
			case <-r.Context().Done():
			case <-f.hang:
			}
			return
		}
		if fail.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(fail.RetryAfter))
		}
		answer(fail.Status, fail.Reason)
		return
	}
	f.mu.Lock()
	f.pushes = append(f.pushes, APNsPush{
		Token: token, Topic: r.Header.Get("apns-topic"), CollapseID: r.Header.Get("apns-collapse-id"),
		PushType: r.Header.Get("apns-push-type"), Priority: r.Header.Get("apns-priority"),
		Expiration: r.Header.Get("apns-expiration"), Payload: payload, At: time.Now(),
	})
	f.mu.Unlock()
	answer(http.StatusOK, "")
}

// checkProviderToken verifies "bearer <JWT>" as APNs does: ES256 over the
// header and claims, kid and iss matching, issued within the hour.
func (f *FakeAPNs) checkProviderToken(h string) string {
	jwt, ok := strings.CutPrefix(h, "bearer ")
	if !ok {
		return "MissingProviderToken"
	}
	if iat, ok := f.verified.Load(jwt); ok {
		if time.Since(iat.(time.Time)) > time.Hour {
			return "ExpiredProviderToken"
		}
		return ""
	}
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "InvalidProviderToken"
	}
	var hdr struct{ Alg, Kid string }
	var claims struct {
		Iss string
		Iat int64
	}
	if decodeSegment(parts[0], &hdr) != nil || decodeSegment(parts[1], &claims) != nil {
		return "InvalidProviderToken"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 || hdr.Alg != "ES256" || hdr.Kid != f.KeyID || claims.Iss != f.TeamID {
		return "InvalidProviderToken"
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(f.key, sum[:], r, s) {
		return "InvalidProviderToken"
	}
	if age := time.Since(time.Unix(claims.Iat, 0)); age > time.Hour || age < -time.Minute {
		return "ExpiredProviderToken"
	}
	f.verified.Store(jwt, time.Unix(claims.Iat, 0))
	return ""
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Pushes returns the accepted notifications in order.
func (f *FakeAPNs) Pushes() []APNsPush {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]APNsPush(nil), f.pushes...)
}

// Count returns how many notifications were accepted.
func (f *FakeAPNs) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pushes)
}

// Shown returns what a phone with token shows: one notification per
// collapse id (a later one with the same id replaces it), in order of first
// arrival. Silent pushes show nothing.
func (f *FakeAPNs) Shown(token string) []APNsPush {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []APNsPush
	at := map[string]int{}
	for _, p := range f.pushes {
		if p.Token != token || p.Aps("alert") == nil {
			continue
		}
		if i, ok := at[p.CollapseID]; ok && p.CollapseID != "" {
			out[i] = p
			continue
		}
		at[p.CollapseID] = len(out)
		out = append(out, p)
	}
	return out
}

// FCMMessage is one message the fake FCM accepted: the HTTP v1 "message"
// object.
type FCMMessage struct {
	Token        string
	Data         map[string]string
	Notification *struct{ Title, Body string }
	Android      *struct {
		CollapseKey  string `json:"collapse_key"`
		Priority     string
		TTL          string
		Notification *struct{ Tag string }
	}
	APNS *struct {
		Headers map[string]string
		Payload map[string]any
	}
	At time.Time `json:"-"`
}

// FakeFCM is a local FCM HTTP v1 API with its OAuth 2 token endpoint:
// CredentialsJSON is a service account whose token_uri points here, and
// every send must carry an access token issued for a grant signed with
// that account's key.
type FakeFCM struct {
	fakePushState
	URL             string // the API root: pass URL+"/v1" as the endpoint
	ProjectID       string
	CredentialsJSON []byte

	key      *rsa.PublicKey
	issued   map[string]bool
	messages []FCMMessage
	hang     chan struct{}
}

// NewFakeFCM starts a fake FCM for the test.
func NewFakeFCM(t testing.TB) *FakeFCM {
	t.Helper()
	priv, err := fcmKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	f := &FakeFCM{ProjectID: "korobka-test", key: &priv.PublicKey, issued: map[string]bool{}, hang: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.hang)
		srv.Close()
	})
	f.URL = srv.URL
	f.CredentialsJSON, _ = json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     f.ProjectID,
		"private_key_id": "key-1",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "push@korobka-test.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      srv.URL + "/token",
	})
	return f
}

// fcmKey is one service account key for every fake of the process: RSA
// key generation takes up to seconds, and the fakes need no more than one.
var fcmKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

func (f *FakeFCM) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		f.serveToken(w, r)
		return
	}
	fail := func(status int, code string) {
		status2 := map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
			404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}[status]
		body := map[string]any{"error": map[string]any{
			"code": status, "message": "fake FCM: " + code, "status": status2,
			"details": []any{map[string]any{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}},
		}}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(body)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/projects/"+f.ProjectID+"/messages:send" {
		fail(http.StatusNotFound, "NOT_FOUND")
		return
	}
	bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	ok := f.issued[bearer]
	f.mu.Unlock()
	if !ok && !f.selfSigned(bearer) {
		fail(http.StatusUnauthorized, "THIRD_PARTY_AUTH_ERROR")
		return
	}
	var req struct {
		Message FCMMessage `json:"message"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Message.Token == "" {
		fail(http.StatusBadRequest, "INVALID_ARGUMENT")
		return
	}
	if pf := f.failure(req.Message.Token); pf != nil {
		if pf.Hang {
			select {
			case <-r.Context().Done():
			case <-f.hang:
			}
			return
		}
		if pf.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(pf.RetryAfter))
		}
		fail(pf.Status, pf.Reason)
		return
	}
	m := req.Message
	m.At = time.Now()
	f.mu.Lock()
	f.messages = append(f.messages, m)
	n := len(f.messages)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"name":"projects/%s/messages/%d"}`, f.ProjectID, n)
}

// serveToken exchanges a JWT grant signed with the service account's key
// for an access token, as Google's OAuth 2 endpoint does.
func (f *FakeFCM) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" ||
		!f.verifyRS256(r.Form.Get("assertion")) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant"}`)
		return
	}
	token := "fcm-access-" + rand.Text()
	f.mu.Lock()
	f.issued[token] = true
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, token)
}

// selfSigned accepts a JWT signed by the service account itself, which
// Google's libraries may send instead of an access token.
func (f *FakeFCM) selfSigned(jwt string) bool { return f.verifyRS256(jwt) }

func (f *FakeFCM) verifyRS256(jwt string) bool {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return false
	}
	var hdr struct{ Alg string }
	if decodeSegment(parts[0], &hdr) != nil || hdr.Alg != "RS256" {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return rsa.VerifyPKCS1v15(f.key, crypto.SHA256, sum[:], sig) == nil
}

// Messages returns the accepted messages in order.
func (f *FakeFCM) Messages() []FCMMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]FCMMessage(nil), f.messages...)
}
