package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
)

// Client addresses of the login tests: documentation ranges (RFC 5737,
// RFC 3849), told to the server through X-Forwarded-For (doFrom).
const (
	ownerAddr    = "198.51.100.7"
	attackerAddr = "2001:db8:5:6::1"
	// attackerTwin is another address of the attacker's /64.
	attackerTwin = "2001:db8:5:6::abcd"
)

func otpBody(phone string) map[string]string { return map[string]string{"phone": phone} }

func verifyBody(phone, code string) map[string]string {
	return map[string]string{"phone": phone, "code": code}
}

// wrongCode returns a well-formed code other than code.
func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

// answer is what a client can tell apart in an error answer.
func (r response) answer(t *testing.T) string {
	t.Helper()
	var b struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	r.json(t, &b)
	return fmt.Sprintf("%d %s %q", r.status, b.Error.Code, b.Error.Message)
}

// TestTestNumbersAreStillPhoneNumbers: only the SMS is skipped for a test
// number. Its fixed code must be requested, tries are counted, the per-IP
// limits apply, and a wrong try is answered as any number's.
func TestTestNumbersAreStillPhoneNumbers(t *testing.T) {
	backendsWith(t, fromAddresses, func(t *testing.T, e *env) {
		const test, real = "+79990000001", "+79161230000"
		e.wantErr(e.doFrom(ownerAddr, "POST", "/v1/auth/verify", "", verifyBody(test, "111111")), 400, "invalid_code")

		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/otp", "", otpBody(test)), 200)
		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/otp", "", otpBody(real)), 200)
		if n := e.sms.count(); n != 1 {
			t.Fatalf("got %d SMS, want 1: the real number's only", n)
		}
		realCode := e.sms.code(t, real)
		for i := range chat.MaxCodeAttempts + 1 {
			rt := e.doFrom(attackerAddr, "POST", "/v1/auth/verify", "", verifyBody(test, "123456"))
			rr := e.doFrom(attackerAddr, "POST", "/v1/auth/verify", "", verifyBody(real, wrongCode(realCode)))
			want := "invalid_code"
			if i == chat.MaxCodeAttempts {
				want = "too_many_attempts"
			}
			if got := rt.answer(t); !strings.Contains(got, " "+want+" ") || got != rr.answer(t) {
				t.Fatalf("try %d: the test number is answered %s, a real number %s; want both %s", i+1, got, rr.answer(t), want)
			}
		}
		// Even the fixed code, from the address that used up its tries.
		e.wantErr(e.doFrom(attackerAddr, "POST", "/v1/auth/verify", "", verifyBody(test, "111111")), 429, "too_many_attempts")
		// The owner's own try still works.
		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/verify", "", verifyBody(test, "111111")), 200)

		// Asking for codes of many test numbers from one address is
		// stopped like asking for many real ones.
		e.untilLimited(40, 200, func(i int) response {
			return e.doFrom("203.0.113.9", "POST", "/v1/auth/otp", "", otpBody(fmt.Sprintf("+7999123%04d", i)))
		})
	})
}

// TestNobodyCanLockAnotherOut is the attack on both backends: three
// code requests and six wrong tries from one address. The owner, at another
// address, still logs in, and may still ask for new codes.
func TestNobodyCanLockAnotherOut(t *testing.T) {
	backendsWith(t, fromAddresses, func(t *testing.T, e *env) {
		const phone = "+79162220001"
		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/otp", "", otpBody(phone)), 200)
		for i := range 3 {
			e.want(e.doFrom(attackerAddr, "POST", "/v1/auth/otp", "", otpBody(phone)), 200)
			if i == 2 {
				// One more from the same /64 is the same address.
				e.wantErr(e.doFrom(attackerTwin, "POST", "/v1/auth/otp", "", otpBody(phone)), 429, "rate_limited")
			}
		}
		code := e.sms.code(t, phone) // each new code reaches the owner's phone
		for range chat.MaxCodeAttempts {
			e.wantErr(e.doFrom(attackerAddr, "POST", "/v1/auth/verify", "", verifyBody(phone, wrongCode(code))), 400, "invalid_code")
		}
		e.wantErr(e.doFrom(attackerTwin, "POST", "/v1/auth/verify", "", verifyBody(phone, wrongCode(code))), 429, "too_many_attempts")

		var tk tokens
		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/verify", "", verifyBody(phone, code)), 200).json(t, &tk)
		if !tk.NewUser || tk.User.Phone != phone {
			t.Fatalf("the owner's login: got %+v", tk)
		}
		for range 2 {
			e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/otp", "", otpBody(phone)), 200)
		}
		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/verify", "", verifyBody(phone, e.sms.code(t, phone))), 200)
	})
}

