package httpapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/korobka/korobka/assets"
	"github.com/korobka/korobka/chat"
)

// The web shell and the designer preview are the files of assets/web,
// embedded: /app/ serves index.html, /preview/ serves preview.html, and
// both pages load the same modules by relative path. Every answer says
// no-cache with a strong ETag, so a deploy shows on the next load and an
// unchanged file costs a 304.

// webTypes are the content types of the shell's files; anything else is
// not served. Fixed here rather than taken from the system's mime.types,
// which differ between machines (.js especially).
var webTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
	".gif":  "image/gif",
	".json": "application/json",
}

// cspMeta finds the Content-Security-Policy of an HTML page's meta tag.
var cspMeta = regexp.MustCompile(`(?i)<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"`)

// loadWeb indexes assets/web and assets/admin once: ETags from the bytes,
// and for each page the header policy, which is the page's own meta policy
// plus what only a header can say (frame-ancestors): never looser than the
// page.
func (s *server) loadWeb() error {
	web, err := fs.Sub(assets.Web, "web")
	if err != nil {
		return err
	}
	s.web = web
	if s.webTags, s.webCSP, err = indexWeb(web, "assets/web"); err != nil {
		return err
	}
	if s.adminFS, err = fs.Sub(assets.Admin, "admin"); err != nil {
		return err
	}
	s.adminTags, s.adminCSP, err = indexWeb(s.adminFS, "assets/admin")
	return err
}

func indexWeb(web fs.FS, dir string) (tags, csp map[string]string, err error) {
	tags, csp = map[string]string{}, map[string]string{}
	err = fs.WalkDir(web, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(web, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		tags[p] = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		if strings.HasSuffix(p, ".html") {
			m := cspMeta.FindSubmatch(data)
			if m == nil {
				return fmt.Errorf("%s/%s: no Content-Security-Policy meta tag", dir, p)
			}
			csp[p] = strings.TrimRight(strings.TrimSpace(string(m[1])), ";") + "; frame-ancestors 'none'"
		}
		return nil
	})
	return tags, csp, err
}

// serveWeb answers one file of assets/web.
func (s *server) serveWeb(c *gin.Context, name string) {
	s.serveFile(c, s.web, s.webTags, s.webCSP, name)
}

// serveFile answers one file of an indexed folder.
func (s *server) serveFile(c *gin.Context, web fs.FS, tags, csps map[string]string, name string) {
	etag, ok := tags[name]
	typ := webTypes[path.Ext(name)]
	if !ok || typ == "" {
		s.writeError(c, chat.Errorf(chat.KindNotFound, "not_found", "No such file."))
		return
	}
	data, err := fs.ReadFile(web, name)
	if err != nil {
		s.writeError(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", typ)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	if csp := csps[name]; csp != "" {
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "no-referrer")
	}
	// Embedded files have no modification time: the ETag alone validates.
	http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(data))
}

// handleApp serves the web shell under /app/.
func (s *server) handleApp(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	if name == "" {
		name = "index.html"
	}
	s.serveWeb(c, name)
}

// handleRoot sends a browser that opened the server's address to the shell.
// Found, not Moved Permanently: browsers cache a permanent redirect of /
// forever.
func (s *server) handleRoot(c *gin.Context) {
	c.Redirect(http.StatusFound, "/app/")
}

func (s *server) handleAppRedirect(c *gin.Context) {
	c.Redirect(http.StatusMovedPermanently, "/app/")
}

// handleAsset serves the images screens point at: the screens folder's
// images/ (the theme's logo at /assets/logo.svg, pictures of content), then
// images of assets/web. Anything but an image is 404.
func (s *server) handleAsset(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	if !strings.HasPrefix(webTypes[path.Ext(name)], "image/") {
		s.writeError(c, chat.Errorf(chat.KindNotFound, "not_found", "No such file."))
		return
	}
	if s.images != nil && fs.ValidPath(name) {
		// A watched folder changes under us: read the file per request
		// (images are small; the ETag lets browsers keep them).
		if data, err := fs.ReadFile(s.images, name); err == nil {
			sum := sha256.Sum256(data)
			h := c.Writer.Header()
			h.Set("Content-Type", webTypes[path.Ext(name)])
			h.Set("Cache-Control", "no-cache")
			h.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:12])+`"`)
			if path.Ext(name) == ".svg" {
				// An SVG opened directly must not run script.
				h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
			}
			http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(data))
			return
		}
	}
	s.serveWeb(c, name)
}
