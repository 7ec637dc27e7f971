package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/memory"
	"github.com/korobka/korobka/chat/sqlstore"
)

// Tests of the Service's use cases over a real SQLite store in a temp
// folder and the in-memory broker, presence and limiter, with the
// committer running. They assert what clients see: return values, error
// codes and the JSON of published events.

// testCode is the login code of every test number (+7999...).
const testCode = "111111"

// waitTimeout bounds every wait: a deadline for a hang, never a measure of
// speed.
const waitTimeout = 10 * time.Second

// fixture is one Service and what the tests observe it through.
type fixture struct {
	svc    *chat.Service
	store  *sqlstore.Store
	broker *memory.Broker
	sms    *fakeSMS
	clock  *clock
	images *fakeMedia

	mu     sync.Mutex
	phones int
}

// newTestService builds a Service over a fresh SQLite database and runs its
// committer until the test ends. options adjust the fixture and the Config
// (push_test.go adds the push pipeline).
func newTestService(t testing.TB, options ...func(*fixture, *chat.Config)) *fixture {
	t.Helper()
	f, _ := newTestServiceWith(t, nil, options...)
	return f
}

// newTestServiceWith is newTestService with a last say over the Config
// (adjust may wrap the store); it is the one place that knows
// chat.Config. stop stops the Service early, as a
// shutdown does, and waits for Run to return.
func newTestServiceWith(t testing.TB, adjust func(*chat.Config), options ...func(*fixture, *chat.Config)) (f *fixture, stop func()) {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, sqlstore.SQLite, filepath.Join(t.TempDir(), "k.db"), nil)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	broker := memory.NewBroker()
	t.Cleanup(func() { broker.Close() })
	phones, err := chat.ParseTestPhones("+7999*:"+testCode, "RU")
	if err != nil {
		t.Fatal(err)
	}
	f = &fixture{
		store:  store,
		broker: broker,
		sms:    &fakeSMS{},
		clock:  &clock{t: time.Now().UTC()},
		images: &fakeMedia{},
	}
	cfg := chat.Config{
		Store:      store,
		Broker:     broker,
		Presence:   memory.NewPresence(),
		Limiter:    memory.NewLimiter(f.clock.Now),
		SMS:        f.sms,
		Images:     f.images,
		Files:      f.images,
		Now:        f.clock.Now,
		TestPhones: phones,
	}
	for _, o := range options {
		o(f, &cfg)
	}
	if adjust != nil {
		adjust(&cfg)
	}
	f.svc = chat.NewService(cfg)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.svc.Run(runCtx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return f, stop
}

// user is a logged-in test user and the events addressed to them.
type user struct {
	id     int64
	p      chat.Principal
	auth   chat.Auth
	phone  string
	events *recorder
}

// newUser logs in the next test number, names it and subscribes to its
// topic. Each user logs in from an address of its own, as people do, so
// that the per-address login limits never get in a test's way.
func (f *fixture) newUser(t testing.TB, name string) *user {
	t.Helper()
	ctx := context.Background()
	f.mu.Lock()
	f.phones++
	n := f.phones
	f.mu.Unlock()
	phone := fmt.Sprintf("+7999%07d", n)
	ip := fmt.Sprintf("10.99.%d.%d", n/256%256, n%256)
	if _, err := f.svc.RequestCode(ctx, phone, ip); err != nil {
		t.Fatalf("code for %s: %v", phone, err)
	}
	a, err := f.svc.Verify(ctx, phone, testCode, ip, "test")
	if err != nil {
		t.Fatalf("login %s: %v", phone, err)
	}
	p, err := f.svc.Authenticate(ctx, a.AccessToken)
	if err != nil {
		t.Fatalf("authenticate %s: %v", phone, err)
	}
	if name != "" {
		if _, err := f.svc.UpdateMe(ctx, p, chat.ProfileUpdate{FirstName: &name}); err != nil {
			t.Fatalf("name %s: %v", phone, err)
		}
	}
	u := &user{id: p.UserID, p: p, auth: a, phone: phone, events: &recorder{}}
	if err := f.broker.Subscribe(ctx, chat.UserTopic(u.id), u.events.add); err != nil {
		t.Fatal(err)
	}
	return u
}

// direct opens a's direct dialog with b and returns its id.
func (f *fixture) direct(t testing.TB, a, b *user) int64 {
	t.Helper()
	v, _, err := f.svc.OpenDirect(context.Background(), a.p, b.id, "")
	if err != nil {
		t.Fatalf("open direct: %v", err)
	}
	return parseID(t, v.ID)
}

// send sends a text message from a WebSocket connection (origin 1).
func (f *fixture) send(t testing.TB, from *user, dialogID int64, clientID, text string) chat.MessageView {
	t.Helper()
	v, _, err := f.svc.Send(context.Background(), from.p, 1, chat.SendRequest{DialogID: dialogID, ClientID: clientID, Text: text})
	if err != nil {
		t.Fatalf("send %s: %v", clientID, err)
	}
	return v
}

func parseID(t testing.TB, s string) int64 {
	t.Helper()
	id, err := chat.ParseID(s)
	if err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return id
}