// TestLoginLimitsHoldAcrossNodes: an attacker spreading its tries and
// requests over two nodes gets no more than from one.
func TestLoginLimitsHoldAcrossNodes(t *testing.T) {
	vars := map[string]string{
		"KOROBKA_MYSQL_DSN":    chattest.MySQLDSN(t),
		"KOROBKA_REDIS_URL":    chattest.RedisURL(t),
		"KOROBKA_REDIS_PREFIX": chattest.RedisPrefix(t),
	}
	for k, v := range fromAddresses {
		vars[k] = v
	}
	nodeA, nodeB := newEnv(t, vars), newEnv(t, vars)
	const phone = "+79162220002"
	nodeA.want(nodeA.doFrom(ownerAddr, "POST", "/v1/auth/otp", "", otpBody(phone)), 200)
	nodeA.want(nodeA.doFrom(attackerAddr, "POST", "/v1/auth/otp", "", otpBody(phone)), 200)
	nodeB.want(nodeB.doFrom(attackerAddr, "POST", "/v1/auth/otp", "", otpBody(phone)), 200)
	nodeA.want(nodeA.doFrom(attackerAddr, "POST", "/v1/auth/otp", "", otpBody(phone)), 200)
	nodeB.wantErr(nodeB.doFrom(attackerTwin, "POST", "/v1/auth/otp", "", otpBody(phone)), 429, "rate_limited")
	for i := range chat.MaxCodeAttempts {
		node := []*env{nodeA, nodeB}[i%2]
		node.wantErr(node.doFrom(attackerAddr, "POST", "/v1/auth/verify", "", verifyBody(phone, "999999")), 400, "invalid_code")
	}
	nodeA.wantErr(nodeA.doFrom(attackerTwin, "POST", "/v1/auth/verify", "", verifyBody(phone, "999999")), 429, "too_many_attempts")
	nodeB.wantErr(nodeB.doFrom(attackerAddr, "POST", "/v1/auth/verify", "", verifyBody(phone, "999999")), 429, "too_many_attempts")
	// The owner's code is the newest one sent, by whichever node.
	for _, node := range []*env{nodeA, nodeB} {
		if r := node.doFrom(ownerAddr, "POST", "/v1/auth/verify", "", verifyBody(phone, node.sms.code(t, phone))); r.status == 200 {
			return
		}
	}
	t.Fatal("the owner could not log in with the newest code on either node")
}

// TestLoginAnswersRevealNothing: a wrong try at a number with no code, at
// one with a live code and at one whose code was used is answered alike,
// status, code, message and all, up to too_many_attempts.
func TestLoginAnswersRevealNothing(t *testing.T) {
	backendsWith(t, fromAddresses, func(t *testing.T, e *env) {
		const none, live, used = "+79163330001", "+79163330002", "+79163330003"
		for _, phone := range []string{live, used} {
			e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/otp", "", otpBody(phone)), 200)
		}
		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/verify", "", verifyBody(used, e.sms.code(t, used))), 200)
		var answers [][]string
		for i, phone := range []string{none, live, used} {
			guess := "000000"
			if phone != none {
				guess = wrongCode(e.sms.code(t, phone))
			}
			var got []string
			for range chat.MaxCodeAttempts + 1 {
				r := e.doFrom(fmt.Sprintf("203.0.113.%d", 20+i), "POST", "/v1/auth/verify", "", verifyBody(phone, guess))
				got = append(got, r.answer(t))
			}
			answers = append(answers, got)
		}
		for i, phone := range []string{live, used} {
			if fmt.Sprint(answers[i+1]) != fmt.Sprint(answers[0]) {
				t.Errorf("wrong tries at %s were answered\n%q\nbut at a number with no code\n%q", phone, answers[i+1], answers[0])
			}
		}
	})
}

