package loadgen

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Outgoing frames are appended by hand into a reused buffer: the generator
// shares two cores with the server, and encoding/json's reflection would
// spend on every send CPU the server should get.

// sendFrame holds the parts of a send frame that never change for one
// sender, encoded once, so a send is a handful of appends.
type sendFrame struct {
	head   []byte // {"type":"send","dialog_id":"D","client_id":"RUN.
	filler []byte // text padding up to BodySize
}

func newSendFrame(dialogID, run string, bodySize int) sendFrame {
	head := []byte(`{"type":"send","dialog_id":`)
	head = appendJSONString(head, dialogID)
	head = append(head, `,"client_id":"`...)
	head = append(head, run...)
	head = append(head, '-')
	filler := make([]byte, bodySize)
	for i := range filler {
		filler[i] = 'x'
	}
	return sendFrame{head: head, filler: filler}
}

// append adds the frame for the sender's n-th message, stamped with the
// sending time (nanoseconds since the run's monotonic base) at the start of
// the text so the receiver can measure latency without any shared state.
// run is alphanumeric, so client_id needs no escaping.
func (f *sendFrame) append(b []byte, n uint64, stamp int64) []byte {
	b = append(b, f.head...)
	b = strconv.AppendUint(b, n, 10)
	b = append(b, `","id":"`...)
	b = strconv.AppendUint(b, n, 10)
	b = append(b, `","text":"`...)
	start := len(b)
	b = strconv.AppendInt(b, stamp, 10)
	b = append(b, ':')
	if pad := len(f.filler) - (len(b) - start); pad > 0 {
		b = append(b, f.filler[:pad]...)
	}
	return append(b, `"}`...)
}

// appendDelivered adds a delivered receipt; head is
// {"type":"delivered","dialog_id":"D","seq": encoded once per client.
func appendDelivered(b, head []byte, seq int64) []byte {
	b = append(b, head...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, '}')
}

func deliveredHead(dialogID string) []byte {
	b := []byte(`{"type":"delivered","dialog_id":`)
	b = appendJSONString(b, dialogID)
	return append(b, `,"seq":`...)
}

// appendJSONString quotes s through encoding/json: ids are opaque and this
// runs once per client, not per message.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// Incoming frames are scanned by hand: BenchmarkDecodeMessageFrame measured
// the scanner at about 200 ns and no allocation for a 300-byte message
// event, against about 1,950 ns and 14 allocations for json.Unmarshal into
// a minimal struct, and every client decodes every frame it gets.

type frameKind uint8

const (
	kindOther frameKind = iota
	kindReply
	kindMessage
	kindError
)

// inFrame is what the generator needs from a server frame. Byte slices
// point into the read buffer (or into scratch when a string had escapes)
// and are valid until the next decode.
type inFrame struct {
	kind    frameKind
	id      []byte
	errCode []byte
	hasMsg  bool
	msg     msgFields
	scratch []byte
}

type msgFields struct {
	dialogID, senderID, clientID, text []byte
	seq                                int64
}

var errSyntax = errors.New("malformed frame")

// decodeFrame fills f from one JSON frame. It understands the fields the
// generator uses and skips everything else, whatever its order.
func decodeFrame(b []byte, f *inFrame) error {
	*f = inFrame{scratch: f.scratch[:0]}
	var typ []byte
	i, err := scanObject(b, skipWS(b, 0), func(key []byte, i int) (int, error) {
		switch string(key) {
		case "type":
			var err error
			typ, i, err = f.scalar(b, i)
			return i, err
		case "id":
			var err error
			f.id, i, err = f.scalar(b, i)
			return i, err
		case "message":
			if i < len(b) && b[i] == 'n' {
				return skipValue(b, i)
			}
			f.hasMsg = true
			return scanObject(b, i, f.msgField(b))
		case "error":
			if i < len(b) && b[i] == 'n' {
				return skipValue(b, i)
			}
			return scanObject(b, i, func(key []byte, i int) (int, error) {
				if string(key) == "code" {
					var err error
					f.errCode, i, err = f.scalar(b, i)
					return i, err
				}
				return skipValue(b, i)
			})
		}
		return skipValue(b, i)
	})
	if err != nil {
		return err
	}
	if skipWS(b, i) != len(b) {
		return errSyntax
	}
	switch string(typ) {
	case "reply":
		f.kind = kindReply
	case "message":
		f.kind = kindMessage
	case "error":
		f.kind = kindError
	}
	return nil
}

