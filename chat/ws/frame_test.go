package ws

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/wire"
)

// FuzzFrame feeds arbitrary bytes to the frame parser: it must never
// panic, must answer with one of the contract's codes, and what it
// accepts must be valid for its type.
func FuzzFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","id":"1","dialog_id":"42","client_id":"c","text":"hi","attachments":[]}`,
		`{"type":"send","id":1,"dialog_id":"42","client_id":"c","text":"hi","attachments":null}`,
		`{"type":"delivered","dialog_id":"42","seq":3}`,
		`{"type":"read","dialog_id":"42","seq":3,"id":"r"}`,
		`{"type":"typing","dialog_id":"42"}`,
		`{"type":"sync","id":"s","dialogs":{"42":3,"7":0}}`,
		`{"type":"sync","id":"s","dialogs":{"42":3},"since":{"7":12}}`,
		`{"type":"read","dialog_id":"42","seq":1.5}`,
		`{"type":"watch","id":"w","screen":"chat","params":{"dialog_id":"17"},"lang":"ru","theme":"dark","shell":"web/1 (components: composer@1)"}`,
		`{"type":"watch"}`, `{"type":"watch","params":{"a":1}}`,
		`{"type":"x"}`, `[]`, `null`, `"s"`, `{`, ``, `{"id":{"a":1}}`,
		`{"type":"send","id":"` + string(make([]byte, 200)) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseRequest(data)
		if req.ID != nil {
			if len(req.ID) > maxIDLen || !json.Valid(req.ID) {
				t.Fatalf("unusable id %q accepted", req.ID)
			}
		}
		// The error frame for any outcome must be valid JSON.
		if err != nil {
			switch err.Code {
			case "invalid_json", "invalid_frame", "unknown_type", "too_many_dialogs":
			default:
				t.Fatalf("code %q", err.Code)
			}
			if !json.Valid(wire.ErrorFrame(req.ID, err)) {
				t.Fatalf("error frame for %q is not JSON", data)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		switch req.Type {
		case typeSend:
			if req.ID == nil || req.Send.DialogID <= 0 || req.Send.DialogID != req.DialogID || req.Send.ClientID == "" {
				t.Fatalf("accepted send %+v", req)
			}
			if a := req.Send.Attachments; len(a) > 0 && (a[0] != '[' || !json.Valid(a)) {
				t.Fatalf("accepted attachments %q", a)
			}
		case typeDelivered, typeRead:
			if req.DialogID <= 0 || req.Seq <= 0 {
				t.Fatalf("accepted receipt %+v", req)
			}
		case typeTyping:
			if req.DialogID <= 0 {
				t.Fatalf("accepted typing %+v", req)
			}
		case typeSync:
			if req.ID == nil || req.Sync.Seqs == nil || req.Sync.Since == nil || len(req.Sync.Seqs)+len(req.Sync.Since) > chat.MaxSyncDialogs {
				t.Fatalf("accepted sync %+v", req)
			}
			for d, seq := range req.Sync.Seqs {
				if _, both := req.Sync.Since[d]; d <= 0 || seq < 0 || both {
					t.Fatalf("accepted sync entry %d:%d", d, seq)
				}
			}
			for d, c := range req.Sync.Since {
				if d <= 0 || c < 0 {
					t.Fatalf("accepted sync cursor %d:%d", d, c)
				}
			}
		case typeWatch:
			// The Patcher reads and bounds the watch frame (chat/live).
			if !bytes.Equal(req.Frame, data) {
				t.Fatalf("watch frame %q passed on as %q", data, req.Frame)
			}
		default:
			t.Fatalf("accepted type %q", req.Type)
		}
	})
}