// testClock is a clock for the in-process limiter that moves only when
// told.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestTooManyAttemptsSaysWhatToDo: the answer says to request a new code,
// and doing so works at once; Retry-After is real: a client that waits it
// out may try again.
func TestTooManyAttemptsSaysWhatToDo(t *testing.T) {
	spend := func(t *testing.T, e *env, phone string) (code string, r response) {
		t.Helper()
		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/otp", "", otpBody(phone)), 200)
		code = e.sms.code(t, phone)
		for range chat.MaxCodeAttempts {
			e.wantErr(e.doFrom(ownerAddr, "POST", "/v1/auth/verify", "", verifyBody(phone, wrongCode(code))), 400, "invalid_code")
		}
		r = e.doFrom(ownerAddr, "POST", "/v1/auth/verify", "", verifyBody(phone, code))
		e.wantErr(r, 429, "too_many_attempts")
		return code, r
	}
	backendsWith(t, fromAddresses, func(t *testing.T, e *env) {
		const phone = "+79164440001"
		_, r := spend(t, e, phone)
		if msg := r.answer(t); !strings.Contains(strings.ToLower(msg), "request a new code") {
			t.Errorf("too_many_attempts says %s, want it to say to request a new code", msg)
		}
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s <= 0 || s > 300 {
			t.Errorf("Retry-After %q, want seconds within a code's life", r.header.Get("Retry-After"))
		}
		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/otp", "", otpBody(phone)), 200)
		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/verify", "", verifyBody(phone, e.sms.code(t, phone))), 200)
	})
	t.Run("wait", func(t *testing.T) {
		clk := &testClock{t: time.Now()}
		e := newEnvConfig(t, fromAddresses, func(c *Config) { c.now = clk.Now })
		const phone = "+79164440002"
		code, r := spend(t, e, phone)
		s, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Duration(s) * time.Second)
		e.want(e.doFrom(ownerAddr, "POST", "/v1/auth/verify", "", verifyBody(phone, code)), 200)
	})
}

// TestSMSGoesOnlyWhereItShould: premium-rate, fixed-line, satellite and
// foreign numbers get no code unless their country is allowed, and never
// when they are not mobile numbers.
func TestSMSGoesOnlyWhereItShould(t *testing.T) {
	const premium, fixedLine, satellite, ukMobile = "+78091234567", "+73011234567", "+881612345678", "+447400123456"
	backends(t, func(t *testing.T, e *env) {
		for _, phone := range []string{premium, fixedLine, satellite, ukMobile} {
			e.wantErr(e.do("POST", "/v1/auth/otp", "", otpBody(phone)), 400, "unsupported_phone")
			e.wantErr(e.do("POST", "/v1/auth/verify", "", verifyBody(phone, "123456")), 400, "unsupported_phone")
		}
		if n := e.sms.count(); n != 0 {
			t.Fatalf("got %d SMS sent, want none", n)
		}
	})
	e := newEnv(t, map[string]string{"KOROBKA_SMS_COUNTRIES": "ru, gb"})
	e.want(e.do("POST", "/v1/auth/otp", "", otpBody(ukMobile)), 200)
	e.sentCode(ukMobile)
	for _, phone := range []string{premium, fixedLine, satellite} {
		e.wantErr(e.do("POST", "/v1/auth/otp", "", otpBody(phone)), 400, "unsupported_phone")
	}
}

