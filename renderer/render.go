package renderer

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Request is everything that selects one rendered layout. The HTTP layer
// builds it from the path, query, Accept-Language, a theme preference,
// X-Korobka-Shell and the session.
type Request struct {
	Screen string
	Params map[string]string
	Langs  []string // ParseAcceptLanguage output, best first
	Theme  string   // "light" (default) or "dark"
	Caps   Capabilities
	Viewer string // user id, "" when signed out
	// TZ is the zone clock(), date() and day() show times in (nil: UTC):
	// the shell's X-Korobka-TZ, else the server's default.
	TZ *time.Location
	// Now is the current time for day() ("today", "yesterday"); zero
	// means time.Now().
	Now time.Time
	// Region is the ISO 3166-1 code in which linkified phone numbers
	// written without a country code are read (the server's
	// KOROBKA_REGION); "" links only numbers written with +.
	Region string
	// Page asks for the next page of one of the screen's lists: the data
	// named Page.Data is fetched from Page.Cursor on (the cursor a list's
	// load_more action carried), everything else as usual. The shell
	// sends it as ?more=<data>&cursor=<cursor> (docs/shell.md, "Paging").
	Page Page
}

// Page selects the next page of one data binding of a screen: Data is its
// name in the screen's `data:` (messages, dialogs, contacts), Cursor the
// opaque cursor of its source (a seq for messages, a cursor string for
// dialogs.list and contacts). The zero Page is the first page.
type Page struct{ Data, Cursor string }

// maxCursorLen bounds a page cursor; real ones are under 64 bytes.
const maxCursorLen = 256

