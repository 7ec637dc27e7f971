package loadgen

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeServer implements just the part of the shell contract the generator
// uses: test-number login, get-or-create direct dialogs, and a WebSocket
// that stores sends with a seq per dialog, replies to the sender and
// delivers a message event to the other member. It can inject one
// duplicate delivery, one seq gap, one swallowed send and one lost
// delivery to prove the generator notices, and it counts what it stored
// per dialog and per sender so tests can check the traffic's shape.
type fakeServer struct {
	URL  string
	code string

	dupAt int64 // the n-th message overall is delivered twice; 0 = never
	gapAt int64 // the n-th message overall skips a seq; 0 = never

	rejectEvery int64 // every n-th send is refused with rate_limited; 0 = never
	dropAt      int64 // the n-th send is swallowed: no reply, no event; 0 = never
	loseAt      int64 // the n-th message is stored and acked but its first receiver never gets it; 0 = never
	loseInGroup bool  // loseAt counts group messages only
	failOTP     int64 // every n-th code request answers 500, as a deadlock would; 0 = never; 1 = all

	// pingEvery > 0 pings every connection that often and drops one that
	// has answered nothing for three intervals, as the server does (at
	// 30 s and 60 s); dialDelay slows every handshake, to make setup long.
	pingEvery, dialDelay time.Duration

	mu        sync.Mutex
	users     map[string]string // phone -> user id
	tokens    map[string]string // token -> user id
	dialogs   map[string]*fakeDialog
	conns     map[string]*fakeConn // user id -> its one connection
	pending   map[string][]any     // user id -> events sent before it connected
	msgs      int64
	groupMsgs int64
	attempts  int64
	otps      int64
	// requested holds the numbers whose code was asked for and not yet
	// used: verify needs one, as on the real server.
	requested map[string]bool

	history   map[string][]fakeMessage // dialog id -> messages stored, for sync
	syncs     atomic.Int64
	opened    map[string]int   // user id -> dialogs opened (the server allows a burst of 30)
	perDialog map[string]int64 // dialog id -> messages stored
	perSender map[string]int64 // user id -> messages stored

	stored     atomic.Int64
	deliveries atomic.Int64 // message events handed to members, injected duplicates included
	receipts   atomic.Int64
	reads      atomic.Int64
	rejected   atomic.Int64
	otpFailed  atomic.Int64
	up         websocket.Upgrader
}

// fakeDialogBurst is how many dialogs one user may open, as the server's
// limit on opening dialogs allows at once.
const fakeDialogBurst = 30

type fakeDialog struct {
	id      string
	members []string // a direct dialog's two, sorted; a group's owner first
	group   bool
	seq     int64
}

type fakeConn struct {
	mu sync.Mutex
	c  *websocket.Conn
}

func (fc *fakeConn) write(v any) {
	b, _ := json.Marshal(v)
	fc.mu.Lock()
	defer fc.mu.Unlock()
	_ = fc.c.WriteMessage(websocket.TextMessage, b)
}

func newFakeServer(t *testing.T, dupAt, gapAt int64) *fakeServer {
	t.Helper()
	f := &fakeServer{
		code: "111111", dupAt: dupAt, gapAt: gapAt,
		users: map[string]string{}, tokens: map[string]string{}, requested: map[string]bool{},
		dialogs: map[string]*fakeDialog{}, conns: map[string]*fakeConn{}, pending: map[string][]any{},
		perDialog: map[string]int64{}, perSender: map[string]int64{}, opened: map[string]int{},
		history: map[string][]fakeMessage{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/auth/otp", f.requestCode)
	mux.HandleFunc("POST /v1/auth/verify", f.verify)
	mux.HandleFunc("POST /v1/dialogs", f.openDialog)
	mux.HandleFunc("GET /v1/ws", f.ws)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func writeError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": code}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// requestCode is POST /v1/auth/otp for test numbers: it stores nothing but
// that the code was asked for, as verify needs.
func (f *fakeServer) requestCode(w http.ResponseWriter, r *http.Request) {
	var in struct{ Phone string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !strings.HasPrefix(in.Phone, "+7999") || len(in.Phone) != 12 {
		writeError(w, 400, "invalid_phone")
		return
	}
	f.mu.Lock()
	f.otps++
	if f.failOTP > 0 && f.otps%f.failOTP == 0 {
		f.mu.Unlock()
		f.otpFailed.Add(1)
		writeError(w, 500, "internal")
		return
	}
	f.requested[in.Phone] = true
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"phone": in.Phone, "expires_in": 300, "code_length": 6})
}

func (f *fakeServer) verify(w http.ResponseWriter, r *http.Request) {
	var in struct{ Phone, Code string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !strings.HasPrefix(in.Phone, "+7999") || len(in.Phone) != 12 {
		writeError(w, 400, "invalid_phone")
		return
	}
	f.mu.Lock()
	requested := f.requested[in.Phone]
	delete(f.requested, in.Phone)
	f.mu.Unlock()
	if in.Code != f.code || !requested {
		writeError(w, 400, "invalid_code")
		return
	}
	f.mu.Lock()
	id, ok := f.users[in.Phone]
	if !ok {
		id = "u" + strconv.Itoa(len(f.users)+1)
		f.users[in.Phone] = id
	}
	token := "t" + strconv.Itoa(len(f.tokens)+1)
	f.tokens[token] = id
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"access_token": token, "refresh_token": "r" + token, "expires_in": 900,
		"user": map[string]string{"id": id, "first_name": "", "last_name": "", "avatar_url": ""},
	})
}

// counts returns copies of the per-dialog and per-sender stored counts.
func (f *fakeServer) counts() (perDialog, perSender map[string]int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.perDialog), maps.Clone(f.perSender)
}

