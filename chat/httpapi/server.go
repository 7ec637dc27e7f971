package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/live"
	"github.com/korobka/korobka/chat/wire"
)

// The use cases the handlers call, declared here by their consumer in
// small groups so a handler test can fake just the group it exercises;
// *chat.Service implements them all. Every method checks what the caller
// may do.
type (
	// Auth is login, sessions and token checks.
	Auth interface {
		RequestCode(ctx context.Context, phone, ip string) (chat.CodeSent, error)
		Verify(ctx context.Context, phone, code, ip, device string) (chat.Auth, error)
		Refresh(ctx context.Context, refreshToken string) (chat.Auth, error)
		Logout(ctx context.Context, p chat.Principal) error
		Authenticate(ctx context.Context, accessToken string) (chat.Principal, error)
	}
	// Profiles is the caller's own profile and other users'.
	Profiles interface {
		Me(ctx context.Context, p chat.Principal) (chat.Profile, error)
		UpdateMe(ctx context.Context, p chat.Principal, upd chat.ProfileUpdate) (chat.Profile, error)
		SetAvatar(ctx context.Context, p chat.Principal, r io.Reader) (chat.Profile, error)
		User(ctx context.Context, p chat.Principal, id int64) (chat.Profile, error)
		// NoteTimeZone keeps the IANA zone a shell sent (X-Korobka-TZ)
		// as the user's last one, writing only when it changed.
		NoteTimeZone(ctx context.Context, p chat.Principal, tz string)
	}
	// Contacts is the caller's address book.
	Contacts interface {
		SyncContacts(ctx context.Context, p chat.Principal, phones []string) ([]chat.Profile, error)
		AddContact(ctx context.Context, p chat.Principal, phone string) ([]chat.Profile, error)
		Contacts(ctx context.Context, p chat.Principal, query string, limit int) ([]chat.Profile, error)
	}
	// Messaging is dialogs, messages, receipts and uploads.
	Messaging interface {
		OpenDirect(ctx context.Context, p chat.Principal, userID int64, subject string) (chat.DialogView, bool, error)
		Dialogs(ctx context.Context, p chat.Principal, cursor string, limit int) (chat.DialogPage, error)
		Dialog(ctx context.Context, p chat.Principal, dialogID int64) (chat.DialogView, error)
		History(ctx context.Context, p chat.Principal, dialogID, before int64, limit int) ([]chat.MessageView, error)
		Changes(ctx context.Context, p chat.Principal, dialogID, since int64, limit int) ([]chat.MessageView, error)
		Send(ctx context.Context, p chat.Principal, origin int64, req chat.SendRequest) (m chat.MessageView, created bool, err error)
		EditMessage(ctx context.Context, p chat.Principal, dialogID, seq int64, text string) (chat.MessageView, error)
		DeleteMessage(ctx context.Context, p chat.Principal, dialogID, seq int64) (chat.MessageView, error)
		Read(ctx context.Context, p chat.Principal, dialogID, seq int64) (chat.Receipts, error)
		Upload(ctx context.Context, p chat.Principal, r io.Reader, name string) (chat.Attachment, error)
		DialogMedia(ctx context.Context, p chat.Principal, dialogID int64, kind, cursor string, limit int) (chat.MediaPage, error)
	}
	// Devices is push tokens and the mute that push decisions honour.
	Devices interface {
		RegisterDevice(ctx context.Context, p chat.Principal, req chat.DeviceRequest) (chat.DeviceView, error)
		UnregisterDevice(ctx context.Context, p chat.Principal, token string) error
		MuteDialog(ctx context.Context, p chat.Principal, dialogID int64, muted bool, until *time.Time) (chat.MuteState, error)
	}
	// Groups is group dialogs: members, roles, title, photo, readers.
	Groups interface {
		CreateGroup(ctx context.Context, p chat.Principal, req chat.NewGroup) (chat.DialogView, error)
		UpdateGroup(ctx context.Context, p chat.Principal, dialogID int64, upd chat.GroupUpdate) (chat.DialogView, error)
		AddMembers(ctx context.Context, p chat.Principal, dialogID int64, userIDs []string) (chat.DialogView, error)
		RemoveMember(ctx context.Context, p chat.Principal, dialogID, userID int64) error
		LeaveGroup(ctx context.Context, p chat.Principal, dialogID int64) error
		SetMemberRole(ctx context.Context, p chat.Principal, dialogID, userID int64, role chat.GroupRole) error
		GroupMembers(ctx context.Context, p chat.Principal, dialogID int64, cursor string, limit int) (chat.MemberPage, error)
		Readers(ctx context.Context, p chat.Principal, dialogID, seq int64, cursor string, limit int) (chat.MemberPage, error)
		PinMessage(ctx context.Context, p chat.Principal, dialogID, seq int64) (chat.DialogView, error)
		UnpinMessage(ctx context.Context, p chat.Principal, dialogID int64) (chat.DialogView, error)
	}
	// Service is every group; *chat.Service implements it.
	Service interface {
		Auth
		Profiles
		Contacts
		Messaging
		Devices
		Groups
		Admin
	}
)

