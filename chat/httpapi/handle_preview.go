package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/live"
)

// The designer preview (assets/web/preview.js) draws one screen with a
// fixture beside its YAML and redraws when a file changes:
//
//	GET /preview/                       preview.html (static, like /app/)
//	GET /preview/api/screens            {"screens":[{"name","fixtures"}],"langs"}
//	GET /preview/api/source?name=       the screen's YAML, text/plain
//	GET /preview/api/render?name=&lang=&theme=&caps=&fixture=
//	                                    a layout, or {"diagnostics":[...]}
//	GET /preview/api/events             text/event-stream, "reload" per reload
//
// The static page holds nothing the shell does not; the API shows sources
// and sample data, so it is open in development mode (KOROBKA_DEV) and to
// admins otherwise. What it shows comes from chat/live's Preview.

// sseHeartbeat keeps idle event streams alive through proxies that drop
// silent connections (commonly after 30-60 s).
const sseHeartbeat = 25 * time.Second

func (s *server) handlePreviewRedirect(c *gin.Context) {
	c.Redirect(http.StatusMovedPermanently, "/preview/")
}

// handlePreview serves the page and its files, and the API under api/.
func (s *server) handlePreview(c *gin.Context) {
	file := strings.TrimPrefix(c.Param("file"), "/")
	endpoint, isAPI := strings.CutPrefix(file, "api/")
	if !isAPI {
		if file == "" {
			file = "preview.html"
		}
		s.serveWeb(c, file)
		return
	}
	c.Header("Cache-Control", "no-store")
	err := s.previewAllowed(c)
	if err == nil {
		switch endpoint {
		case "screens":
			err = s.previewScreens(c)
		case "source":
			err = s.previewSource(c)
		case "render":
			err = s.previewRender(c)
		case "events":
			err = s.previewEvents(c)
		default:
			err = chat.Errorf(chat.KindNotFound, "not_found", "No such endpoint.")
		}
	}
	if err != nil {
		s.writeError(c, err)
	}
}

// previewAllowed lets anyone in during development, else admins only. The
// token comes as a Bearer header or, for EventSource, which cannot send
// headers, as ?access_token= (as the WebSocket takes it).
func (s *server) previewAllowed(c *gin.Context) error {
	if s.dev {
		return nil
	}
	token, ok := bearer(c.GetHeader("Authorization"))
	if !ok {
		token = c.Query("access_token")
	}
	if token == "" {
		return chat.Errorf(chat.KindUnauthorized, "missing_token", "The preview needs an admin: send Authorization: Bearer <access_token>.")
	}
	p, err := s.svc.Authenticate(c.Request.Context(), token)
	if err != nil {
		return err
	}
	if p.Role != chat.RoleAdmin {
		return chat.Errorf(chat.KindForbidden, "forbidden", "The screen preview is for admins.")
	}
	return nil
}

// previewScreens lists the screens being served, each with its fixtures,
// and the languages of strings/.
func (s *server) previewScreens(c *gin.Context) error {
	screens, langs := s.preview.Catalogue()
	c.JSON(http.StatusOK, struct {
		Screens []live.PreviewScreen `json:"screens"`
		Langs   []string             `json:"langs"`
	}{screens, langs})
	return nil
}

// previewSource answers a screen's YAML as the designer wrote it.
func (s *server) previewSource(c *gin.Context) error {
	data, err := s.preview.Source(c.Query("name"))
	if err != nil {
		return err
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", data)
	return nil
}

// diagnosticsBody answers a preview whose screen fails lint or render.
type diagnosticsBody struct {
	Diagnostics []live.Diagnostic `json:"diagnostics"`
}

// previewRender renders a screen with a fixture's data. Lint failures of
// the watched folder and render failures of the fixture are answered 200
// with diagnostics: the preview worked, the screen did not.
func (s *server) previewRender(c *gin.Context) error {
	body, lang, diags, err := s.preview.Render(c.Request.Context(), live.PreviewRequest{
		Name: c.Query("name"), Lang: c.Query("lang"), Theme: c.Query("theme"),
		Caps: c.Query("caps"), Fixture: c.Query("fixture"),
	})
	if err != nil {
		return err
	}
	if diags != nil {
		c.JSON(http.StatusOK, diagnosticsBody{diags})
		return nil
	}
	c.Header("Content-Language", lang)
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	return nil
}

// previewEvents streams "reload" on every reload attempt of the watched
// folder, applied or refused, until the client goes or the server stops.
// A comment line every sseHeartbeat keeps the connection alive.
func (s *server) previewEvents(c *gin.Context) error {
	events, stop := s.preview.Reloads()
	defer stop()
	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("X-Accel-Buffering", "no") // nginx: do not hold events back
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return nil
	}
	w.Flush()
	tick := time.NewTicker(s.heartbeat)
	defer tick.Stop()
	for {
		var msg []byte
		select {
		case <-c.Request.Context().Done():
			return nil
		case <-s.done:
			return nil
		case <-tick.C:
			msg = []byte(": heartbeat\n\n")
		case r := <-events:
			data, err := json.Marshal(s.preview.Event(r))
			if err != nil {
				return nil
			}
			msg = fmt.Appendf(nil, "event: reload\ndata: %s\n\n", data)
		}
		if _, err := w.Write(msg); err != nil {
			return nil // the client went; nothing to answer
		}
		w.Flush()
	}
}