// sentCode fails the test unless an SMS went to phone, and returns its
// code.
func (e *env) sentCode(phone string) string {
	e.t.Helper()
	return e.sms.code(e.t, phone)
}

// TestNumbersAreFoundWhereverTheLabelIs: one rule for login and contacts:
// the number is taken from the entry, the label may stand before or after.
func TestNumbersAreFoundWhereverTheLabelIs(t *testing.T) {
	e := newEnv(t, nil)
	r := e.want(e.do("POST", "/v1/auth/otp", "", otpBody("Мама +7 916 123-45-67")), 200)
	if got := r.field(t, "phone"); got != "+79161234567" {
		t.Fatalf("code request with a label in front: got phone %v", got)
	}
	r = e.want(e.do("POST", "/v1/auth/otp", "", otpBody("+7 916 765-43-21 (Мама)")), 200)
	if got := r.field(t, "phone"); got != "+79167654321" {
		t.Fatalf("code request with a label behind: got phone %v", got)
	}
	anna := e.loginTest("+79990000001", "111111")
	boris := e.loginTest("+79990000002", "222222")
	var synced struct {
		Users []struct{ ID string } `json:"users"`
	}
	e.want(e.do("POST", "/v1/contacts/sync", anna.AccessToken, map[string]any{"phones": []string{"+7 999 000-00-02 (Борис)"}}), 200).json(t, &synced)
	if len(synced.Users) != 1 || synced.Users[0].ID != boris.User.ID {
		t.Fatalf("sync of a number with a label behind: got %+v, want Boris", synced.Users)
	}
	e.want(e.do("POST", "/v1/contacts/sync", boris.AccessToken, map[string]any{"phone": "Анна: 8 999 000-00-01"}), 200).json(t, &synced)
	if len(synced.Users) != 1 || synced.Users[0].ID != anna.User.ID {
		t.Fatalf("adding a number with a label in front: got %+v, want Anna", synced.Users)
	}
}

// TestAddressBookIsNotAnOracle: new numbers per user per day are capped
// (a whole book at once, then 1,000 a day), known numbers are free, the
// book holds at most 10,000 numbers, and refusals store nothing.
func TestAddressBookIsNotAnOracle(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		anna := e.loginTest("+79990000001", "111111")
		boris := e.loginTest("+79990000002", "222222")
		book := make([]string, chat.MaxSyncPhones)
		for i := range book {
			book[i] = fmt.Sprintf("+7916%07d", i)
		}
		e.want(e.do("POST", "/v1/contacts/sync", anna.AccessToken, map[string]any{"phones": book}), 200)
		r := e.do("POST", "/v1/contacts/sync", anna.AccessToken, map[string]any{"phones": []string{"+79990000002", "+79170000000"}})
		e.wantErr(r, 429, "contacts_rate_limited")
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s <= 0 || s > 86400 {
			t.Fatalf("Retry-After %q, want seconds within a day", r.header.Get("Retry-After"))
		}
		if p := e.want(e.do("GET", "/v1/users/"+boris.User.ID, anna.AccessToken, nil), 200).field(t, "phone"); p != nil {
			t.Fatalf("a refused sync stored Boris's number: his profile shows %v", p)
		}
		// Known numbers are free.
		e.want(e.do("POST", "/v1/contacts/sync", anna.AccessToken, map[string]any{"phones": book}), 200)

		// A full book: filled to the cap behind the API's back.
		id, err := chat.ParseID(anna.User.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i := range book {
			book[i] = fmt.Sprintf("+7917%07d", i)
		}
		if _, err := e.app.store.SyncContacts(context.Background(), id, book); err != nil {
			t.Fatal(err)
		}
		e.wantErr(e.do("POST", "/v1/contacts/sync", anna.AccessToken, map[string]any{"phone": "+79990000002"}), 409, "address_book_full")
		e.want(e.do("POST", "/v1/contacts/sync", anna.AccessToken, map[string]any{"phones": book[:10]}), 200)
	})
}