// Deps is what the HTTP surface needs. Nil handlers and a nil Screens
// leave their routes out. Ready checks are run by /readyz.
type Deps struct {
	Service   Service
	Logger    *slog.Logger
	Media     http.Handler // serves /media/
	WebSocket http.Handler // serves /v1/ws
	// Screens renders GET /v1/screens/{name}; Preview serves /preview/.
	Screens  *live.Renderer
	Preview  *live.Preview
	Ready    map[string]func(context.Context) error
	Registry *prometheus.Registry // nil: a fresh one
	// BodyTimeout bounds reading a request body (JSON and the like);
	// uploads instead must keep UploadMinRate bytes/s on average after
	// UploadGrace. Zero: the defaults (DefaultBodyTimeout, ...).
	BodyTimeout   time.Duration
	UploadMinRate int64
	UploadGrace   time.Duration
	// MaxUploadBytes caps the file of POST /v1/uploads: the largest of the
	// media store's caps (videos have their own; the store applies each
	// type's). Zero: chat.MaxUploadFileSize.
	MaxUploadBytes int64
	// MetricsElsewhere leaves GET /metrics out of this surface: the
	// registry is served on its own listener (KOROBKA_METRICS_ADDR), so
	// the public address does not expose it.
	MetricsElsewhere bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (wire.Proxies.ClientAddr); none by default.
	TrustedProxies wire.Proxies
	// Dev opens the preview to anyone; otherwise it needs an admin.
	Dev bool
	// ScreenAdmin takes screen uploads and rollbacks (/v1/admin/screens);
	// nil answers screens_from_folder.
	ScreenAdmin ScreenAdmin
	// Images is the images/ folder of the screens served (the logo,
	// pictures of content), answered at /assets/<path>; nil: none.
	Images fs.FS
	// Done closes when the server starts shutting down, so long-lived
	// responses (the preview's event stream) end instead of holding
	// http.Server.Shutdown until its deadline.
	Done <-chan struct{}
}

// server holds the handlers' dependencies; routes.go lists its surface.
type server struct {
	svc     Service
	integ   Integrations // svc, when it serves the platform routes
	log     *slog.Logger
	media   http.Handler
	ws      http.Handler
	screens *live.Renderer
	preview *live.Preview
	// screenAdmin takes screen uploads (handle_admin.go).
	screenAdmin ScreenAdmin
	ready       map[string]func(context.Context) error
	metrics     *httpMetrics
	reg         *prometheus.Registry
	proxies     wire.Proxies
	// metricsRoute says whether GET /metrics is served here.
	metricsRoute bool

	bodyTimeout   time.Duration
	uploadMinRate int64
	uploadGrace   time.Duration
	maxUpload     int64 // the upload's file cap; the body may add multipartSlack

	web       fs.FS             // assets/web
	images    fs.FS             // the screens folder's images/
	webTags   map[string]string // file -> ETag
	webCSP    map[string]string // page -> Content-Security-Policy header
	adminFS   fs.FS             // assets/admin
	adminTags map[string]string
	adminCSP  map[string]string
	dev       bool
	done      <-chan struct{}
	heartbeat time.Duration // of the preview's event stream
}

// Body caps. JSON requests are small; a contact sync of 5,000 numbers in
// any format fits well under a megabyte; avatars are capped by media's
// own limit, uploads by chat.MaxUploadFileSize, with room for the
// multipart framing.
const (
	maxJSONBody    = 64 << 10
	maxSyncBody    = 1 << 20
	maxAvatarBody  = 10<<20 + 64<<10
	multipartSlack = 64 << 10
)

