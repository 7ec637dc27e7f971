// Package live is where the messenger meets its screens: the named data
// sources that screens bind (me, dialogs.list, messages, content.<name>,
// ...), the rendering of a screen request for a signed-in or anonymous
// viewer, and the live patches that keep an open screen current as chat
// events arrive. It is the only package that imports both chat and
// renderer; the transports (chat/httpapi for GET /v1/screens/{name},
// chat/ws for the watch frame) hand it the same Request.
package live

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/renderer"
)

// Screens gives the engine to render with: fixed when screens are
// embedded, the latest good one when a folder is watched.
type Screens interface {
	Current() *renderer.Engine
}

// Fixed serves one engine for the life of the process.
type Fixed struct{ Engine *renderer.Engine }

// Current returns the engine.
func (f Fixed) Current() *renderer.Engine { return f.Engine }

// Service is what the data sources and patches need from the chat
// service; *chat.Service implements it. Each call checks what the caller
// may see.
type Service interface {
	Me(ctx context.Context, p chat.Principal) (chat.Profile, error)
	User(ctx context.Context, p chat.Principal, id int64) (chat.Profile, error)
	Contacts(ctx context.Context, p chat.Principal, query string, limit int) ([]chat.Profile, error)
	Dialogs(ctx context.Context, p chat.Principal, cursor string, limit int) (chat.DialogPage, error)
	Dialog(ctx context.Context, p chat.Principal, dialogID int64) (chat.DialogView, error)
	History(ctx context.Context, p chat.Principal, dialogID, before int64, limit int) ([]chat.MessageView, error)
	DialogVersion(ctx context.Context, p chat.Principal, dialogID int64) (string, error)
	DialogsVersion(ctx context.Context, p chat.Principal) (string, error)
	DialogMedia(ctx context.Context, p chat.Principal, dialogID int64, kind, cursor string, limit int) (chat.MediaPage, error)
	// NoteTimeZone keeps the zone a watch named as the user's last one.
	NoteTimeZone(ctx context.Context, p chat.Principal, tz string)
}

// ContentReader reads content collections; chat.ContentStore implements it.
type ContentReader interface {
	Content(ctx context.Context, collection string, publishedOnly bool) ([]chat.ContentDoc, error)
}

// Request is one screen request, the same whether it came as GET
// /v1/screens/{name} (path, query, headers) or as a watch frame over the
// WebSocket (its fields, by their JSON names). Lang is in Accept-Language
// form ("ru-RU, en;q=0.8"), Shell in X-Korobka-Shell form and TZ an IANA
// zone name as in X-Korobka-TZ ("" for the server's default).
type Request struct {
	Screen string            `json:"screen"`
	Params map[string]string `json:"params"`
	Lang   string            `json:"lang"`
	Theme  string            `json:"theme"` // "dark", anything else is light
	Shell  string            `json:"shell"`
	TZ     string            `json:"tz"`
}

// Locale is how a server renders what a request does not say: the time
// zone when the shell sends none (KOROBKA_TIME_ZONE) and the region of
// phone numbers written without a country code (KOROBKA_REGION). The zero
// Locale is UTC and no region.
type Locale struct {
	TimeZone *time.Location
	Region   string
}

// Bounds of a request. The renderer checks names and values for real;
// these only keep a hostile request from costing more than a real one.
const (
	maxScreenLen = 64
	maxParams    = 16
	maxParamLen  = 256
	maxLangLen   = 256
	maxShellLen  = 1024
)

// PageParam and CursorParam are the request params that ask for the next
// page of a screen's list: ?more=<data name>&cursor=<the load_more's
// cursor> (docs/shell.md, "Paging"). No screen may declare params of
// these names.
const (
	PageParam   = "more"
	CursorParam = "cursor"
)

// ErrUnknownScreen answers a request for a screen that does not exist.
var ErrUnknownScreen = chat.Errorf(chat.KindNotFound, "unknown_screen", "No such screen.")

// errTooLong answers a request over its bounds.
func errTooLong(what string) error {
	return &chat.Error{Kind: chat.KindInvalid, Code: "invalid_param", Message: what + " is too long."}
}

// check bounds the request before anything is looked up.
func (r *Request) check() error {
	switch {
	case len(r.Screen) > maxScreenLen:
		return ErrUnknownScreen // no screen has such a name
	case len(r.Params) > maxParams:
		return &chat.Error{Kind: chat.KindInvalid, Code: "invalid_param", Message: "Too many params."}
	case len(r.Lang) > maxLangLen:
		return errTooLong("lang")
	case len(r.Shell) > maxShellLen:
		return errTooLong("shell")
	case len(r.TZ) > chat.MaxTimeZoneLen:
		return chat.ErrInvalidTimeZone
	}
	for k, v := range r.Params {
		if len(k) > maxParamLen || len(v) > maxParamLen {
			return errTooLong("A param")
		}
	}
	return nil
}

