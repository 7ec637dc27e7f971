// Package wire is what the two transports of the shell contract (the REST
// surface in chat/httpapi and the WebSocket gateway in chat/ws) share of
// its error form: one table from chat error kinds to HTTP statuses, one
// writer of HTTP error answers and one encoder of WebSocket error frames.
// Keeping them here means a new error kind or header is added once and
// both transports answer it the same way (docs/api.md, "Errors").
package wire

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/korobka/korobka/chat"
)

// ErrorBody is the contract's error answer:
// {"error":{"code":"snake_case","message":"human text"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an error answer. RetryAfter, in whole
// seconds, is set on WebSocket error frames of rate-limited requests (and
// of unavailable ones that know when to come back); HTTP
// answers carry it as the Retry-After header instead.
type ErrorDetail struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	RetryAfter int    `json:"retry_after,omitempty"`
	// Path points (RFC 6901) at the value of the request an invalid
	// answer is about, when there is one (chat.Error.Path).
	Path string `json:"path,omitempty"`
}

// Status is the one table from error kinds to HTTP statuses, used by the
// REST surface and the WebSocket handshake alike.
func Status(k chat.Kind) int {
	switch k {
	case chat.KindInvalid:
		return http.StatusBadRequest
	case chat.KindUnauthorized:
		return http.StatusUnauthorized
	case chat.KindForbidden:
		return http.StatusForbidden
	case chat.KindNotFound:
		return http.StatusNotFound
	case chat.KindMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case chat.KindConflict:
		return http.StatusConflict
	case chat.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case chat.KindUnsupported:
		return http.StatusUnsupportedMediaType
	case chat.KindRateLimited:
		return http.StatusTooManyRequests
	case chat.KindUnavailable:
		return http.StatusServiceUnavailable
	case chat.KindTimeout:
		return http.StatusRequestTimeout
	}
	return http.StatusInternalServerError
}

// ServerFault reports whether err is the server's fault (5xx), the errors
// that are logged with their cause; the client's own faults are only
// answered.
func ServerFault(err error) bool {
	return Status(chat.ErrorOf(err).Kind) >= 500
}

// RetryAfter rounds a wait up to whole seconds, at least one, as the
// Retry-After header (RFC 9110, 10.2.3) and the frames' retry_after carry
// it.
func RetryAfter(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}

// safe returns what of err a client may see: its code and message, except
// for internal errors, whose text may name what failed inside and is never
// sent.
func safe(err error) *chat.Error {
	e := chat.ErrorOf(err)
	if e.Kind == chat.KindInternal {
		return &chat.Error{Kind: chat.KindInternal, Code: "internal", Message: "Internal error."}
	}
	return e
}

// WriteError answers err as an HTTP error in the contract's shape and
// returns the status written. Only the error's code and safe message are
// sent; its cause stays on the server. A 429 carries Retry-After, a 401
// WWW-Authenticate.
func WriteError(w http.ResponseWriter, err error) int {
	return WriteErrorIn(w, err, "en")
}

// WriteErrorFor is WriteError with the message in the language of r's
// Accept-Language (ErrorLang); the code is the same in every language.
func WriteErrorFor(w http.ResponseWriter, r *http.Request, err error) int {
	w.Header().Add("Vary", "Accept-Language")
	return WriteErrorIn(w, err, ErrorLang(r.Header.Get("Accept-Language")))
}

// WriteErrorIn is WriteError with the message in lang ("en", "ru").
func WriteErrorIn(w http.ResponseWriter, err error, lang string) int {
	e := safe(err)
	status := Status(e.Kind)
	h := w.Header()
	switch e.Kind {
	case chat.KindRateLimited:
		h.Set("Retry-After", strconv.Itoa(RetryAfter(e.RetryAfter)))
	case chat.KindUnavailable:
		// A 503 may say when to come back (RFC 9110, 15.6.4).
		if e.RetryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(RetryAfter(e.RetryAfter)))
		}
	case chat.KindUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="korobka"`)
	}
	h.Set("Content-Language", lang)
	body, merr := json.Marshal(ErrorBody{Error: ErrorDetail{Code: e.Code, Message: localMessage(e, lang), Path: e.Path}})
	if merr != nil {
		body = []byte(`{"error":{"code":"internal","message":"Internal error."}}`)
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
	return status
}

// errorFrame is the WebSocket form of an error: {"type":"error","id"?,
// "error":{...}}; id names the request it answers.
type errorFrame struct {
	Type  string          `json:"type"`
	ID    json.RawMessage `json:"id,omitempty"`
	Error ErrorDetail     `json:"error"`
}

// ErrorFrame encodes err as a WebSocket error frame answering the request
// with the id (nil: none). A rate-limited error carries retry_after.
func ErrorFrame(id json.RawMessage, err error) []byte {
	return ErrorFrameIn(id, err, "en")
}

// ErrorFrameIn is ErrorFrame with the message in lang ("en", "ru"): a
// connection's errors follow the Accept-Language of its handshake.
func ErrorFrameIn(id json.RawMessage, err error, lang string) []byte {
	e := safe(err)
	d := ErrorDetail{Code: e.Code, Message: localMessage(e, lang)}
	if e.Kind == chat.KindRateLimited || e.Kind == chat.KindUnavailable && e.RetryAfter > 0 {
		d.RetryAfter = RetryAfter(e.RetryAfter)
	}
	b, merr := json.Marshal(errorFrame{Type: "error", ID: id, Error: d})
	if merr != nil {
		// Only an id that is not JSON can fail, and ids are validated
		// when read; still, the client gets an error frame.
		return []byte(`{"type":"error","error":{"code":"internal","message":"Internal error."}}`)
	}
	return b
}

// BearerToken reads the token of an Authorization header of the Bearer
// scheme (RFC 6750, 2.1; the scheme name is case-insensitive). ok is false
// when the header is absent, of another scheme or empty.
func BearerToken(header string) (token string, ok bool) {
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
