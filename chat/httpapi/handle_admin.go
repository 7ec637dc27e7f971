package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/live"
	"github.com/korobka/korobka/chat/wire"
)

// The admin API under /v1/admin (docs/api.md, "Admin"). Every route sits
// behind staffOnly, which refuses with 403 any caller whose role is not
// among the route's; the Service checks the same roles again for every use
// case, so a route cannot open what its use case does not allow.

// Admin is the admin core's use cases; *chat.Service implements it.
type Admin interface {
	AdminUsers(ctx context.Context, p chat.Principal, f chat.UserFilter, cursor string, limit int) (chat.AdminUserPage, error)
	AdminUser(ctx context.Context, p chat.Principal, id int64) (chat.AdminUser, error)
	BlockUser(ctx context.Context, p chat.Principal, id int64, blocked bool, reason string) (chat.AdminUser, error)
	SetUserRole(ctx context.Context, p chat.Principal, id int64, role chat.Role) (chat.AdminUser, error)
	AdminDialogs(ctx context.Context, p chat.Principal, cursor string, limit int) (chat.AdminDialogPage, error)
	AdminDialog(ctx context.Context, p chat.Principal, id, before int64, limit int) (chat.AdminDialog, error)
	Stats(ctx context.Context, p chat.Principal, days int) (chat.Stats, error)
	AuditLog(ctx context.Context, p chat.Principal, f chat.AuditFilter, limit int) ([]chat.AuditEntry, error)
	StartBroadcast(ctx context.Context, p chat.Principal, text string, seg chat.Segment) (chat.Broadcast, error)
	GetBroadcast(ctx context.Context, p chat.Principal, id int64) (chat.Broadcast, error)
	ListBroadcasts(ctx context.Context, p chat.Principal, before int64, limit int) ([]chat.Broadcast, error)
}

// operatorRoutes are the routes under /v1/admin/ an operator may use:
// looking up the client they answer, and the forms clients sent. Every
// other admin route is for admins.
var operatorRoutes = map[string]bool{
	"GET /v1/admin/users":                         true,
	"GET /v1/admin/users/:id":                     true,
	"GET /v1/admin/forms/:collection/submissions": true,
}

// errInvalidScreen answers a screen upload that fails lint or its
// fixtures (with the diagnostics beside the error).
var errInvalidScreen = &chat.Error{Kind: chat.KindInvalid, Code: "invalid_screen", Message: "The screen fails lint or its fixtures; nothing changed."}

// adminGuard runs on every authenticated route and refuses with 403
// forbidden, before any input is read, a caller of /v1/admin/ or
// /v1/operator/ whose role does not allow the route: users always,
// operators beyond operatorRoutes under /v1/admin/ (every /v1/operator/
// route is theirs). It guards every staff route, whichever file registers
// it, so none can be left open; the Service checks the same roles again
// for every use case.
func (s *server) adminGuard(c *gin.Context) {
	route := c.FullPath()
	operator := strings.HasPrefix(route, "/v1/operator/")
	if !operator && !strings.HasPrefix(route, "/v1/admin/") {
		c.Next()
		return
	}
	p := principal(c)
	if p.Role == chat.RoleAdmin || (p.Role == chat.RoleOperator && (operator || operatorRoutes[c.Request.Method+" "+route])) {
		c.Next()
		return
	}
	s.writeError(c, chat.ErrForbidden)
	c.Abort()
}