// resolve checks the request against the engine's screens and returns the
// screen and the renderer's form of the request for viewer (0: signed
// out), in the request's zone or else the locale's. Only the screen's
// declared params are kept: they alone select the instance.
func (r *Request) resolve(eng *renderer.Engine, viewer int64, loc Locale) (*renderer.Screen, renderer.Request, error) {
	if err := r.check(); err != nil {
		return nil, renderer.Request{}, err
	}
	tz := loc.TimeZone
	if r.TZ != "" {
		var err error
		if tz, err = chat.ParseTimeZone(r.TZ); err != nil {
			return nil, renderer.Request{}, err
		}
	}
	scr, ok := eng.Screen(r.Screen)
	if !ok {
		return nil, renderer.Request{}, ErrUnknownScreen
	}
	rr := renderer.Request{
		Screen: scr.Name,
		Params: make(map[string]string, len(scr.Params)),
		Langs:  renderer.ParseAcceptLanguage(r.Lang),
		Theme:  theme(r.Theme),
		Caps:   renderer.ParseShell(r.Shell),
		TZ:     tz,
		Region: loc.Region,
	}
	for _, sp := range scr.Params {
		if v := r.Params[sp.Name]; v != "" {
			rr.Params[sp.Name] = v
		}
	}
	// more and cursor ask for the next page of one list (the data named
	// by more, from the cursor its load_more carried); the renderer checks
	// that the screen has such a list.
	if more, cursor := r.Params[PageParam], r.Params[CursorParam]; more != "" || cursor != "" {
		if more == "" {
			return nil, renderer.Request{}, &chat.Error{Kind: chat.KindInvalid, Code: "invalid_param", Message: "A cursor needs more=<list>."}
		}
		rr.Page = renderer.Page{Data: more, Cursor: cursor}
	}
	if viewer != 0 {
		rr.Viewer = chat.FormatID(viewer)
	}
	return scr, rr, nil
}

func theme(t string) string {
	if t == "dark" {
		return "dark"
	}
	return "light"
}

// Renderer renders screen requests with the current screens and the data
// sources.
type Renderer struct {
	screens Screens
	sources *Sources
	locale  Locale
}

// NewRenderer returns a Renderer over screens and sources.
func NewRenderer(screens Screens, sources *Sources) *Renderer {
	return &Renderer{screens: screens, sources: sources}
}

// WithLocale sets the server's defaults (zone, phone region) and returns
// r; call it before serving.
func (r *Renderer) WithLocale(l Locale) *Renderer {
	r.locale = l
	return r
}

// Public reports whether the screen can be shown signed out (login, otp),
// or ErrUnknownScreen.
func (r *Renderer) Public(name string) (bool, error) {
	scr, ok := r.screens.Current().Screen(name)
	if !ok {
		return false, ErrUnknownScreen
	}
	return scr.Public, nil
}

// Page is a rendered screen. Body is nil when the caller's If-None-Match
// named the current ETag (a 304).
type Page struct {
	ETag string
	Lang string // the language rendered, for Content-Language
	Body []byte
}

// Render renders req for the viewer (nil: signed out). The ETag is
// computed from the data sources' versions before rendering, so a request
// whose ifNoneMatch names it costs no render.
func (r *Renderer) Render(ctx context.Context, req Request, viewer *chat.Principal, ifNoneMatch func(etag string) bool) (Page, error) {
	eng := r.screens.Current()
	var uid int64
	if viewer != nil {
		uid = viewer.UserID
	}
	_, rr, err := req.resolve(eng, uid, r.locale)
	if err != nil {
		return Page{}, err
	}
	data := r.sources.scope(viewer)
	etag, err := eng.ETag(ctx, rr, data)
	if err != nil {
		return Page{}, renderError(err)
	}
	if ifNoneMatch != nil && ifNoneMatch(etag) {
		return Page{ETag: etag}, nil
	}
	body, etag, err := eng.AppendRender(ctx, nil, rr, data)
	if err != nil {
		return Page{}, renderError(err)
	}
	return Page{ETag: etag, Lang: eng.Lang(rr.Langs), Body: body}, nil
}

// renderError maps the renderer's codes onto the one error table.
func renderError(err error) error {
	var re *renderer.Error
	if !errors.As(err, &re) {
		return err
	}
	switch re.Code {
	case renderer.CodeUnknownScreen:
		return ErrUnknownScreen
	case renderer.CodeMissingParam, renderer.CodeInvalidParam:
		return &chat.Error{Kind: chat.KindInvalid, Code: re.Code, Message: re.Message}
	}
	return fmt.Errorf("render: %w", err)
}