// TestPresenceIsSharedWithConsent: opening a dialog or writing into it
// one way reveals nothing; partners who wrote to each other see each
// other; the profile setting takes it back, in events and profiles.
func TestPresenceIsSharedWithConsent(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b, id := e.pair()
		a1 := dial(t, e.url, a.AccessToken)
		b1 := dial(t, e.url, b.AccessToken)
		ofB := func(online bool) func(map[string]any) bool {
			return func(f map[string]any) bool {
				return f["type"] == "presence" && f["user_id"] == b.User.ID && f["online"] == online
			}
		}
		// Boris, online, writes first: Anna hears the message, not his
		// presence.
		b1.send(map[string]any{"type": "send", "id": "1", "dialog_id": id, "client_id": "b-1", "text": "hi"})
		a1.waitFor("Boris's message", messageWith("b-1"))
		a1.none("Boris's presence before both wrote", typed("presence"))
		r := e.want(e.do("GET", "/v1/users/"+b.User.ID, a.AccessToken, nil), 200)
		if r.field(t, "online") != nil || r.field(t, "last_seen") != nil {
			t.Fatalf("presence before both wrote: %s", r.body)
		}

		// Anna answers: now they share.
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", a.AccessToken, map[string]any{"client_id": "a-1", "text": "hello"}), 201)
		b1.close()
		a1.waitFor("Boris offline", ofB(false))
		b2 := dial(t, e.url, b.AccessToken)
		a1.waitFor("Boris online", ofB(true))
		if r := e.want(e.do("GET", "/v1/users/"+b.User.ID, a.AccessToken, nil), 200); r.field(t, "online") != true {
			t.Fatalf("presence once both wrote: %s", r.body)
		}

		// "contacts": Anna is not in Boris's book; she is told it is gone.
		me := e.want(e.do("PATCH", "/v1/me", b.AccessToken, map[string]any{"presence": "contacts"}), 200)
		if me.field(t, "presence") != "contacts" {
			t.Fatalf("PATCH /v1/me presence: got %s", me.body)
		}
		if f := a1.waitFor("Boris's presence taken back", ofB(false)); f["last_seen"] != nil {
			t.Fatalf("the frame taking presence back: got %v, want last_seen null", f)
		}
		if r := e.want(e.do("GET", "/v1/users/"+b.User.ID, a.AccessToken, nil), 200); r.field(t, "online") != nil {
			t.Fatalf("presence after Boris chose contacts: %s", r.body)
		}
		b2.close()
		if me := e.want(e.do("GET", "/v1/me", b.AccessToken, nil), 200); me.field(t, "presence") != "contacts" {
			t.Fatalf("GET /v1/me: got %s, want presence contacts", me.body)
		}
		e.wantErr(e.do("PATCH", "/v1/me", b.AccessToken, map[string]any{"presence": "friends"}), 400, "invalid_presence")
		// Boris's going offline is not announced to Anna any more: the
		// next frame she gets is the message after it.
		e.want(e.do("POST", "/v1/dialogs/"+id+"/messages", b.AccessToken, map[string]any{"client_id": "b-2", "text": "bye"}), 201)
		a1.waitFor("Boris's last message", messageWith("b-2"))
		a1.none("Boris's presence after he chose contacts", typed("presence"))
	})
}