// adminRoutes adds the admin core under /v1/admin (adminGuard decides who
// may use each route).
func (s *server) adminRoutes(authed *gin.RouterGroup) {
	admin := authed.Group("/admin")
	admin.GET("/users", s.wrap(s.handleAdminUsers))
	admin.GET("/users/:id", s.wrap(s.handleAdminUser))
	admin.POST("/users/:id/block", s.wrap(s.handleAdminBlock(true)))
	admin.POST("/users/:id/unblock", s.wrap(s.handleAdminBlock(false)))
	admin.PUT("/users/:id/role", s.wrap(s.handleAdminRole))
	admin.GET("/dialogs", s.wrap(s.handleAdminDialogs))
	admin.GET("/dialogs/:id", s.wrap(s.handleAdminDialog))
	admin.GET("/stats", s.wrap(s.handleAdminStats))
	admin.GET("/audit", s.wrap(s.handleAdminAudit))
	admin.POST("/broadcasts", s.wrap(s.handleStartBroadcast))
	admin.GET("/broadcasts", s.wrap(s.handleBroadcasts))
	admin.GET("/broadcasts/:id", s.wrap(s.handleBroadcast))
	admin.GET("/screens", s.wrap(s.handleAdminScreens))
	admin.GET("/screens/:name", s.wrap(s.handleAdminScreen))
	admin.PUT("/screens/:name", s.wrap(s.handleUploadScreen))
	admin.POST("/screens/:name/rollback", s.wrap(s.handleRollbackScreen))
}

func (s *server) handleAdminUsers(c *gin.Context) error {
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	f := chat.UserFilter{Query: c.Query("q"), Role: chat.Role(c.Query("role"))}
	switch c.Query("blocked") {
	case "":
	case "true":
		t := true
		f.Blocked = &t
	case "false":
		t := false
		f.Blocked = &t
	default:
		return chat.Errorf(chat.KindInvalid, "invalid_blocked", "blocked is true or false.")
	}
	if f.RegisteredFrom, err = queryTime(c, "registered_from"); err != nil {
		return err
	}
	if f.RegisteredTo, err = queryTime(c, "registered_to"); err != nil {
		return err
	}
	page, err := s.svc.AdminUsers(c.Request.Context(), principal(c), f, c.Query("cursor"), int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, page)
	return nil
}

// queryTime reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func queryTime(c *gin.Context, name string) (time.Time, error) {
	v := c.Query(name)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, chat.Errorf(chat.KindInvalid, "invalid_"+name, "%s is a date (2026-01-31) or an RFC 3339 time.", name)
}