// event is a publication on a user topic as the gateway reads it: the
// envelope header, then the frame's JSON.
type event struct {
	Kind   byte
	Origin int64 // the connection skipped (EnvFrame) or the session family (EnvCloseFamily)

	Type    string `json:"type"`
	Message *struct {
		ID       string     `json:"id"`
		DialogID string     `json:"dialog_id"`
		Seq      int64      `json:"seq"`
		Change   int64      `json:"change"`
		SenderID string     `json:"sender_id"`
		ClientID string     `json:"client_id"`
		Text     string     `json:"text"`
		EditedAt *time.Time `json:"edited_at"`
		Deleted  bool       `json:"deleted"`
		Status   string     `json:"status"`
		System   *struct {
			Type  string   `json:"type"`
			Actor string   `json:"actor_id"`
			Users []string `json:"user_ids"`
			Title string   `json:"title"`
		} `json:"system"`
	} `json:"message"`
	DialogID     string     `json:"dialog_id"`
	UserID       string     `json:"user_id"`
	DeliveredSeq int64      `json:"delivered_seq"`
	ReadSeq      int64      `json:"read_seq"`
	Online       *bool      `json:"online"`
	LastSeen     *time.Time `json:"last_seen"`
	Dialog       *struct {
		ID          string          `json:"id"`
		Kind        string          `json:"kind"`
		Title       string          `json:"title"`
		Unread      int64           `json:"unread"`
		LastMessage json.RawMessage `json:"last_message"`
	} `json:"dialog"`
}

// recorder keeps the events of one user topic.
type recorder struct {
	mu     sync.Mutex
	events []event
	errs   []error
}

func (r *recorder) add(payload []byte) {
	var e event
	kind, id, frame, err := chat.OpenEnvelope(payload)
	if err == nil && len(frame) > 0 {
		err = json.Unmarshal(frame, &e)
	}
	e.Kind, e.Origin = kind, id
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	r.events = append(r.events, e)
}

// of returns the events of one type so far ("" for all).
func (r *recorder) of(t testing.TB, typ string) []event {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Fatalf("undecodable events: %v", r.errs)
	}
	var out []event
	for _, e := range r.events {
		if typ == "" || e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// wait polls until at least n events of the type have arrived and returns
// them all.
func (r *recorder) wait(t testing.TB, typ string, n int) []event {
	t.Helper()
	var got []event
	waitFor(t, fmt.Sprintf("%d %q events", n, typ), func() bool {
		got = r.of(t, typ)
		return len(got) >= n
	})
	return got
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// wantErr checks that err is target by errors.Is (same kind and code).
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// wantCode checks the client-visible code of err.
func wantCode(t testing.TB, what string, err error, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", what, code)
		return
	}
	if got := chat.ErrorOf(err).Code; got != code {
		t.Errorf("%s: got %v, want code %s", what, err, code)
	}
}

// clock is the Service's time: it starts at the real time, moves 1 ms at
// every reading (so that rows get distinct times) and jumps on Advance.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeSMS records the texts it was asked to send.
type fakeSMS struct {
	mu   sync.Mutex
	sent map[string][]string
}

func (s *fakeSMS) SendSMS(_ context.Context, phone, text string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent == nil {
		s.sent = map[string][]string{}
	}
	s.sent[phone] = append(s.sent[phone], text)
	return nil
}

var codeRE = regexp.MustCompile(`\b\d{6}\b`)

// lastCode returns the code in the last text sent to phone.
func (s *fakeSMS) lastCode(t testing.TB, phone string) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	texts := s.sent[phone]
	if len(texts) == 0 {
		t.Fatalf("no SMS sent to %s", phone)
	}
	code := codeRE.FindString(texts[len(texts)-1])
	if code == "" {
		t.Fatalf("no code in %q", texts[len(texts)-1])
	}
	return code
}

func (s *fakeSMS) count(phone string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sent[phone])
}

// fakeMedia is the ImageStore and FileStore: it keeps nothing, hands out
// keys and records the keys it was asked to delete.
type fakeMedia struct {
	mu      sync.Mutex
	n       int
	deleted []string
}

func (m *fakeMedia) key(prefix string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	return fmt.Sprintf("%s%d", prefix, m.n)
}

func (m *fakeMedia) SaveAvatar(_ context.Context, r io.Reader) (string, error) {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return "", err
	}
	return m.key("avatar"), nil
}

func (m *fakeMedia) DeleteAvatar(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleted = append(m.deleted, key)
	return nil
}

func (m *fakeMedia) SaveUpload(_ context.Context, r io.Reader, _ string) (chat.StoredMedia, error) {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return chat.StoredMedia{}, err
	}
	return chat.StoredMedia{Kind: chat.UploadFile, Key: m.key("uploads/"), Size: n, Mime: "text/plain"}, nil
}

func (m *fakeMedia) CopyUpload(_ context.Context, key string) (string, error) {
	return m.key("uploads/"), nil
}

// wasDeleted reports whether key was deleted.
func (m *fakeMedia) wasDeleted(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.deleted, key)
}

func (m *fakeMedia) DeleteUpload(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleted = append(m.deleted, key)
	return nil
}
