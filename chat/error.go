package chat

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error for the transports: one table in chat/wire maps
// each kind to an HTTP status, and both the REST surface and the WebSocket
// gateway answer through it. Keeping the kind beside the code lets new codes appear without
// touching that table.
type Kind int

// Kinds of failure a client can be told about. Internal is the zero value so
// that an unclassified error is never reported as the client's fault.
const (
	KindInternal         Kind = iota
	KindInvalid               // 400: the request is malformed or breaks a rule
	KindUnauthorized          // 401: no token, or a dead one
	KindForbidden             // 403: the caller may not do this
	KindNotFound              // 404
	KindConflict              // 409
	KindTooLarge              // 413: the body is over its cap
	KindUnsupported           // 415: media type not accepted
	KindRateLimited           // 429: try again after RetryAfter
	KindUnavailable           // 503: a dependency does not answer
	KindMethodNotAllowed      // 405: the route does not take the method
	KindTimeout               // 408: the request did not arrive in time
)

// Error is the one error type that crosses the service boundary. Code is a
// stable snake_case identifier shells may switch on; Message is safe to show
// to a user. Internal details never go into either: they are logged once
// where they happen and wrapped as Err.
type Error struct {
	Kind       Kind
	Code       string
	Message    string
	RetryAfter time.Duration // for KindRateLimited, and KindUnavailable when the wait is known
	// Path is a JSON Pointer (RFC 6901) into the request body at the
	// value the error is about ("/price"), when there is one: a content
	// document or a form that fails its collection's schema.
	Path string
	Err  error // the cause, never sent to clients
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common errors returned by stores and compared with errors.Is by callers.
var (
	ErrNotFound = &Error{Kind: KindNotFound, Code: "not_found", Message: "Not found."}
	ErrConflict = &Error{Kind: KindConflict, Code: "conflict", Message: "Already exists."}
)

// Is makes errors.Is(err, ErrNotFound) hold for any not_found error of the
// same code, so stores may return their own wrapped copies.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Code == e.Code
}

// ErrorOf returns the *Error in err's chain, or an internal error wrapping
// err when there is none.
func ErrorOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindInternal, Code: "internal", Message: "Internal error.", Err: err}
}

// Token errors. Both are 401: the client must log in again.
var (
	ErrInvalidToken = &Error{Kind: KindUnauthorized, Code: "invalid_token", Message: "The token is unknown, expired or revoked."}
	ErrTokenReused  = &Error{Kind: KindUnauthorized, Code: "token_reused", Message: "This refresh token was already used; the session has been ended."}
)