func (s *server) handleAdminUser(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	u, err := s.svc.AdminUser(c.Request.Context(), principal(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, u)
	return nil
}

func (s *server) handleAdminBlock(blocked bool) handler {
	return func(c *gin.Context) error {
		id, err := chat.ParseID(c.Param("id"))
		if err != nil {
			return err
		}
		var req struct {
			Reason string `json:"reason"`
		}
		if c.Request.ContentLength != 0 {
			if err := decodeJSON(c, &req, maxJSONBody); err != nil {
				return err
			}
		}
		u, err := s.svc.BlockUser(c.Request.Context(), principal(c), id, blocked, req.Reason)
		if err != nil {
			return err
		}
		c.JSON(http.StatusOK, u)
		return nil
	}
}

func (s *server) handleAdminRole(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	var req struct {
		Role chat.Role `json:"role"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	u, err := s.svc.SetUserRole(c.Request.Context(), principal(c), id, req.Role)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, u)
	return nil
}

func (s *server) handleAdminDialogs(c *gin.Context) error {
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	page, err := s.svc.AdminDialogs(c.Request.Context(), principal(c), c.Query("cursor"), int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, page)
	return nil
}

func (s *server) handleAdminDialog(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	before, err := queryInt(c, "before", 1, 1<<62)
	if err != nil {
		return err
	}
	d, err := s.svc.AdminDialog(c.Request.Context(), principal(c), id, before, int(limit))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}

func (s *server) handleAdminStats(c *gin.Context) error {
	days, err := queryInt(c, "days", 1, chat.MaxStatsDays)
	if err != nil {
		return err
	}
	st, err := s.svc.Stats(c.Request.Context(), principal(c), int(days))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, st)
	return nil
}

// auditPage is a page of the audit log; Next continues it.
type auditPage struct {
	Entries []chat.AuditEntry `json:"entries"`
	Next    string            `json:"next,omitempty"`
}

func (s *server) handleAdminAudit(c *gin.Context) error {
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = chat.DefaultPage
	}
	var f chat.AuditFilter
	if v := c.Query("actor"); v != "" {
		if f.ActorID, err = chat.ParseID(v); err != nil {
			return chat.Errorf(chat.KindInvalid, "invalid_actor", "actor is a user id.")
		}
	}
	if v := c.Query("before"); v != "" {
		if f.Before, err = chat.ParseID(v); err != nil {
			return chat.ErrInvalidCursor
		}
	}
	f.Action = c.Query("action")
	f.TargetType = c.Query("target_type")
	f.TargetID = c.Query("target_id")
	if len(f.Action) > 64 || len(f.TargetType) > 32 || len(f.TargetID) > 128 || strings.ContainsRune(f.Action+f.TargetType+f.TargetID, 0) {
		return chat.Errorf(chat.KindInvalid, "invalid_param", "action, target_type and target_id are short names.")
	}
	entries, err := s.svc.AuditLog(c.Request.Context(), principal(c), f, int(limit))
	if err != nil {
		return err
	}
	page := auditPage{Entries: entries}
	if len(entries) == int(limit) {
		page.Next = chat.FormatID(entries[len(entries)-1].ID)
	}
	c.JSON(http.StatusOK, page)
	return nil
}

// Route is one method and path of the HTTP surface, as registered
// (":id" for a path parameter).
type Route struct{ Method, Path string }

// RoutesOf lists the routes of a handler NewServer returned, so tests can
// walk the surface from its one table (nil for any other handler).
func RoutesOf(h http.Handler) []Route {
	e, ok := h.(*gin.Engine)
	if !ok {
		return nil
	}
	var out []Route
	for _, r := range e.Routes() {
		out = append(out, Route{Method: r.Method, Path: r.Path})
	}
	return out
}

func (s *server) handleStartBroadcast(c *gin.Context) error {
	var req struct {
		Text    string    `json:"text"`
		Segment segmentIn `json:"segment"`
	}
	if err := decodeJSON(c, &req, maxJSONBody); err != nil {
		return err
	}
	seg, err := req.Segment.segment()
	if err != nil {
		return err
	}
	b, err := s.svc.StartBroadcast(c.Request.Context(), principal(c), req.Text, seg)
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, b)
	return nil
}

// segmentIn is a broadcast's segment as a request sends it: a condition
// sent empty ("tag":"", "role":"") is refused rather than read as absent,
// which would widen the broadcast to every user.
type segmentIn struct {
	chat.Segment
	Role *string `json:"role"`
	Tag  *string `json:"tag"`
}

// segment is the chat.Segment of in: 400 invalid_role or invalid_tags
// for a role or tag sent empty.
func (in segmentIn) segment() (chat.Segment, error) {
	seg := in.Segment
	if in.Role != nil {
		if *in.Role == "" {
			return chat.Segment{}, chat.ErrInvalidRole
		}
		seg.Role = chat.Role(*in.Role)
	}
	if in.Tag != nil {
		if *in.Tag == "" {
			return chat.Segment{}, chat.ErrInvalidTags
		}
		seg.Tag = *in.Tag
	}
	return seg, nil
}

func (s *server) handleBroadcast(c *gin.Context) error {
	id, err := chat.ParseID(c.Param("id"))
	if err != nil {
		return err
	}
	b, err := s.svc.GetBroadcast(c.Request.Context(), principal(c), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, b)
	return nil
}

// broadcastPage is a page of broadcasts; Next continues it.
type broadcastPage struct {
	Broadcasts []chat.Broadcast `json:"broadcasts"`
	Next       string           `json:"next,omitempty"`
}

func (s *server) handleBroadcasts(c *gin.Context) error {
	limit, err := queryInt(c, "limit", 1, chat.MaxPage)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = chat.DefaultPage
	}
	var before int64
	if v := c.Query("before"); v != "" {
		if before, err = chat.ParseID(v); err != nil {
			return chat.ErrInvalidCursor
		}
	}
	bs, err := s.svc.ListBroadcasts(c.Request.Context(), principal(c), before, int(limit))
	if err != nil {
		return err
	}
	page := broadcastPage{Broadcasts: bs}
	if len(bs) == int(limit) {
		page.Next = chat.FormatID(bs[len(bs)-1].ID)
	}
	c.JSON(http.StatusOK, page)
	return nil
}

// handleAdminPage serves the admin page (assets/admin/admin.html) and its
// files under /admin/. The page holds no data: everything it shows comes
// from the admin API, which checks the caller's role.
func (s *server) handleAdminPage(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	if name == "" {
		name = "admin.html"
	}
	s.serveFile(c, s.adminFS, s.adminTags, s.adminCSP, name)
}

func (s *server) handleAdminRedirect(c *gin.Context) {
	c.Redirect(http.StatusMovedPermanently, "/admin/")
}

// ScreenAdmin is the admin's screen use cases; *live.Uploaded implements
// it. Nil (screens served from a KOROBKA_SCREENS folder, which designers
// own) answers 409 screens_from_folder.
type ScreenAdmin interface {
	List(ctx context.Context, p chat.Principal) ([]live.ScreenInfo, error)
	Source(ctx context.Context, p chat.Principal, name string) (live.ScreenSource, error)
	Upload(ctx context.Context, p chat.Principal, name string, source []byte) (live.ScreenInfo, error)
	Rollback(ctx context.Context, p chat.Principal, name string) (live.ScreenInfo, error)
}

var errScreensFromFolder = chat.Errorf(chat.KindConflict, "screens_from_folder",
	"Screens are served from a KOROBKA_SCREENS folder here: edit the files instead.")

func (s *server) handleAdminScreens(c *gin.Context) error {
	if s.screenAdmin == nil {
		return errScreensFromFolder
	}
	list, err := s.screenAdmin.List(c.Request.Context(), principal(c))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"screens": list})
	return nil
}

func (s *server) handleAdminScreen(c *gin.Context) error {
	if s.screenAdmin == nil {
		return errScreensFromFolder
	}
	src, err := s.screenAdmin.Source(c.Request.Context(), principal(c), c.Param("name"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, src)
	return nil
}

// yamlTypes are the media types a screen upload may be sent as.
var yamlTypes = map[string]bool{"application/yaml": true, "application/x-yaml": true, "text/yaml": true, "text/x-yaml": true, "text/plain": true}

func (s *server) handleUploadScreen(c *gin.Context) error {
	if s.screenAdmin == nil {
		return errScreensFromFolder
	}
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || !yamlTypes[mt] {
		return chat.Errorf(chat.KindUnsupported, "unsupported_media_type", "Send the screen as application/yaml (or text/plain).")
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, live.MaxScreenSource))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooBig
		}
		if errors.Is(err, errBodyTimeout) {
			return errBodyTimeout
		}
		return err
	}
	info, err := s.screenAdmin.Upload(c.Request.Context(), principal(c), c.Param("name"), data)
	var inv *live.ErrScreenInvalid
	if errors.As(err, &inv) {
		// The error body with the diagnostics beside it, worded in the
		// caller's language like every other error.
		lang := wire.ErrorLang(c.GetHeader("Accept-Language"))
		c.Header("Vary", "Accept-Language")
		c.Header("Content-Language", lang)
		c.JSON(http.StatusBadRequest, gin.H{
			"error":       gin.H{"code": errInvalidScreen.Code, "message": wire.LocalMessage(errInvalidScreen, lang)},
			"diagnostics": inv.Diagnostics,
		})
		return nil
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, info)
	return nil
}

func (s *server) handleRollbackScreen(c *gin.Context) error {
	if s.screenAdmin == nil {
		return errScreensFromFolder
	}
	info, err := s.screenAdmin.Rollback(c.Request.Context(), principal(c), c.Param("name"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, info)
	return nil
}
