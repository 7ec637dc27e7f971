package ws

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/korobka/korobka/chat"
)

// Client frame types of the shell contract.
const (
	typeSend      = "send"
	typeDelivered = "delivered"
	typeRead      = "read"
	typeTyping    = "typing"
	typeSync      = "sync"
	typeWatch     = "watch"
	typeAuth      = "auth"
	typeState     = "state"
)

// maxIDLen caps the request id a client may have echoed back: ids are
// correlation tokens, not payloads.
const maxIDLen = 128

// Errors of malformed frames. The connection stays open after each: a
// shell with a bug in one frame type can still chat.
var (
	errInvalidJSON = &chat.Error{Kind: chat.KindInvalid, Code: "invalid_json", Message: "A frame must be a JSON object."}
	errUnknownType = &chat.Error{Kind: chat.KindInvalid, Code: "unknown_type", Message: "Unknown frame type."}
	errRateLimited = &chat.Error{Kind: chat.KindRateLimited, Code: "rate_limited", Message: "Too many frames; slow down."}
	errUnavailable = &chat.Error{Kind: chat.KindUnavailable, Code: "unavailable", Message: "Try again later."}
	errOtherUser   = &chat.Error{Kind: chat.KindUnauthorized, Code: "invalid_token", Message: "The token belongs to another user."}
)

func invalidFrame(msg string) *chat.Error {
	return &chat.Error{Kind: chat.KindInvalid, Code: "invalid_frame", Message: msg}
}

// wireRequest is a client frame as sent. Fields of every type share one
// struct so a frame is decoded once; unknown fields are ignored so newer
// shells can add them.
type wireRequest struct {
	Type        string           `json:"type"`
	ID          json.RawMessage  `json:"id"`
	DialogID    string           `json:"dialog_id"`
	Seq         int64            `json:"seq"`
	ClientID    string           `json:"client_id"`
	Text        string           `json:"text"`
	Attachments json.RawMessage  `json:"attachments"`
	Preview     *bool            `json:"preview"`
	ReplyTo     int64            `json:"reply_to"`
	Entities    json.RawMessage  `json:"entities"`
	Dialogs     map[string]int64 `json:"dialogs"`
	Since       map[string]int64 `json:"since"`
	AccessToken string           `json:"access_token"`
	State       string           `json:"state"`
}

// request is a validated client frame.
type request struct {
	Type     string
	ID       json.RawMessage // a JSON string or number, echoed in the answer; nil when absent or unusable
	DialogID int64           // delivered, read, typing
	Seq      int64           // delivered, read
	Send     chat.SendRequest
	Sync     chat.SyncRequest // sync: dialog -> last seq held, or change cursor
	Frame    []byte           // watch: the whole frame, which the Patcher reads
	Token    string           // auth: the fresh access token
	// Foreground is a state frame's report: the app is on screen.
	Foreground bool
}

