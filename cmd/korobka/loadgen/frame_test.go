package loadgen

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/korobka/korobka/chat"
)

const messageFrame = `{"type":"message","message":{"id":"42.1234","dialog_id":"42","seq":1234,` +
	`"sender_id":"7","client_id":"a1b2c3d4e5f6-99","text":"1234567890123:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",` +
	`"attachments":[],"created_at":"2025-01-02T03:04:05.678Z","status":"sent"}}`

func TestDecodeFrame(t *testing.T) {
	tests := []struct {
		name, in         string
		kind             frameKind
		id, code         string
		dialog, text     string
		sender, clientID string
		seq              int64
		hasMsg           bool
	}{
		{name: "message", in: messageFrame, kind: kindMessage, dialog: "42", sender: "7",
			clientID: "a1b2c3d4e5f6-99", text: "1234567890123:" + strings.Repeat("x", 82), seq: 1234, hasMsg: true},
		{name: "reply, type last", in: `{"id":"5","message":{"attachments":[{"a":"}]\""}],"seq":3,"text":"1:x","dialog_id":"9"},"type":"reply"}`,
			kind: kindReply, id: `"5"`, dialog: "9", text: "1:x", seq: 3, hasMsg: true},
		{name: "error with id", in: `{"type":"error","id":"9","error":{"code":"rate_limited","message":"slow down","retry_after":1}}`,
			kind: kindError, id: `"9"`, code: "rate_limited"},
		{name: "error without id", in: ` { "type" : "error" , "error" : { "message" : "x" , "code" : "invalid_frame" } } `,
			kind: kindError, code: "invalid_frame"},
		{name: "escaped text", in: `{"type":"message","message":{"id":"1.1","text":"7:a\"b\u00e9","seq":1}}`,
			kind: kindMessage, text: "7:a\"b\u00e9", seq: 1, hasMsg: true},
		{name: "null message", in: `{"type":"reply","id":"1","message":null}`, kind: kindReply, id: `"1"`},
		{name: "other event", in: `{"type":"presence","user_id":"1","online":true,"last_seen":null}`, kind: kindOther},
		{name: "patch", in: `{"type":"patch","screen":"chat:1","ops":[]}`, kind: kindOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f inFrame
			if err := decodeFrame([]byte(tt.in), &f); err != nil {
				t.Fatal(err)
			}
			var m chat.MessageView
			if f.msg != nil {
				m = *f.msg
			}
			got := []string{string(f.id), f.errCode, m.DialogID, m.Text, m.SenderID, m.ClientID}
			want := []string{tt.id, tt.code, tt.dialog, tt.text, tt.sender, tt.clientID}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("field %d: got %q, want %q", i, got[i], want[i])
				}
			}
			if f.kind != tt.kind || m.Seq != tt.seq || (f.msg != nil) != tt.hasMsg {
				t.Errorf("got kind %d seq %d message %v, want %d %d %v", f.kind, m.Seq, f.msg != nil, tt.kind, tt.seq, tt.hasMsg)
			}
		})
	}
	for _, bad := range []string{``, `{`, `[]`, `{"type":"reply"`, `{"type":"reply"}x`, `{"type":reply}`,
		`{"type":"message","message":{"seq":"x"}}`, `{"type":"message"}`, `{"type":"status","dialog_id":"+1","user_id":"2"}`, `{"a":"b"c}`} {
		var f inFrame
		if err := decodeFrame([]byte(bad), &f); err == nil {
			t.Errorf("decodeFrame(%q): got no error, want one", bad)
		}
	}
}

// TestDecodeFrameReadsTheServersEvents: what the server encodes is what the
// generator reads, field for field.
func TestDecodeFrameReadsTheServersEvents(t *testing.T) {
	m := chat.MessageView{ID: "42.7", DialogID: "42", Seq: 7, SenderID: "3", ClientID: "run-7", Text: "99:x",
		Attachments: json.RawMessage("[]"), Status: chat.StatusSent}
	var f inFrame
	if err := decodeFrame(chat.EncodeEvent(chat.Event{Type: chat.EventMessage, Message: &m}), &f); err != nil {
		t.Fatal(err)
	}
	if f.kind != kindMessage || f.msg == nil || f.msg.ID != m.ID || f.msg.Seq != 7 || f.msg.ClientID != "run-7" || f.msg.Text != "99:x" {
		t.Errorf("got %+v %+v, want the message event", f, f.msg)
	}
	if err := decodeFrame(chat.EncodeEvent(chat.Event{Type: chat.EventStatus, DialogID: 42, UserID: 3, DeliveredSeq: 7}), &f); err != nil || f.kind != kindOther {
		t.Errorf("status event: got %+v, %v; want another kind", f, err)
	}
}

