package renderer

import (
	"errors"
	"fmt"
	"sort"
)

// Diagnostic is one lint finding, positioned so editors and CI logs can jump
// to it.
type Diagnostic struct {
	File    string
	Line    int
	Col     int
	Message string
}

// String formats the diagnostic as "file:line:col: message", the format
// compilers use, so editors link it.
func (d Diagnostic) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Message)
}

type diags struct{ list []Diagnostic }

func (d *diags) add(file string, line, col int, format string, args ...any) {
	if line < 1 {
		line = 1
	}
	if col < 1 {
		col = 1
	}
	d.list = append(d.list, Diagnostic{File: file, Line: line, Col: col, Message: fmt.Sprintf(format, args...)})
}

func (d *diags) sorted() []Diagnostic {
	sort.SliceStable(d.list, func(i, j int) bool {
		a, b := d.list[i], d.list[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	// Variants compile the same template several times, and a fragment is
	// checked from every screen that uses it; report each finding once.
	out := d.list[:0]
	seen := make(map[Diagnostic]bool, len(d.list))
	for _, x := range d.list {
		if seen[x] {
			continue
		}
		seen[x] = true
		out = append(out, x)
	}
	return out
}

// Error codes the HTTP layer maps to statuses (unknown_screen: 404, the
// param codes: 400, too_large: 500 since it is a template bug).
const (
	CodeUnknownScreen   = "unknown_screen"
	CodeMissingParam    = "missing_param"
	CodeInvalidParam    = "invalid_param"
	CodeUnknownFragment = "unknown_fragment"
	CodeTooLarge        = "layout_too_large"
)

// Error is a request error with a stable code and a message that is safe to
// show to a client.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is(err, ErrUnknownScreen) and friends match by code.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// Sentinels for errors.Is; the returned errors carry a specific message.
var (
	ErrUnknownScreen   = &Error{Code: CodeUnknownScreen}
	ErrMissingParam    = &Error{Code: CodeMissingParam}
	ErrInvalidParam    = &Error{Code: CodeInvalidParam}
	ErrUnknownFragment = &Error{Code: CodeUnknownFragment}
	ErrTooLarge        = &Error{Code: CodeTooLarge}
)

// ErrorCode returns the code of a renderer error, or "" for other errors
// (provider failures, I/O), which the HTTP layer treats as its own.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