// zone returns loc, or UTC for nil.
func zone(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// nowOr returns t, or time.Now() for the zero time.
func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// Query is one data request. Providers answer by Source and Args; Name is
// the binding in the screen (fixtures key on it, live providers ignore it).
type Query struct {
	Name   string
	Source string // me, user, contacts, dialogs.list, dialog, messages, content.<collection>
	Viewer string
	Args   []Arg // sorted by name
}

// Arg is one evaluated source argument.
type Arg struct{ Name, Value string }

// Arg returns the named argument or "".
func (q Query) Arg(name string) string {
	for _, a := range q.Args {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// Provider supplies screen data. The chat side implements it over its
// store; tests and `korobka render` use a Fixture.
//
// Version must be cheap (a counter or watermark read, no row fetch): it is
// the whole cost of a 304. Contract: for the same Query, if Version returns
// the same token twice, Fetch would return equal data in between; Fetch
// returns the token of the data it returned. Tokens are opaque, compared
// for equality only, and must be the same on every node behind the load
// balancer (no process-local counters). Errors are passed through
// unchanged, so the provider's own not-found / forbidden errors keep their
// HTTP meaning.
type Provider interface {
	Version(ctx context.Context, q Query) (string, error)
	Fetch(ctx context.Context, q Query) (data any, version string, err error)
}

// resolve validates the request and picks the variant.
func (e *Engine) resolve(req *Request) (*Screen, int, error) {
	s, ok := e.screens[req.Screen]
	if !ok {
		return nil, 0, &Error{Code: CodeUnknownScreen, Message: fmt.Sprintf("no screen %q", req.Screen)}
	}
	for i := range s.Params {
		p := &s.Params[i]
		v, ok := req.Params[p.Name]
		if !ok || v == "" {
			if p.Required {
				return nil, 0, &Error{Code: CodeMissingParam, Message: fmt.Sprintf("screen %s needs param %s", s.Name, p.Name)}
			}
			continue
		}
		if len(v) > maxParamLen {
			return nil, 0, &Error{Code: CodeInvalidParam, Message: fmt.Sprintf("param %s is too long", p.Name)}
		}
		if p.Type == "int" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return nil, 0, &Error{Code: CodeInvalidParam, Message: fmt.Sprintf("param %s must be an integer", p.Name)}
			}
		}
		if p.re != nil && !p.re.MatchString(v) {
			return nil, 0, &Error{Code: CodeInvalidParam, Message: fmt.Sprintf("param %s has a bad format", p.Name)}
		}
	}
	if req.Page != (Page{}) {
		ds := s.dataNamed(req.Page.Data)
		switch {
		case ds == nil || ds.pageArg == "":
			return nil, 0, &Error{Code: CodeInvalidParam, Message: fmt.Sprintf("screen %s has no list %q to page", s.Name, req.Page.Data)}
		case req.Page.Cursor == "" || len(req.Page.Cursor) > maxCursorLen:
			return nil, 0, &Error{Code: CodeInvalidParam, Message: "param cursor must be a cursor from the screen's load_more"}
		}
	}
	return s, e.variantIndex(req.Langs, req.Theme), nil
}

// dataNamed returns the screen's data binding called name, or nil.
func (s *Screen) dataNamed(name string) *dataSpec {
	for i := range s.data {
		if s.data[i].name == name {
			return &s.data[i]
		}
	}
	return nil
}

// variantIndex picks the language by the fallback chain: each requested
// tag, then its base language, then English, then the first loaded.
func (e *Engine) variantIndex(langs []string, th string) int {
	li := e.pickLang(langs)
	mode := modeLight
	if th == "dark" {
		mode = modeDark
	}
	return li*2 + mode
}

func (e *Engine) pickLang(langs []string) int {
	for _, want := range langs {
		for pass := 0; pass < 2; pass++ {
			w := want
			if pass == 1 {
				w, _, _ = strings.Cut(want, "-")
			}
			for i, l := range e.langs {
				if strings.EqualFold(l.lang, w) {
					return i
				}
			}
		}
	}
	return e.defLang
}

// Lang reports the language a request resolves to; the HTTP layer sets
// Content-Language from it.
func (e *Engine) Lang(langs []string) string { return e.langs[e.pickLang(langs)].lang }

func (e *Engine) getState() *state {
	if st, ok := e.pool.Get().(*state); ok {
		return st
	}
	return &state{buf: make([]byte, 0, 16<<10), phones: e.phones}
}

func (e *Engine) putState(st *state) {
	clear(st.vals[:cap(st.vals)])
	st.vals = st.vals[:0]
	st.buf = st.buf[:0]
	st.base, st.nodes, st.over = 0, 0, false
	st.caps = Capabilities{}
	st.loc, st.now, st.region, st.lang = nil, time.Time{}, "", ""
	st.dayKey, st.dayVal = 0, nil
	if cap(st.buf) <= 1<<20 {
		e.pool.Put(st)
	}
}

// bind fills the screen's fixed slots and evaluates data args.
func (e *Engine) bind(st *state, s *Screen, req *Request, vi int) {
	for range s.nslots {
		st.vals = append(st.vals, nil)
	}
	params := make(map[string]any, len(s.Params))
	for _, p := range s.Params {
		if v, ok := req.Params[p.Name]; ok && v != "" {
			params[p.Name] = v
		}
	}
	st.vals[slotParams] = params
	st.vals[slotViewer] = req.Viewer
	st.vals[slotLang] = e.langs[vi/2].lang
	st.lang = e.langs[vi/2].lang
	if vi%2 == modeDark {
		st.vals[slotTheme] = "dark"
	} else {
		st.vals[slotTheme] = "light"
	}
	st.caps = req.Caps
	st.loc, st.now, st.region = zone(req.TZ), nowOr(req.Now), req.Region
}

// query evaluates a data binding's arguments; for the binding a page is
// asked of, the page cursor replaces (or adds) the source's cursor
// argument, so the screen's own args (dialog_id, limit) still apply.
func (s *Screen) query(st *state, ds *dataSpec, req *Request) Query {
	q := Query{Name: ds.name, Source: ds.source, Viewer: req.Viewer}
	paged := ds.pageArg != "" && req.Page.Data == ds.name && req.Page.Cursor != ""
	if len(ds.args) > 0 || paged {
		q.Args = make([]Arg, 0, len(ds.args)+1)
		for _, a := range ds.args {
			if paged && a.name == ds.pageArg {
				continue
			}
			q.Args = append(q.Args, Arg{a.name, a.val.str(st)})
		}
		if paged {
			q.Args = append(q.Args, Arg{ds.pageArg, req.Page.Cursor})
			slices.SortFunc(q.Args, func(a, b Arg) int { return strings.Compare(a.Name, b.Name) })
		}
	}
	return q
}

// etag hashes everything that selects the output: revision, screen,
// variant, the capabilities this screen depends on, the time zone (and
// the current date in it, when the screen uses day()), the phone region,
// viewer, params and
// each source's version.
func (e *Engine) etag(s *Screen, st *state, req *Request, vi int, versions []string) string {
	b := make([]byte, 0, 256)
	b = append(b, e.rev...)
	b = append(b, 0)
	b = append(b, s.Name...)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(vi), 10)
	b = append(b, 0)
	for _, o := range s.optional {
		if req.Caps.Has(o, 1) {
			b = append(b, '1')
		} else {
			b = append(b, '0')
		}
	}
	b = append(b, 0)
	b = append(b, st.loc.String()...)
	b = append(b, 0)
	b = append(b, st.region...)
	if s.usesNow {
		b = append(b, 0)
		b = st.now.In(st.loc).AppendFormat(b, time.DateOnly)
	}
	b = append(b, 0)
	b = append(b, req.Viewer...)
	for _, p := range s.Params {
		b = append(b, 0)
		b = append(b, req.Params[p.Name]...)
	}
	if req.Page != (Page{}) {
		b = append(b, 0, 'p')
		b = append(b, req.Page.Data...)
		b = append(b, 0)
		b = append(b, req.Page.Cursor...)
	}
	for _, v := range versions {
		b = append(b, 0)
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
	}
	sum := sha256.Sum256(b)
	out := make([]byte, 0, 26)
	out = append(out, '"')
	out = base64.RawURLEncoding.AppendEncode(out, sum[:18])
	out = append(out, '"')
	return string(out)
}