// FuzzDecodeFrame checks the decoder never panics and that a message it
// accepts carries a parseable message id.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(messageFrame))
	f.Add([]byte(`{"type":"reply","id":"5","message":{"seq":3,"text":"1:x"}}`))
	f.Add([]byte(`{"type":"error","id":"9","error":{"code":"rate_limited"}}`))
	f.Add([]byte(`{"type":"message","message":{"id":"1.1","text":"\u0041\"","seq":1,"x":[1,{"y":"]"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr inFrame
		if decodeFrame(b, &fr) != nil {
			return
		}
		if fr.kind == kindMessage && fr.msg == nil {
			t.Fatalf("message frame %q without a message", b)
		}
	})
}

func TestSendFrame(t *testing.T) {
	prefix := clientIDPrefix("run1", 3)
	sf := newSendFrame(`d"1`, prefix, 100)
	b := sf.append(nil, 42, 7, 1234567)
	var got struct {
		Type, ID, Text     string
		DialogID, ClientID string
	}
	if err := json.Unmarshal(b, &struct {
		Type     *string `json:"type"`
		ID       *string `json:"id"`
		Text     *string `json:"text"`
		DialogID *string `json:"dialog_id"`
		ClientID *string `json:"client_id"`
	}{&got.Type, &got.ID, &got.Text, &got.DialogID, &got.ClientID}); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.Type != "send" || got.ID != "7" || got.DialogID != `d"1` || got.ClientID != "run1-3-42" || len(got.Text) != 100 {
		t.Errorf("got %+v (text %d bytes), want send 7 d\"1 run1-3-42 100 bytes", got, len(got.Text))
	}
	if stamp, ok := parseStamp(got.Text); !ok || stamp != 1234567 {
		t.Errorf("stamp: got %d %v, want 1234567", stamp, ok)
	}
	if n, ok := parseClientID(got.ClientID, prefix); !ok || n != 42 {
		t.Errorf("client id: got %d %v, want 42", n, ok)
	}
	for _, other := range []string{"run2-3-42", "run1-4-42", "run1-3-", "run1-3-x", "run1-34-2"} {
		if _, ok := parseClientID(other, prefix); ok {
			t.Errorf("parseClientID accepted %q, another run's or link's id", other)
		}
	}
	if _, ok := parseClientID("run1-3-42", ""); ok {
		t.Error("parseClientID accepted an id for a link whose peer never sends")
	}
	// A body smaller than the stamp still carries the stamp.
	small := newSendFrame("d", "r", 1)
	if err := json.Unmarshal(small.append(nil, 1, 1, 99), &got); err != nil || !strings.HasPrefix(got.Text, "99:") {
		t.Errorf("tiny body: got %q, %v", got.Text, err)
	}
	d := appendReceipt(nil, receiptHead("delivered", "d9"), 77)
	if string(d) != `{"type":"delivered","dialog_id":"d9","seq":77}` {
		t.Errorf("got %s", d)
	}
	d = appendReceipt(nil, receiptHead("read", "d9"), 78)
	if string(d) != `{"type":"read","dialog_id":"d9","seq":78}` {
		t.Errorf("got %s", d)
	}
}

func TestSeqSet(t *testing.T) {
	var s seqSet
	for _, seq := range []int64{10000, 10002, 10001, 5, 10003, 10005} {
		if s.add(seq) {
			t.Fatalf("add(%d) reported a repeat", seq)
		}
	}
	if !s.add(10002) || !s.add(5) {
		t.Error("a repeated seq was not reported")
	}
	// Seen 5 and 10000..10005 minus 10004: the hole between them counts.
	if got, want := s.gaps(), int64(10005-5+1-6); got != want {
		t.Errorf("got %d gaps, want %d", got, want)
	}
	// A dialog whose last seq before the run was 40: losing 41 and 42,
	// the run's first messages, leaves a gap of 2.
	var fresh seqSet
	fresh.startAfter(40)
	if fresh.gaps() != 0 {
		t.Errorf("got %d gaps before any seq, want 0", fresh.gaps())
	}
	for _, seq := range []int64{44, 43} {
		fresh.add(seq)
	}
	if got := fresh.gaps(); got != 2 {
		t.Errorf("got %d gaps after 40 with 43..44 seen, want 2", got)
	}
	var b bitset
	if b.add(130) || !b.add(130) || b.add(0) {
		t.Error("bitset add")
	}
}

// BenchmarkDecodeMessageFrame is what reading one message event costs the
// generator, which shares the machine with the server it measures.
func BenchmarkDecodeMessageFrame(b *testing.B) {
	frame := []byte(messageFrame)
	var f inFrame
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := decodeFrame(frame, &f); err != nil || f.msg.Seq != 1234 {
			b.Fatal(err)
		}
	}
}