func (f *inFrame) msgField(b []byte) func(key []byte, i int) (int, error) {
	return func(key []byte, i int) (int, error) {
		var err error
		switch string(key) {
		case "dialog_id":
			f.msg.dialogID, i, err = f.scalar(b, i)
		case "sender_id":
			f.msg.senderID, i, err = f.scalar(b, i)
		case "client_id":
			f.msg.clientID, i, err = f.scalar(b, i)
		case "text":
			f.msg.text, i, err = f.scalar(b, i)
		case "seq":
			var v []byte
			v, i, err = f.scalar(b, i)
			if err == nil {
				var ok bool
				if f.msg.seq, ok = parseInt(v); !ok {
					err = errSyntax
				}
			}
		default:
			i, err = skipValue(b, i)
		}
		return i, err
	}
}

// scalar returns a string's contents or a number's or literal's text. A
// string with escapes is unquoted into scratch through encoding/json, which
// is slow but never happens for the ids and texts the generator sends.
func (f *inFrame) scalar(b []byte, i int) ([]byte, int, error) {
	if i < len(b) && b[i] == '"' {
		end, escaped, err := scanString(b, i)
		if err != nil {
			return nil, 0, err
		}
		if !escaped {
			return b[i+1 : end-1], end, nil
		}
		var s string
		if err := json.Unmarshal(b[i:end], &s); err != nil {
			return nil, 0, errSyntax
		}
		start := len(f.scratch)
		f.scratch = append(f.scratch, s...)
		return f.scratch[start:len(f.scratch):len(f.scratch)], end, nil
	}
	end, err := skipValue(b, i)
	if err != nil {
		return nil, 0, err
	}
	v := b[i:end]
	if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
		return nil, 0, errSyntax
	}
	return v, end, nil
}

// scanObject walks the object starting at b[i], calling field with each
// key and the index of its value; field returns the index after the value.
func scanObject(b []byte, i int, field func(key []byte, i int) (int, error)) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return 0, errSyntax
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errSyntax
		}
		end, escaped, err := scanString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : end-1]
		if escaped {
			key = nil // no key the generator reads is ever escaped
		}
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, errSyntax
		}
		if i, err = field(key, skipWS(b, i+1)); err != nil {
			return 0, err
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return 0, errSyntax
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errSyntax
		}
	}
}

// scanString returns the index after the closing quote of the string
// starting at b[i], and whether it holds escapes.
func scanString(b []byte, i int) (int, bool, error) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, escaped, nil
		case c == '\\':
			escaped = true
			j++
		case c < 0x20:
			return 0, false, errSyntax
		}
	}
	return 0, false, errSyntax
}

// skipValue returns the index after the value starting at b[i]. Nested
// objects and arrays are matched by depth, not validated in full: the
// server is trusted to send JSON, and the scanner only must not be fooled
// by brackets or quotes inside strings.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errSyntax
	}
	switch b[i] {
	case '"':
		end, _, err := scanString(b, i)
		return end, err
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _, err := scanString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errSyntax
	}
	j := i
	for j < len(b) {
		c := b[j]
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			break
		}
		if c == '"' || c == '{' || c == '[' || c == ':' {
			return 0, errSyntax
		}
		j++
	}
	switch tok := string(b[i:j]); {
	case tok == "true" || tok == "false" || tok == "null":
	case tok != "" && (tok[0] == '-' || tok[0] >= '0' && tok[0] <= '9'):
	default:
		return 0, errSyntax
	}
	return j, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// parseInt parses a non-negative decimal without converting to a string,
// which strconv would need (and allocate) for a []byte.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseStamp reads the send time a text starts with ("<nanos>:...").
func parseStamp(text []byte) (int64, bool) {
	for i, c := range text {
		if c == ':' {
			return parseInt(text[:i])
		}
	}
	return 0, false
}

// parseClientID splits "RUN.N" and reports whether RUN is this run's, so
// messages left over from another run or another tool are not counted.
func parseClientID(id []byte, run string) (uint64, bool) {
	if len(id) <= len(run)+1 || string(id[:len(run)]) != run || id[len(run)] != '-' {
		return 0, false
	}
	n, ok := parseInt(id[len(run)+1:])
	return uint64(n), ok
}
