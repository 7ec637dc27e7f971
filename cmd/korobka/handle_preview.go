package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/renderer"
	"github.com/korobka/korobka/screens"
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
// admins otherwise. Sources and fixtures come from the same folder as the
// screens: KOROBKA_SCREENS, or the embedded set.

// sseHeartbeat keeps idle event streams alive through proxies that drop
// silent connections (commonly after 30-60 s).
const sseHeartbeat = 25 * time.Second

// reloads is what a watched screens folder adds to Screens: the preview
// checks for it by type assertion; the embedded set never reloads.
type reloads interface {
	Subscribe() (<-chan renderer.Reload, func())
	Last() renderer.Reload
}

var (
	screenName  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	fixtureName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}(\.[a-z0-9_-]{1,64})?$`)
)

// diagnostic is renderer.Diagnostic as the preview reads it.
type diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

type diagnosticsBody struct {
	Diagnostics []diagnostic `json:"diagnostics"`
}

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

type previewScreen struct {
	Name     string   `json:"name"`
	Fixtures []string `json:"fixtures"`
}

// previewScreens lists the screens being served, each with its fixtures
// (fixtures/<screen>[.case].json), and the languages of strings/.
func (s *server) previewScreens(c *gin.Context) error {
	fixtures := map[string][]string{}
	if entries, err := fs.ReadDir(s.screenFiles, "fixtures"); err == nil {
		for _, e := range entries {
			stem, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || e.IsDir() {
				continue
			}
			screen, _, _ := strings.Cut(stem, ".")
			fixtures[screen] = append(fixtures[screen], stem)
		}
	}
	langs := []string{}
	if entries, err := fs.ReadDir(s.screenFiles, "strings"); err == nil {
		for _, e := range entries {
			if l, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
				langs = append(langs, l)
			}
		}
	}
	out := struct {
		Screens []previewScreen `json:"screens"`
		Langs   []string        `json:"langs"`
	}{Screens: []previewScreen{}, Langs: langs}
	for _, name := range s.screens.Current().Screens() {
		fx := fixtures[name]
		if fx == nil {
			fx = []string{}
		}
		slices.Sort(fx)
		out.Screens = append(out.Screens, previewScreen{Name: name, Fixtures: fx})
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// previewSource answers a screen's YAML as the designer wrote it.
func (s *server) previewSource(c *gin.Context) error {
	name := c.Query("name")
	if !screenName.MatchString(name) {
		return chat.Errorf(chat.KindNotFound, "unknown_screen", "No such screen.")
	}
	data, err := fs.ReadFile(s.screenFiles, name+".yaml")
	if errors.Is(err, fs.ErrNotExist) {
		return chat.Errorf(chat.KindNotFound, "unknown_screen", "No such screen.")
	}
	if err != nil {
		return err
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", data)
	return nil
}

// previewRender renders a screen with a fixture's data. Lint failures of
// the watched folder and render failures of the fixture are answered 200
// with diagnostics: the preview worked, the screen did not.
func (s *server) previewRender(c *gin.Context) error {
	if d := s.previewDiagnostics(); len(d) > 0 {
		c.JSON(http.StatusOK, diagnosticsBody{d})
		return nil
	}
	eng := s.screens.Current()
	name := c.Query("name")
	if _, ok := eng.Screen(name); !ok {
		return chat.Errorf(chat.KindNotFound, "unknown_screen", "No such screen.")
	}
	theme := c.DefaultQuery("theme", "light")
	if theme != "light" && theme != "dark" {
		return chat.Errorf(chat.KindInvalid, "invalid_param", "theme is light or dark.")
	}
	fixture := c.Query("fixture")
	explicit := fixture != ""
	if !explicit {
		fixture = name
	}
	if !fixtureName.MatchString(fixture) || !(fixture == name || strings.HasPrefix(fixture, name+".")) {
		return chat.Errorf(chat.KindNotFound, "unknown_fixture", "No such fixture for this screen.")
	}
	file := path.Join("fixtures", fixture+".json")
	fx := &renderer.Fixture{}
	data, err := fs.ReadFile(s.screenFiles, file)
	switch {
	case err == nil:
		if fx, err = renderer.ParseFixture(data); err != nil {
			c.JSON(http.StatusOK, diagnosticsBody{[]diagnostic{{file, 1, 1, err.Error()}}})
			return nil
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		// No sample data: render what the screen shows without any.
	case errors.Is(err, fs.ErrNotExist):
		return chat.Errorf(chat.KindNotFound, "unknown_fixture", "No such fixture for this screen.")
	default:
		return err
	}
	req := fx.Request(name, c.Query("lang"), theme)
	if c.Query("lang") == "" {
		req.Langs = nil
	}
	req.Caps = renderer.ParseShell("web/1 (components: " + c.Query("caps") + ")")
	body, _, err := eng.AppendRender(c.Request.Context(), nil, req, fx.Provider())
	if err != nil {
		at := file
		if !explicit && data == nil {
			at = name + ".yaml"
		}
		c.JSON(http.StatusOK, diagnosticsBody{[]diagnostic{{at, 1, 1, "render: " + err.Error()}}})
		return nil
	}
	c.Header("Content-Language", eng.Lang(req.Langs))
	c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	return nil
}

// previewDiagnostics reports why the watched folder's latest files were
// refused, or nothing when they are served.
func (s *server) previewDiagnostics() []diagnostic {
	r, ok := s.screens.(reloads)
	if !ok {
		return nil
	}
	return reloadDiagnostics(r.Last())
}

func reloadDiagnostics(r renderer.Reload) []diagnostic {
	out := []diagnostic{}
	if r.Applied {
		return out
	}
	for _, d := range r.Diagnostics {
		out = append(out, diagnostic{d.File, d.Line, d.Col, d.Message})
	}
	if len(out) == 0 && r.Err != nil {
		out = append(out, diagnostic{".", 1, 1, r.Err.Error()})
	}
	return out
}

// previewEvents streams "reload" on every reload attempt of the watched
// folder, applied or refused, until the client goes or the server stops.
// A comment line every sseHeartbeat keeps the connection alive.
func (s *server) previewEvents(c *gin.Context) error {
	var (
		events <-chan renderer.Reload
		stop   = func() {}
	)
	if r, ok := s.screens.(reloads); ok {
		events, stop = r.Subscribe()
	}
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
			data, err := json.Marshal(struct {
				Applied     bool         `json:"applied"`
				Rev         string       `json:"rev,omitempty"`
				Diagnostics []diagnostic `json:"diagnostics"`
			}{r.Applied, engineRev(r.Engine), reloadDiagnostics(r)})
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

func engineRev(e *renderer.Engine) string {
	if e == nil {
		return ""
	}
	return e.Rev()
}

// screenFiles is the folder the screens load from, for the preview's
// sources and fixtures.
func screenFiles(cfg Config) fs.FS {
	if cfg.Screens != "" {
		return os.DirFS(cfg.Screens)
	}
	return screens.FS
}
