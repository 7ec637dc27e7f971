// Package assets holds the static files korobka serves itself. web/ is the
// reference web shell: plain ES modules with no build step, so what is in
// the repository is exactly what browsers run.
package assets

import (
	"embed"
	"io/fs"
	"strings"
)

// Web holds web/: serve fs.Sub(Web, "web") at /app/ (index.html is the
// shell) and at /preview/ (preview.html is the designer preview); both
// pages load the same modules by relative path.
//
//go:embed web
var Web embed.FS

// Admin holds admin/: the admin page, served at /admin/ (admin.html). It
// is no part of the shell: phones never load it, so it does not count
// against the shell's size budget.
//
//go:embed admin
var Admin embed.FS

// Icons returns the icon catalogue: the names of web/icons/<name>.svg,
// sorted. It is the one list screens may name (the renderer's lint and
// the schemas read it) and the set the web shell draws; the files are
// Lucide icons (web/icons/LICENSE.md).
func Icons() []string {
	entries, err := fs.ReadDir(Web, "web/icons")
	if err != nil {
		panic("assets: web/icons missing from the embedded files: " + err.Error())
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".svg"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	return names // fs.ReadDir sorts by name
}