// ETag computes the response's entity tag from source versions alone, so
// an If-None-Match hit costs no fetch and no render. It is quoted, ready
// for the header, and equals the one Render returns for the same data.
func (e *Engine) ETag(ctx context.Context, req Request, p Provider) (string, error) {
	s, vi, err := e.resolve(&req)
	if err != nil {
		return "", err
	}
	st := e.getState()
	defer e.putState(st)
	e.bind(st, s, &req, vi)
	var buf [8]string
	versions := buf[:0]
	for i := range s.data {
		v, err := p.Version(ctx, s.query(st, &s.data[i], &req))
		if err != nil {
			return "", err
		}
		versions = append(versions, v)
	}
	return e.etag(s, st, &req, vi, versions), nil
}

// Render fetches the screen's data and writes the resolved layout to w in
// one Write: errors come before any byte is written, never a partial
// layout. It returns the ETag of what it wrote.
func (e *Engine) Render(ctx context.Context, req Request, p Provider, w io.Writer) (string, error) {
	st := e.getState()
	defer e.putState(st)
	etag, err := e.render(ctx, st, &req, p)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(st.buf); err != nil {
		return "", err
	}
	return etag, nil
}

// AppendRender is Render for callers that keep their own buffer.
func (e *Engine) AppendRender(ctx context.Context, dst []byte, req Request, p Provider) ([]byte, string, error) {
	st := e.getState()
	defer e.putState(st)
	etag, err := e.render(ctx, st, &req, p)
	if err != nil {
		return dst, "", err
	}
	return append(dst, st.buf...), etag, nil
}

func (e *Engine) render(ctx context.Context, st *state, req *Request, p Provider) (string, error) {
	s, vi, err := e.resolve(req)
	if err != nil {
		return "", err
	}
	e.bind(st, s, req, vi)
	var buf [8]string
	versions := buf[:0]
	for i := range s.data {
		ds := &s.data[i]
		data, v, err := p.Fetch(ctx, s.query(st, ds, req))
		if err != nil {
			return "", err
		}
		st.vals[ds.slot] = data
		versions = append(versions, v)
	}
	cs := s.variants[vi]
	st.buf = append(st.buf, cs.head...)
	st.buf = appendString(st.buf, cs.title.str(st))
	st.buf = append(st.buf, cs.mid...)
	if !cs.root.write(st) {
		st.buf = append(st.buf, `{"type":"column"}`...)
	}
	st.buf = append(st.buf, `,"live":[`...)
	for i, t := range s.live {
		if i > 0 {
			st.buf = append(st.buf, ',')
		}
		st.buf = appendString(st.buf, t.str(st))
	}
	st.buf = append(st.buf, "]}"...)
	if st.over || !st.budget() {
		return "", &Error{Code: CodeTooLarge, Message: fmt.Sprintf("screen %s renders more than %d nodes or %d bytes", s.Name, maxOutNodes, maxOutBytes)}
	}
	return e.etag(s, st, req, vi, versions), nil
}

// LiveTopics resolves the screen's live topics for a request, e.g.
// ["dialog:17"]: the WebSocket layer subscribes the connection to them.
func (e *Engine) LiveTopics(req Request) ([]string, error) {
	s, vi, err := e.resolve(&req)
	if err != nil {
		return nil, err
	}
	st := e.getState()
	defer e.putState(st)
	e.bind(st, s, &req, vi)
	out := make([]string, len(s.live))
	for i, t := range s.live {
		out[i] = t.str(st)
	}
	return out, nil
}