// dialogID returns the id of the dialog between two users, or "".
func (f *fakeServer) dialogID(a, b string) string {
	if a > b {
		a, b = b, a
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.dialogs[a+"|"+b]; d != nil {
		return d.id
	}
	return ""
}

// userID returns the id of the user with phone, or "".
func (f *fakeServer) userID(phone string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.users[phone]
}

func (f *fakeServer) auth(r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		token = r.URL.Query().Get("access_token")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.tokens[token]
	return id, ok
}

func (f *fakeServer) openDialog(w http.ResponseWriter, r *http.Request) {
	me, ok := f.auth(r)
	if !ok {
		writeError(w, 401, "unauthorized")
		return
	}
	var in struct {
		UserID    string   `json:"user_id"`
		Kind      string   `json:"kind"`
		Title     string   `json:"title"`
		MemberIDs []string `json:"member_ids"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, 400, "invalid_json")
		return
	}
	if in.Kind == "group" {
		f.createGroup(w, me, in.Title, in.MemberIDs)
		return
	}
	if in.UserID == "" || in.UserID == me {
		writeError(w, 400, "invalid_user")
		return
	}
	pair := []string{me, in.UserID}
	if pair[0] > pair[1] {
		pair[0], pair[1] = pair[1], pair[0]
	}
	key := pair[0] + "|" + pair[1]
	f.mu.Lock()
	if f.opened[me]++; f.opened[me] > fakeDialogBurst {
		f.mu.Unlock()
		writeError(w, 429, "rate_limited")
		return
	}
	d, existed := f.dialogs[key]
	if !existed {
		d = &fakeDialog{id: "d" + strconv.Itoa(len(f.dialogs)+1), members: pair}
		f.dialogs[key] = d
		f.dialogs[d.id] = d
	}
	var last any // the dialog's last message, as the server shows it
	if d.seq > 0 {
		last = map[string]any{"dialog_id": d.id, "seq": d.seq}
	}
	f.mu.Unlock()
	status := 201
	if existed {
		status = 200
	}
	writeJSON(w, status, map[string]any{"id": d.id, "kind": "direct", "title": "", "unread": 0, "last_message": last})
}

// createGroup makes a group owned by me. As on the server, its "created"
// system message takes seq 1, so the generator's seqs start after it.
func (f *fakeServer) createGroup(w http.ResponseWriter, me, title string, memberIDs []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	known := map[string]bool{}
	for _, id := range f.users {
		known[id] = true
	}
	members := []string{me}
	for _, id := range memberIDs {
		if !known[id] || slices.Contains(members, id) {
			writeError(w, 400, "invalid_members")
			return
		}
		members = append(members, id)
	}
	if title == "" || len(members) < 2 {
		writeError(w, 400, "invalid_members")
		return
	}
	if f.opened[me]++; f.opened[me] > fakeDialogBurst {
		writeError(w, 429, "rate_limited")
		return
	}
	d := &fakeDialog{id: "g" + strconv.Itoa(len(f.dialogs)+1), members: members, group: true, seq: 1}
	f.dialogs[d.id] = d
	f.dialogs["group|"+d.id] = d // keeps the ids of later dialogs distinct
	writeJSON(w, 201, map[string]any{"id": d.id, "kind": "group", "title": title, "unread": 0,
		"last_message": map[string]any{"dialog_id": d.id, "seq": d.seq, "text": "", "system": map[string]any{"type": "created"}}})
}

type fakeMessage struct {
	ID          string          `json:"id"`
	DialogID    string          `json:"dialog_id"`
	Seq         int64           `json:"seq"`
	SenderID    string          `json:"sender_id"`
	ClientID    string          `json:"client_id"`
	Text        string          `json:"text"`
	Attachments json.RawMessage `json:"attachments"`
	CreatedAt   time.Time       `json:"created_at"`
	Status      string          `json:"status"`
}

func (f *fakeServer) ws(w http.ResponseWriter, r *http.Request) {
	me, ok := f.auth(r)
	if !ok {
		writeError(w, 401, "unauthorized")
		return
	}
	time.Sleep(f.dialDelay)
	c, err := f.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	if f.pingEvery > 0 {
		stop := f.keepAlive(c)
		defer stop()
	}
	alive := func() {
		if f.pingEvery > 0 {
			_ = c.SetReadDeadline(time.Now().Add(3 * f.pingEvery))
		}
	}
	// The client may send before this handler registers its peer (the
	// handshake completes inside Upgrade), so events for a user without
	// a connection wait for it, as a real server's would for sync.
	fc := &fakeConn{c: c}
	f.mu.Lock()
	f.conns[me] = fc
	pending := f.pending[me]
	delete(f.pending, me)
	for _, ev := range pending {
		fc.write(ev)
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		if f.conns[me] == fc { // not a newer connection of the user's
			delete(f.conns, me)
		}
		f.mu.Unlock()
		c.Close()
	}()
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			return
		}
		alive() // any frame counts as an answer, as on the server
		var in struct {
			Type, ID string
			DialogID string `json:"dialog_id"`
			ClientID string `json:"client_id"`
			Text     string
			Seq      int64
			Dialogs  map[string]int64
		}
		if err := json.Unmarshal(b, &in); err != nil {
			fc.write(map[string]any{"type": "error", "error": map[string]string{"code": "invalid_frame", "message": "bad json"}})
			continue
		}
		switch in.Type {
		case "send":
			f.send(me, fc, in.ID, in.DialogID, in.ClientID, in.Text)
		case "delivered":
			f.receipts.Add(1)
		case "read":
			f.reads.Add(1)
		case "sync":
			f.sync(me, fc, in.ID, in.Dialogs)
		default:
			fc.write(map[string]any{"type": "error", "id": in.ID, "error": map[string]string{"code": "unknown_type", "message": in.Type}})
		}
	}
}

// keepAlive pings c every pingEvery and sets its read deadline so that a
// connection that answers nothing (no pong, no frame) for three intervals
// is dropped.
func (f *fakeServer) keepAlive(c *websocket.Conn) (stop func()) {
	wait := 3 * f.pingEvery
	_ = c.SetReadDeadline(time.Now().Add(wait))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(wait)) })
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(f.pingEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = c.WriteControl(websocket.PingMessage, nil, time.Now().Add(f.pingEvery))
			}
		}
	}()
	return func() { close(done) }
}

func (f *fakeServer) send(me string, fc *fakeConn, reqID, dialogID, clientID, text string) {
	f.mu.Lock()
	d, ok := f.dialogs[dialogID]
	if !ok || d.id != dialogID || !slices.Contains(d.members, me) {
		f.mu.Unlock()
		fc.write(map[string]any{"type": "error", "id": reqID, "error": map[string]string{"code": "not_found", "message": "no dialog"}})
		return
	}
	f.attempts++
	if f.attempts == f.dropAt {
		f.mu.Unlock()
		return
	}
	if f.rejectEvery > 0 && f.attempts%f.rejectEvery == 0 {
		f.mu.Unlock()
		f.rejected.Add(1)
		fc.write(map[string]any{"type": "error", "id": reqID, "error": map[string]string{"code": "rate_limited", "message": "slow down"}})
		return
	}
	f.msgs++
	n := f.msgs
	lose := n == f.loseAt
	if f.loseInGroup {
		lose = false
		if d.group {
			f.groupMsgs++
			lose = f.groupMsgs == f.loseAt
		}
	}
	f.perDialog[d.id]++
	f.perSender[me]++
	d.seq++
	if n == f.gapAt {
		d.seq++
	}
	m := fakeMessage{
		ID: "m" + strconv.FormatInt(n, 10), DialogID: d.id, Seq: d.seq, SenderID: me,
		ClientID: clientID, Text: text, Attachments: json.RawMessage(`[]`),
		CreatedAt: time.Now().UTC(), Status: "sent",
	}
	f.history[d.id] = append(f.history[d.id], m)
	ev := map[string]any{"type": "message", "message": m}
	// Every other member gets the event; the injected loss and duplicate
	// hit the first of them only.
	var live []*fakeConn
	first := true
	for _, peer := range d.members {
		if peer == me {
			continue
		}
		times := 1
		switch {
		case first && lose:
			times = 0
		case first && n == f.dupAt:
			times = 2
		}
		first = false
		f.deliveries.Add(int64(times))
		for range times {
			if pc := f.conns[peer]; pc != nil {
				live = append(live, pc)
			} else {
				f.pending[peer] = append(f.pending[peer], ev)
			}
		}
	}
	f.mu.Unlock()
	f.stored.Add(1)
	fc.write(map[string]any{"type": "reply", "id": reqID, "message": m})
	for _, pc := range live {
		pc.write(ev)
	}
}

// sync replays, as the server does, the other members' messages after the
// seq asked in each of the caller's dialogs, then replies.
func (f *fakeServer) sync(me string, fc *fakeConn, reqID string, dialogs map[string]int64) {
	f.syncs.Add(1)
	f.mu.Lock()
	var replay []fakeMessage
	synced := map[string]int64{}
	for id, after := range dialogs {
		d := f.dialogs[id]
		if d == nil || !slices.Contains(d.members, me) {
			continue
		}
		for _, m := range f.history[id] {
			if m.Seq > after && m.SenderID != me {
				replay = append(replay, m)
			}
		}
		synced[id] = d.seq
	}
	f.mu.Unlock()
	for _, m := range replay {
		fc.write(map[string]any{"type": "message", "message": m})
	}
	fc.write(map[string]any{"type": "reply", "id": reqID, "synced": synced, "more": false})
}
