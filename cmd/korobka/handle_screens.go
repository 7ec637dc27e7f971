package main

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/renderer"
)

// Screens gives the engine to render with: fixed when screens are
// embedded, the latest good one when a folder is watched.
type Screens interface {
	Current() *renderer.Engine
}

// fixedScreens serves one engine for the life of the process.
type fixedScreens struct{ e *renderer.Engine }

func (f fixedScreens) Current() *renderer.Engine { return f.e }

// screenVary lists every request header that changes a layout.
const screenVary = "Authorization, Accept-Language, X-Korobka-Shell, X-Korobka-Theme"

// handleScreen renders GET /v1/screens/{name}. Login and otp are public;
// every other screen needs a token. The ETag is computed from the data
// versions before rendering, so If-None-Match answers 304 without a render.
func (s *server) handleScreen(c *gin.Context) error {
	eng := s.screens.Current()
	name := c.Param("name")
	scr, ok := eng.Screen(name)
	if !ok {
		return chat.Errorf(chat.KindNotFound, "unknown_screen", "No such screen.")
	}
	var (
		p      chat.Principal
		authed bool
	)
	if token, ok := bearer(c.GetHeader("Authorization")); ok {
		var err error
		if p, err = s.svc.Authenticate(c.Request.Context(), token); err != nil {
			return err
		}
		authed = true
	} else if !scr.Public {
		return chat.Errorf(chat.KindUnauthorized, "missing_token", "Send Authorization: Bearer <access_token>.")
	}

	req := renderer.Request{
		Screen: name,
		Params: map[string]string{},
		Langs:  renderer.ParseAcceptLanguage(c.GetHeader("Accept-Language")),
		Theme:  screenTheme(c),
		Caps:   renderer.ParseShell(c.GetHeader("X-Korobka-Shell")),
	}
	if authed {
		req.Viewer = chat.FormatID(p.UserID)
	}
	for k, v := range c.Request.URL.Query() {
		if k != "theme" && len(v) > 0 {
			req.Params[k] = v[0]
		}
	}
	data := newScreenData(s.svc, s.content, p, authed)
	ctx := c.Request.Context()
	c.Header("Vary", screenVary)
	c.Header("Cache-Control", "private, no-cache")
	etag, err := eng.ETag(ctx, req, data)
	if err != nil {
		return renderError(err)
	}
	if etagMatch(c.GetHeader("If-None-Match"), etag) {
		c.Header("ETag", etag)
		c.Status(http.StatusNotModified)
		return nil
	}
	body, etag, err := eng.AppendRender(ctx, nil, req, data)
	if err != nil {
		return renderError(err)
	}
	c.Header("ETag", etag)
	c.Header("Content-Language", eng.Lang(req.Langs))
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	return nil
}

// screenTheme reads the shell's theme: ?theme= or X-Korobka-Theme, light
// or dark (the shell follows the system setting).
func screenTheme(c *gin.Context) string {
	t := c.Query("theme")
	if t == "" {
		t = c.GetHeader("X-Korobka-Theme")
	}
	if t == "dark" {
		return "dark"
	}
	return "light"
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