// NewServer returns the whole HTTP surface as one handler.
func NewServer(d Deps) (http.Handler, error) {
	gin.SetMode(gin.ReleaseMode)
	reg := d.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newHTTPMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &server{svc: d.Service, log: d.Logger, media: d.Media, ws: d.WebSocket,
		screens: d.Screens, preview: d.Preview, ready: d.Ready, metrics: m, reg: reg,
		proxies: d.TrustedProxies, metricsRoute: !d.MetricsElsewhere, dev: d.Dev, done: d.Done, heartbeat: sseHeartbeat,
		images: d.Images}
	s.bodyTimeout, s.uploadMinRate, s.uploadGrace = d.BodyTimeout, d.UploadMinRate, d.UploadGrace
	s.screenAdmin = d.ScreenAdmin
	s.integ, _ = d.Service.(Integrations)
	if s.bodyTimeout <= 0 {
		s.bodyTimeout = DefaultBodyTimeout
	}
	if s.uploadMinRate <= 0 {
		s.uploadMinRate = DefaultUploadMinRate
	}
	if s.uploadGrace <= 0 {
		s.uploadGrace = DefaultUploadGrace
	}
	s.maxUpload = max(d.MaxUploadBytes, chat.MaxUploadFileSize)
	if err := s.loadWeb(); err != nil {
		return nil, err
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	// Client addresses are decided by clientKey (wire.Proxies) alone;
	// gin's own ClientIP would believe X-Real-IP from a proxy.
	e.ForwardedByClientIP = false
	if err := e.SetTrustedProxies(nil); err != nil {
		return nil, err
	}
	e.Use(s.observe, gin.CustomRecoveryWithWriter(io.Discard, s.recovered), s.limitBody)
	e.NoRoute(func(c *gin.Context) {
		s.writeError(c, chat.Errorf(chat.KindNotFound, "not_found", "No such endpoint."))
	})
	e.NoMethod(func(c *gin.Context) {
		s.writeError(c, chat.Errorf(chat.KindMethodNotAllowed, "method_not_allowed", "This endpoint does not take that method."))
	})
	s.routes(e)
	return e, nil
}

// handler is a gin handler that returns its error; wrap writes it.
type handler func(c *gin.Context) error

func (s *server) wrap(h handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.writeError(c, err)
		}
	}
}

// recovered answers a panic as an internal error; the panic is logged.
func (s *server) recovered(c *gin.Context, p any) {
	s.log.ErrorContext(c.Request.Context(), "panic in handler", "route", c.FullPath(), "panic", p)
	s.writeError(c, errors.New("panic"))
}

// observe records metrics and logs each request at debug level.
func (s *server) observe(c *gin.Context) {
	start := time.Now()
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	d := time.Since(start)
	s.metrics.observe(c.Request.Method, route, c.Writer.Status(), d)
	s.log.DebugContext(c.Request.Context(), "request", "method", c.Request.Method, "route", route,
		"status", c.Writer.Status(), "duration", d)
}

// clientKey is the caller's address (wire.Proxies.ClientAddr); the
// Service counts per-address limits under chat.AddressKey of it (IPv6 per
// /64).
func (s *server) clientKey(c *gin.Context) string {
	return s.proxies.ClientAddr(c.Request).String()
}

// Request decoding errors.
var (
	errNotJSON = chat.Errorf(chat.KindUnsupported, "unsupported_media_type", "Send the body as application/json.")
	errTooBig  = chat.Errorf(chat.KindTooLarge, "body_too_large", "The request body is too large.")
)

// decodeJSON reads a JSON object of at most max bytes into dst. Unknown
// fields, wrong types, trailing data and an empty body are 400s, so a
// client's mistake is reported instead of half-applied.
func decodeJSON(c *gin.Context, dst any, max int64) error {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		return errNotJSON
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, max)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooBig
		}
		if errors.Is(err, errBodyTimeout) {
			return errBodyTimeout
		}
		return chat.Errorf(chat.KindInvalid, "invalid_json", "The body holds more than one JSON value.")
	}
	return nil
}

func jsonError(err error) error {
	var (
		mbe    *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, errBodyTimeout):
		return errBodyTimeout
	case errors.As(err, &mbe):
		return errTooBig
	case errors.Is(err, io.EOF):
		return chat.Errorf(chat.KindInvalid, "invalid_json", "The body is empty.")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return chat.Errorf(chat.KindInvalid, "invalid_json", "The body is not valid JSON.")
	case errors.As(err, &typ):
		if typ.Field != "" {
			return chat.Errorf(chat.KindInvalid, "invalid_json", "Field %q must be %s.", typ.Field, jsonKind(typ.Type.Kind().String()))
		}
		return chat.Errorf(chat.KindInvalid, "invalid_json", "The body must be a JSON object.")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return chat.Errorf(chat.KindInvalid, "unknown_field", "Unknown field %s.", field)
	default:
		return chat.Errorf(chat.KindInvalid, "invalid_json", "The body is not valid JSON.")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	case "ptr":
		return "a value of the right type"
	default:
		return "a number"
	}
}
