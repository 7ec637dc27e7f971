// Package assets holds the static files korobka serves itself. web/ is the
// reference web shell: plain ES modules with no build step, so what is in
// the repository is exactly what browsers run.
package assets

import "embed"

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