// parseRequest decodes and validates one client frame. On error, the
// request still carries the frame's id when it had a usable one, so the
// error frame can name the request it answers.
func parseRequest(data []byte) (request, *chat.Error) {
	var w wireRequest
	err := json.Unmarshal(data, &w)
	var req request
	req.ID = validID(w.ID)
	if err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return req, invalidFrame("A frame must be a JSON object.")
			}
			return req, invalidFrame("Field " + te.Field + " has the wrong type.")
		}
		return req, errInvalidJSON
	}
	req.Type = w.Type
	if len(w.ID) > 0 && req.ID == nil {
		return req, invalidFrame("id must be a string or a number.")
	}
	switch w.Type {
	case "":
		return req, invalidFrame("A frame needs a type.")
	case typeSend:
		if req.ID == nil {
			return req, invalidFrame("send needs an id.")
		}
		if req.DialogID, err = chat.ParseID(w.DialogID); err != nil {
			return req, invalidFrame("dialog_id must be a dialog id.")
		}
		if w.ClientID == "" {
			return req, invalidFrame("send needs a client_id.")
		}
		att := bytes.TrimSpace(w.Attachments)
		if bytes.Equal(att, []byte("null")) {
			att = nil
		}
		if len(att) > 0 && att[0] != '[' {
			return req, invalidFrame("attachments must be an array.")
		}
		req.Send = chat.SendRequest{DialogID: req.DialogID, ClientID: w.ClientID, Text: w.Text, Attachments: att,
			NoPreview: w.Preview != nil && !*w.Preview,
			ReplyTo:   w.ReplyTo, Entities: w.Entities}
	case typeDelivered, typeRead:
		if req.DialogID, err = chat.ParseID(w.DialogID); err != nil {
			return req, invalidFrame("dialog_id must be a dialog id.")
		}
		if w.Seq <= 0 {
			return req, invalidFrame("seq must be a positive integer.")
		}
		req.Seq = w.Seq
	case typeTyping:
		if req.DialogID, err = chat.ParseID(w.DialogID); err != nil {
			return req, invalidFrame("dialog_id must be a dialog id.")
		}
	case typeSync:
		if req.ID == nil {
			return req, invalidFrame("sync needs an id.")
		}
		if len(w.Dialogs)+len(w.Since) > chat.MaxSyncDialogs {
			return req, chat.ErrTooManyDialogs
		}
		var ferr *chat.Error
		if req.Sync.Seqs, ferr = syncMap(w.Dialogs, "dialogs", "seqs"); ferr != nil {
			return req, ferr
		}
		if req.Sync.Since, ferr = syncMap(w.Since, "since", "change cursors"); ferr != nil {
			return req, ferr
		}
		for id := range req.Sync.Since {
			if _, ok := req.Sync.Seqs[id]; ok {
				return req, invalidFrame("A dialog is in dialogs or in since, not both.")
			}
		}
	case typeWatch:
		req.Frame = data
	case typeAuth:
		if req.ID == nil {
			return req, invalidFrame("auth needs an id.")
		}
		if w.AccessToken == "" || len(w.AccessToken) > 256 {
			return req, invalidFrame("auth needs an access_token.")
		}
		req.Token = w.AccessToken
	case typeState:
		switch w.State {
		case "foreground":
			req.Foreground = true
		case "background":
		default:
			return req, invalidFrame(`state is "foreground" or "background".`)
		}
	default:
		return req, errUnknownType
	}
	return req, nil
}

// syncMap reads one of a sync frame's maps of dialog id to a number.
func syncMap(m map[string]int64, field, what string) (map[int64]int64, *chat.Error) {
	out := make(map[int64]int64, len(m))
	for k, n := range m {
		id, err := chat.ParseID(k)
		if err != nil {
			return nil, invalidFrame(field + " keys must be dialog ids.")
		}
		if n < 0 {
			return nil, invalidFrame(field + " values must be " + what + ", 0 or more.")
		}
		out[id] = n
	}
	return out, nil
}

// validID returns raw if it is a JSON string or number short enough to
// echo, else nil.
func validID(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || len(raw) > maxIDLen {
		return nil
	}
	switch c := raw[0]; {
	case c == '"', c == '-', c >= '0' && c <= '9':
		return raw
	}
	return nil
}

// peekID finds a frame's id without validating the rest, for answering a
// frame that is refused before it is parsed.
func peekID(data []byte) json.RawMessage {
	var w struct {
		ID json.RawMessage `json:"id"`
	}
	json.Unmarshal(data, &w)
	return validID(w.ID)
}

// Server frames.
type (
	messageFrame struct {
		Type    string            `json:"type"`
		Message *chat.MessageView `json:"message"`
	}
	sendReply struct {
		Type    string            `json:"type"`
		ID      json.RawMessage   `json:"id"`
		Message *chat.MessageView `json:"message"`
	}
	watchReply struct {
		Type   string          `json:"type"`
		ID     json.RawMessage `json:"id"`
		Screen string          `json:"screen,omitempty"`
		Live   []string        `json:"live"`
	}
	authReply struct {
		Type      string          `json:"type"`
		ID        json.RawMessage `json:"id"`
		ExpiresIn int             `json:"expires_in"` // seconds the adopted token lives
	}
	syncReply struct {
		Type   string           `json:"type"`
		ID     json.RawMessage  `json:"id"`
		Synced map[string]int64 `json:"synced"`
		Since  map[string]int64 `json:"since,omitempty"`
		More   bool             `json:"more"`
	}
)
