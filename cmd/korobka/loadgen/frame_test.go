package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsonFrame is the encoding/json alternative to decodeFrame: the oracle the
// scanner is checked against and the baseline of its benchmark.
type jsonFrame struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Message *struct {
		DialogID string `json:"dialog_id"`
		Seq      int64  `json:"seq"`
		SenderID string `json:"sender_id"`
		ClientID string `json:"client_id"`
		Text     string `json:"text"`
	} `json:"message"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

const messageFrame = `{"type":"message","message":{"id":"m17","dialog_id":"d42","seq":1234,` +
	`"sender_id":"u7","client_id":"a1b2c3d4e5f6.99","text":"1234567890123:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",` +
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
		{name: "message", in: messageFrame, kind: kindMessage, dialog: "d42", sender: "u7",
			clientID: "a1b2c3d4e5f6.99", text: "1234567890123:" + strings.Repeat("x", 82), seq: 1234, hasMsg: true},
		{name: "reply, type last, nested junk", in: `{"id":"5","message":{"attachments":[{"a":"}]\""}],"seq":3,"text":"1:x","dialog_id":"d"},"type":"reply"}`,
			kind: kindReply, id: "5", dialog: "d", text: "1:x", seq: 3, hasMsg: true},
		{name: "error with id", in: `{"type":"error","id":"9","error":{"code":"rate_limited","message":"slow down"}}`,
			kind: kindError, id: "9", code: "rate_limited"},
		{name: "error without id", in: ` { "type" : "error" , "error" : { "message" : "x" , "code" : "invalid_frame" } } `,
			kind: kindError, code: "invalid_frame"},
		{name: "escaped text", in: `{"type":"message","message":{"text":"7:a\"b\u00e9","seq":1}}`,
			kind: kindMessage, text: "7:a\"b\u00e9", seq: 1, hasMsg: true},
		{name: "numeric ids", in: `{"type":"message","message":{"dialog_id":12,"sender_id":3,"seq":2}}`,
			kind: kindMessage, dialog: "12", sender: "3", seq: 2, hasMsg: true},
		{name: "null message", in: `{"type":"reply","id":"1","message":null}`, kind: kindReply, id: "1"},
		{name: "other event", in: `{"type":"presence","user_id":"u1","online":true,"last_seen":null}`, kind: kindOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f inFrame
			if err := decodeFrame([]byte(tt.in), &f); err != nil {
				t.Fatal(err)
			}
			got := []string{string(f.id), string(f.errCode), string(f.msg.dialogID), string(f.msg.text), string(f.msg.senderID), string(f.msg.clientID)}
			want := []string{tt.id, tt.code, tt.dialog, tt.text, tt.sender, tt.clientID}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("field %d: got %q, want %q", i, got[i], want[i])
				}
			}
			if f.kind != tt.kind || f.msg.seq != tt.seq || f.hasMsg != tt.hasMsg {
				t.Errorf("got kind %d seq %d hasMsg %v, want %d %d %v", f.kind, f.msg.seq, f.hasMsg, tt.kind, tt.seq, tt.hasMsg)
			}
		})
	}
	for _, bad := range []string{``, `{`, `[]`, `{"type":"reply"`, `{"type":"reply"}x`, `{"type":reply}`,
		`{"type":"message","message":{"seq":-1}}`, `{"type":"message","message":{"seq":"x"}}`, `{"a":"b"c}`} {
		var f inFrame
		if err := decodeFrame([]byte(bad), &f); err == nil {
			t.Errorf("decodeFrame(%q): got no error, want one", bad)
		}
	}
}

// FuzzDecodeFrame checks the scanner never panics and agrees with
// encoding/json on every frame both accept. The oracle decodes into maps,
// since struct decoding matches keys case-insensitively and the server's
// keys are exact.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(messageFrame))
	f.Add([]byte(`{"type":"reply","id":"5","message":{"seq":3,"text":"1:x"}}`))
	f.Add([]byte(`{"type":"error","id":"9","error":{"code":"rate_limited"}}`))
	f.Add([]byte(`{"type":"message","message":{"text":"\u0041\"","seq":1,"x":[1,{"y":"]"}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr inFrame
		if decodeFrame(b, &fr) != nil || !utf8.Valid(b) {
			return
		}
		var top map[string]any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if dec.Decode(&top) != nil || dec.More() {
			return // the scanner is lenient about JSON it does not read
		}
		typ, _ := top["type"].(string)
		if typ == "message" && fr.kind != kindMessage || typ == "reply" && fr.kind != kindReply || typ == "error" && fr.kind != kindError {
			t.Fatalf("kind: scanner %d, json %q", fr.kind, typ)
		}
		m, _ := top["message"].(map[string]any)
		if m == nil {
			return
		}
		if s, ok := m["text"].(string); ok && s != string(fr.msg.text) {
			t.Fatalf("text: scanner %q, json %q", fr.msg.text, s)
		}
		if s, ok := m["client_id"].(string); ok && s != string(fr.msg.clientID) {
			t.Fatalf("client_id: scanner %q, json %q", fr.msg.clientID, s)
		}
		if n, ok := m["seq"].(json.Number); ok {
			if v, err := n.Int64(); err == nil && v != fr.msg.seq {
				t.Fatalf("seq: scanner %d, json %d", fr.msg.seq, v)
			}
		}
	})
}

func TestSendFrame(t *testing.T) {
	sf := newSendFrame(`d"1`, "run1", 100)
	b := sf.append(nil, 42, 1234567)
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
	if got.Type != "send" || got.ID != "42" || got.DialogID != `d"1` || got.ClientID != "run1-42" || len(got.Text) != 100 {
		t.Errorf("got %+v (text %d bytes), want send 42 d\"1 run1-42 100 bytes", got, len(got.Text))
	}
	if stamp, ok := parseStamp([]byte(got.Text)); !ok || stamp != 1234567 {
		t.Errorf("stamp: got %d %v, want 1234567", stamp, ok)
	}
	if n, ok := parseClientID([]byte(got.ClientID), "run1"); !ok || n != 42 {
		t.Errorf("client id: got %d %v, want 42", n, ok)
	}
	if _, ok := parseClientID([]byte("run2.42"), "run1"); ok {
		t.Error("parseClientID accepted another run's id")
	}
	// A body smaller than the stamp still carries the stamp.
	small := newSendFrame("d", "r", 1)
	if err := json.Unmarshal(small.append(nil, 1, 99), &got); err != nil || !strings.HasPrefix(got.Text, "99:") {
		t.Errorf("tiny body: got %q, %v", got.Text, err)
	}
	d := appendDelivered(nil, deliveredHead("d9"), 77)
	if string(d) != `{"type":"delivered","dialog_id":"d9","seq":77}` {
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
	var b bitset
	if b.add(130) || !b.add(130) || b.add(0) {
		t.Error("bitset add")
	}
}

func BenchmarkDecodeMessageFrame(b *testing.B) {
	frame := []byte(messageFrame)
	b.Run("scan", func(b *testing.B) {
		var f inFrame
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if err := decodeFrame(frame, &f); err != nil || f.msg.seq != 1234 {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			var f jsonFrame
			if err := json.Unmarshal(frame, &f); err != nil || f.Message.Seq != 1234 {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendSendFrame(b *testing.B) {
	sf := newSendFrame("d42", "a1b2c3d4e5f6", 100)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	var n uint64
	for b.Loop() {
		n++
		buf = sf.append(buf[:0], n, 1234567890123)
	}
	if !bytes.HasSuffix(buf, []byte(`"}`)) {
		b.Fatal("bad frame")
	}
}