// TestDangerousSettingsAreLoud: each setting that must not reach a public
// server is named in a warning at start.
func TestDangerousSettingsAreLoud(t *testing.T) {
	base := map[string]string{"KOROBKA_ADDR": "127.0.0.1:0", "KOROBKA_DATA": t.TempDir()}
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KOROBKA_DEV": "1"}, "KOROBKA_DEV"},
		{map[string]string{"KOROBKA_MYSQL_DSN": "u:p@tcp(db:3306)/k"}, "KOROBKA_SMS_PROVIDER"},
		{map[string]string{"KOROBKA_REDIS_URL": "redis://r:6379/0"}, "KOROBKA_SMS_PROVIDER"},
		{map[string]string{"KOROBKA_TEST_PHONES": "+79990000001:111111,+7999*:111111", "KOROBKA_LOOPBACK_UNLIMITED": "0"}, "KOROBKA_TEST_PHONES"},
		{map[string]string{"KOROBKA_LOOPBACK_UNLIMITED": "true"}, "KOROBKA_LOOPBACK_UNLIMITED"},
		{map[string]string{"KOROBKA_OUTBOUND_ALLOW": "127.0.0.1:8081"}, "KOROBKA_OUTBOUND_ALLOW"},
	}
	for _, c := range cases {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range c.env {
			env[k] = v
		}
		cfg, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		ws := cfg.warnings()
		if len(ws) != 1 || ws[0].setting != c.want || ws[0].why == "" {
			t.Errorf("%v: got warnings %+v, want one naming %s", c.env, ws, c.want)
		}
	}
	// A prefix turns the loopback exemption on by default (auto), and both
	// are named.
	env := map[string]string{"KOROBKA_TEST_PHONES": "+7999*:111111"}
	for k, v := range base {
		env[k] = v
	}
	cfg, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if ws := cfg.warnings(); len(ws) != 2 || ws[0].setting != "KOROBKA_TEST_PHONES" || ws[1].setting != "KOROBKA_LOOPBACK_UNLIMITED" || !cfg.LoopbackUnlimited {
		t.Errorf("a prefix with auto: got warnings %+v (loopback unlimited %v), want both settings named", ws, cfg.LoopbackUnlimited)
	}
	// Quiet settings stay quiet: a listed test number, the log sender on
	// the embedded storage, sms.ru in production.
	for _, env := range []map[string]string{
		{"KOROBKA_TEST_PHONES": "+79990000001:111111"},
		{"KOROBKA_MYSQL_DSN": "u:p@tcp(db:3306)/k", "KOROBKA_SMS_PROVIDER": "smsru", "KOROBKA_SMSRU_API_ID": "x"},
	} {
		for k, v := range base {
			env[k] = v
		}
		cfg, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if ws := cfg.warnings(); len(ws) != 0 {
			t.Errorf("%v: got warnings %+v, want none", env, ws)
		}
	}

	// serve logs them at WARN before it listens, each with its setting.
	env = map[string]string{"KOROBKA_ADDR": freeAddr(t), "KOROBKA_DATA": t.TempDir(), "KOROBKA_LOG_FORMAT": "json",
		"KOROBKA_DEV": "1", "KOROBKA_TEST_PHONES": "+7999*:111111", "KOROBKA_LOOPBACK_UNLIMITED": "1", "KOROBKA_OUTBOUND_ALLOW": "127.0.0.1:8081"}
	var log syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"korobka", "serve"}, func(k string) string { return env[k] }, io.Discard, &log)
	}()
	waitHealthy(t, "http://"+env["KOROBKA_ADDR"], done)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	warned := map[string]bool{}
	for _, line := range bytes.Split(log.Bytes(), []byte("\n")) {
		var rec struct{ Level, Msg, Setting string }
		if json.Unmarshal(line, &rec) == nil && rec.Level == "WARN" && strings.HasPrefix(rec.Msg, rec.Setting+": ") {
			warned[rec.Setting] = true
		}
	}
	for _, s := range []string{"KOROBKA_DEV", "KOROBKA_TEST_PHONES", "KOROBKA_LOOPBACK_UNLIMITED", "KOROBKA_OUTBOUND_ALLOW"} {
		if !warned[s] {
			t.Errorf("serve did not warn about %s; its log:\n%s", s, log.Bytes())
		}
	}
}

// befriend puts each user's number in the other's address book: with the
// default setting they then see each other's presence.
func (e *env) befriend(a, b tokens) {
	e.t.Helper()
	e.want(e.do("POST", "/v1/contacts/sync", a.AccessToken, map[string]any{"phone": b.User.Phone}), 200)
	e.want(e.do("POST", "/v1/contacts/sync", b.AccessToken, map[string]any{"phone": a.User.Phone}), 200)
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}
