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
)

// maxIDLen caps the request id a client may have echoed back: ids are
// correlation tokens, not payloads.
const maxIDLen = 128

// Bounds of a watch frame. The renderer checks names and values for real;
// these only keep a hostile frame from costing more than a screen request.
const (
	maxScreenLen   = 64
	maxWatchParams = 16
	maxParamLen    = 256
	maxLangLen     = 256
	maxShellLen    = 1024
)

// Errors of malformed frames. The connection stays open after each: a
// shell with a bug in one frame type can still chat.
var (
	errInvalidJSON = &chat.Error{Kind: chat.KindInvalid, Code: "invalid_json", Message: "A frame must be a JSON object."}
	errUnknownType = &chat.Error{Kind: chat.KindInvalid, Code: "unknown_type", Message: "Unknown frame type."}
	errRateLimited = &chat.Error{Kind: chat.KindRateLimited, Code: "rate_limited", Message: "Too many frames; slow down."}
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
	Dialogs     map[string]int64 `json:"dialogs"`
	// watch
	Screen string            `json:"screen"`
	Params map[string]string `json:"params"`
	Lang   string            `json:"lang"`
	Theme  string            `json:"theme"`
	Shell  string            `json:"shell"`
}

// request is a validated client frame.
type request struct {
	Type     string
	ID       json.RawMessage // a JSON string or number, echoed in the answer; nil when absent or unusable
	DialogID int64           // delivered, read, typing
	Seq      int64           // delivered, read
	Send     chat.SendRequest
	Have     map[int64]int64 // sync: dialog -> last seq held
	Watch    WatchRequest    // watch; an empty Screen clears the watch
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
		req.Send = chat.SendRequest{DialogID: req.DialogID, ClientID: w.ClientID, Text: w.Text, Attachments: att}
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
		req.Have = make(map[int64]int64, len(w.Dialogs))
		for k, seq := range w.Dialogs {
			id, err := chat.ParseID(k)
			if err != nil {
				return req, invalidFrame("dialogs keys must be dialog ids.")
			}
			if seq < 0 {
				return req, invalidFrame("dialogs values must be seqs, 0 or more.")
			}
			req.Have[id] = seq
		}
	case typeWatch:
		if len(w.Screen) > maxScreenLen {
			return req, invalidFrame("screen is too long.")
		}
		if len(w.Params) > maxWatchParams {
			return req, invalidFrame("Too many params.")
		}
		for k, v := range w.Params {
			if len(k) > maxParamLen || len(v) > maxParamLen {
				return req, invalidFrame("A param is too long.")
			}
		}
		if len(w.Lang) > maxLangLen || len(w.Shell) > maxShellLen {
			return req, invalidFrame("lang or shell is too long.")
		}
		req.Watch = WatchRequest{Screen: w.Screen, Params: w.Params, Lang: w.Lang, Theme: w.Theme, Shell: w.Shell}
	default:
		return req, errUnknownType
	}
	return req, nil
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
	errorFrame struct {
		Type  string          `json:"type"`
		ID    json.RawMessage `json:"id,omitempty"`
		Error errorDetail     `json:"error"`
	}
	errorBody struct {
		Error errorDetail `json:"error"`
	}
	errorDetail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
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
	syncReply struct {
		Type   string           `json:"type"`
		ID     json.RawMessage  `json:"id"`
		Synced map[string]int64 `json:"synced"`
		More   bool             `json:"more"`
	}
)

// encodeError marshals an error frame. It cannot fail in practice (the id
// was validated as JSON when the frame was read); if it did, the client
// still gets an error frame, without the id.
func encodeError(id json.RawMessage, e *chat.Error) []byte {
	b, err := json.Marshal(errorFrame{Type: "error", ID: id, Error: errorDetail{Code: e.Code, Message: e.Message}})
	if err != nil {
		return []byte(`{"type":"error","error":{"code":"internal","message":"Internal error."}}`)
	}
	return b
}
