package loadgen

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/wire"
)

// Outgoing frames are appended by hand into a reused buffer: the generator
// shares two cores with the server, and encoding/json's reflection would
// spend on every send CPU the server should get.

// sendFrame holds the parts of a send frame that never change for one
// sender in one dialog, encoded once, so a send is a handful of appends.
type sendFrame struct {
	head   []byte // {"type":"send","dialog_id":"D","client_id":"PREFIX
	filler []byte // text padding up to BodySize
}

// newSendFrame prepares the sends into dialogID whose client_ids are
// prefix followed by the message's number on this link (see
// clientIDPrefix); prefix must need no JSON escaping.
func newSendFrame(dialogID, prefix string, bodySize int) sendFrame {
	head := []byte(`{"type":"send","dialog_id":`)
	head = appendJSONString(head, dialogID)
	head = append(head, `,"client_id":"`...)
	head = append(head, prefix...)
	filler := make([]byte, bodySize)
	for i := range filler {
		filler[i] = 'x'
	}
	return sendFrame{head: head, filler: filler}
}

// clientIDPrefix is the client_id prefix of a sender's messages on its
// k-th sending link: "RUN-K-". A client_id must be unique per sender, and
// numbering each link's messages from 0 lets the receiver keep one small
// bitset per dialog.
func clientIDPrefix(run string, k int) string {
	return run + "-" + strconv.Itoa(k) + "-"
}

// append adds the frame for the n-th message on this link with request id
// reqID, stamped with the sending time (nanoseconds since the run's
// monotonic base) at the start of the text so the receiver can measure
// latency without any shared state.
func (f *sendFrame) append(b []byte, n, reqID uint64, stamp int64) []byte {
	b = append(b, f.head...)
	b = strconv.AppendUint(b, n, 10)
	b = append(b, `","id":"`...)
	b = strconv.AppendUint(b, reqID, 10)
	b = append(b, `","text":"`...)
	start := len(b)
	b = strconv.AppendInt(b, stamp, 10)
	b = append(b, ':')
	if pad := len(f.filler) - (len(b) - start); pad > 0 {
		b = append(b, f.filler[:pad]...)
	}
	return append(b, `"}`...)
}

// appendReceipt adds a receipt; head is receiptHead's, encoded once per
// link.
func appendReceipt(b, head []byte, seq int64) []byte {
	b = append(b, head...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, '}')
}

// receiptHead is {"type":"KIND","dialog_id":"D","seq": for kind
// "delivered" or "read".
func receiptHead(kind, dialogID string) []byte {
	b := []byte(`{"type":"` + kind + `","dialog_id":`)
	b = appendJSONString(b, dialogID)
	return append(b, `,"seq":`...)
}

// appendJSONString quotes s through encoding/json: ids are opaque and this
// runs once per client, not per message.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// Incoming frames are decoded once each with encoding/json into the
// server's own frame types: chat.EventFrame for events (the one decoder of
// server events) with the gateway's reply and error fields beside it.
// BenchmarkDecodeMessageFrame measures what this costs the generator.

type frameKind uint8

const (
	kindOther frameKind = iota
	kindReply
	kindMessage
	kindError
)

// serverFrame is any frame the server sends: an event, or a reply or an
// error answering one of the client's requests.
type serverFrame struct {
	chat.EventFrame
	ID    json.RawMessage   `json:"id"`
	Error *wire.ErrorDetail `json:"error"`
	More  bool              `json:"more"` // a sync reply's
}

// inFrame is what the generator needs from a server frame.
type inFrame struct {
	kind    frameKind
	id      json.RawMessage
	errCode string
	msg     *chat.MessageView // a message event's, or a send reply's
	more    bool              // a sync reply's
}

// decodeFrame fills f from one JSON frame.
func decodeFrame(b []byte, f *inFrame) error {
	var w serverFrame
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*f = inFrame{id: w.ID, more: w.More}
	switch w.Type {
	case "reply":
		f.kind, f.msg = kindReply, w.Message
	case "error":
		f.kind = kindError
		if w.Error != nil {
			f.errCode = w.Error.Code
		}
	default:
		e, err := w.Event()
		if errors.Is(err, chat.ErrNotEvent) {
			return nil // a patch, or a type this generator does not read
		}
		if err != nil {
			return err
		}
		if e.Type == chat.EventMessage {
			f.kind, f.msg = kindMessage, e.Message
		}
	}
	return nil
}

// parseInt parses a non-negative decimal without converting to a string,
// which strconv would need (and allocate) for a []byte.
func parseInt(b string) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseStamp reads the send time a text starts with ("<nanos>:...").
func parseStamp(text string) (int64, bool) {
	i := strings.IndexByte(text, ':')
	if i < 0 {
		return 0, false
	}
	return parseInt(text[:i])
}

// parseClientID reads N from "PREFIX" + "N" and reports whether the id has
// the expected prefix (this run's, from the expected sender link), so
// messages left over from another run or another tool are not counted.
func parseClientID(id string, prefix string) (uint64, bool) {
	if prefix == "" || len(id) <= len(prefix) || id[:len(prefix)] != prefix {
		return 0, false
	}
	n, ok := parseInt(id[len(prefix):])
	return uint64(n), ok
}
