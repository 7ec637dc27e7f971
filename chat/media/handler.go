package media

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/korobka/korobka/chat"
)

// URLPrefix is where Handler expects to be mounted; chat.AvatarURL and the
// signed attachment URLs (chat.MediaSigner) build paths under it.
const URLPrefix = "/media/"

// Handler serves the Store's files. It expects the full request path,
// prefix included ("/media/avatars/<hex>.jpg"), and strips URLPrefix itself,
// so it can be mounted as is: mux.Handle("/media/", s.Handler(...)) or, with
// gin, r.GET("/media/*path", gin.WrapH(s.Handler(...))). Do not wrap it in
// http.StripPrefix.
//
// Avatars (avatars/<hex>.jpg and _thumb.jpg) are public: their names are
// unguessable and never reused, so they carry a year-long public,
// immutable cache. Attachments (uploads/<hex>.jpg, _thumb.jpg, and .bin
// with its sidecar) are served only for a URL that signer made and that
// has not expired (chat.MediaSigner.Check: 403 with the error code as plain
// text otherwise), with a private cache that ends with the URL. now is the
// clock the expiry is checked against (nil: time.Now).
//
// Every file is served with byte ranges (Range, 206, If-Range, 416), so
// video players seek and downloads resume; a video (a .bin whose sidecar
// type is a video type) is served inline, any other file as a download.
//
// Directories, dotfiles (including in-flight temp files), symlinks leading
// outside the folder, files outside those two folders and any other name
// answer 404. Every answer carries nosniff.
func (s *Store) Handler(signer *chat.MediaSigner, now func() time.Time) http.Handler {
	return s.GatedHandler(signer, now, nil)
}

// GatedHandler is Handler that also refuses a dialog's URLs signed with an
// older media generation than gate reports (403 media_url_revoked): those
// made before a removal from the group. gate nil checks nothing more.
func (s *Store) GatedHandler(signer *chat.MediaSigner, now func() time.Time, gate chat.MediaGate) http.Handler {
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveFile(w, r, signer, now, gate)
	})
}

func (s *Store) serveFile(w http.ResponseWriter, r *http.Request, signer *chat.MediaSigner, now func() time.Time, gate chat.MediaGate) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, URLPrefix)
	if !ok || !servableName(name) {
		http.NotFound(w, r)
		return
	}
	folder, file, _ := strings.Cut(name, "/")
	var ctype, disposition, cache string
	switch folder {
	case avatarPrefix, contentPrefix:
		if strings.Contains(file, "/") {
			http.NotFound(w, r)
			return
		}
		ctype = contentType(path.Ext(file))
		cache = "public, max-age=31536000, immutable"
	case uploadPrefix:
		base, variant, ok := uploadFile(file)
		if !ok || signer == nil {
			http.NotFound(w, r)
			return
		}
		t := now()
		scope, expires, err := signer.CheckScope(uploadPrefix+"/"+base, r.URL.Query(), t)
		if err == nil && gate != nil && scope.Dialog != 0 {
			gen, gerr := gate.MediaGeneration(r.Context(), scope.Dialog)
			if gerr != nil || gen != scope.Gen {
				err = chat.ErrMediaURLRevoked
			}
		}
		if err != nil {
			// Checked before the file is looked for: the answer says
			// nothing about whether it exists.
			http.Error(w, chat.ErrorOf(err).Code, http.StatusForbidden)
			return
		}
		cache = "private, max-age=" + strconv.FormatInt(max(int64(expires.Sub(t)/time.Second), 0), 10)
		ctype = "image/jpeg"
		if variant == ".bin" {
			// A file attachment: its sniffed type and display name are in
			// the sidecar; it is always downloaded, never shown in our
			// origin.
			meta, ok := s.readMeta(uploadPrefix + "/" + base + ".json")
			if !ok {
				http.NotFound(w, r)
				return
			}
			ctype = meta.Mime
			disposition = "attachment; filename*=UTF-8''" + encodeRFC5987(meta.Name)
			if IsVideoType(meta.Mime) {
				// A video plays in the shell's player; the sandbox
				// and nosniff still keep it from being anything else.
				disposition = "inline; filename*=UTF-8''" + encodeRFC5987(meta.Name)
			}
		}
	}
	if ctype == "" {
		http.NotFound(w, r)
		return
	}
	// OpenInRoot refuses to leave s.dir, even through a symlink.
	f, err := os.OpenInRoot(s.dir, filepath.FromSlash(name))
	if err != nil {
		// Missing files, symlink escapes, permission problems: the
		// client learns nothing more than "not here".
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", ctype)
	if disposition != "" {
		h.Set("Content-Disposition", disposition)
		h.Set("Content-Security-Policy", "sandbox")
	}
	h.Set("Cache-Control", cache)
	// Keys are never reused and files never rewritten, so the name is a
	// strong validator: If-Range with it (or with Last-Modified) resumes
	// a download or a seek, If-None-Match answers 304.
	h.Set("ETag", `"`+strings.ReplaceAll(name, "/", "-")+`"`)
	// ServeContent handles HEAD, Range (206, multipart ranges, 416 for a
	// range that starts past the end), If-Range, If-None-Match and
	// If-Modified-Since; with Content-Type set it does not sniff.
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// uploadFile splits the name of an upload's file into its key's last
// segment and the variant: ".jpg", "_thumb.jpg" or ".bin".
func uploadFile(file string) (base, variant string, ok bool) {
	for _, v := range []string{"_thumb.jpg", ".jpg", ".bin"} {
		if b, found := strings.CutSuffix(file, v); found && validKey(b) && !strings.ContainsAny(b, "/_") {
			return b, v, true
		}
	}
	return "", "", false
}

// servableName accepts a relative slash-separated path whose segments are
// non-empty, do not start with a dot (no "..", no hidden or temp files) and
// use only [A-Za-z0-9_.-]. Anything else is not a name the Store writes.
func servableName(name string) bool {
	if name == "" {
		return false
	}
	for seg := range strings.SplitSeq(name, "/") {
		if seg == "" || seg[0] == '.' {
			return false
		}
		for _, c := range seg {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
				return false
			}
		}
	}
	return true
}

// contentType maps the extensions the Store may hold to their types. It is
// a fixed list rather than mime.TypeByExtension so the answer does not depend
// on the host's mime tables, and so a stray .html or .svg dropped into the
// folder is never served from our origin.
func contentType(ext string) string {
	switch strings.ToLower(ext) {
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".gif":
		return "image/gif"
	case ".webp":
		return "image/webp"
	}
	return ""
}

// readMeta reads an upload's sidecar, refusing anything odd.
func (s *Store) readMeta(name string) (uploadMeta, bool) {
	f, err := os.OpenInRoot(s.dir, filepath.FromSlash(name))
	if err != nil {
		return uploadMeta{}, false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4<<10))
	var m uploadMeta
	if err != nil || json.Unmarshal(b, &m) != nil || m.Mime == "" {
		return uploadMeta{}, false
	}
	return m, true
}

// encodeRFC5987 percent-encodes a file name for filename*=UTF-8”...:
// only RFC 5987 attr-chars stay as they are, so no quote, semicolon, space
// or line break reaches the header.
func encodeRFC5987(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
