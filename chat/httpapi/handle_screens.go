package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/live"
)

// screenVary lists every request header that changes a layout.
const screenVary = "Authorization, Accept-Language, X-Korobka-Shell, X-Korobka-Theme, X-Korobka-TZ"

// handleScreen renders GET /v1/screens/{name}. Login and otp are public;
// every other screen needs a token. The ETag is computed from the data
// versions before rendering, so If-None-Match answers 304 without a render.
func (s *server) handleScreen(c *gin.Context) error {
	req := live.Request{
		Screen: c.Param("name"),
		Params: map[string]string{},
		Lang:   c.GetHeader("Accept-Language"),
		Theme:  screenTheme(c),
		Shell:  c.GetHeader("X-Korobka-Shell"),
		TZ:     requestTZ(c),
	}
	for k, v := range c.Request.URL.Query() {
		if k != "theme" && len(v) > 0 {
			req.Params[k] = v[0]
		}
	}
	public, err := s.screens.Public(req.Screen)
	if err != nil {
		return err
	}
	var viewer *chat.Principal
	if token, ok := bearer(c.GetHeader("Authorization")); ok {
		p, err := s.svc.Authenticate(c.Request.Context(), token)
		if err != nil {
			return err
		}
		viewer = &p
		s.noteTimeZone(c, p)
	} else if !public {
		return errMissingToken
	}
	c.Header("Vary", screenVary)
	c.Header("Cache-Control", "private, no-cache")
	inm := c.GetHeader("If-None-Match")
	page, err := s.screens.Render(c.Request.Context(), req, viewer, func(etag string) bool { return etagMatch(inm, etag) })
	if err != nil {
		return err
	}
	c.Header("ETag", page.ETag)
	if page.Body == nil {
		c.Status(http.StatusNotModified)
		return nil
	}
	c.Header("Content-Language", page.Lang)
	c.Data(http.StatusOK, "application/json; charset=utf-8", page.Body)
	return nil
}

// screenTheme reads the shell's theme: ?theme= or X-Korobka-Theme, light
// or dark (the shell follows the system setting).
func screenTheme(c *gin.Context) string {
	t := c.Query("theme")
	if t == "" {
		t = c.GetHeader("X-Korobka-Theme")
	}
	return t
}

// etagMatch reports whether an If-None-Match header names etag.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
