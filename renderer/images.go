package renderer

import (
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// A screens folder carries its images (the logo, pictures of content) in
// images/; shells load them from /assets/<path under images/>. Lint checks
// that every /assets/ URL a theme, screen or content seed names is there.

// AssetsPrefix is the URL path images/ of a screens folder is served at.
const AssetsPrefix = "/assets/"

// imageExts are the file types images/ may hold.
var imageExts = []string{".svg", ".png", ".jpg", ".jpeg", ".webp", ".gif"}

// IsImageName says whether name has one of the extensions images/ may hold.
func IsImageName(name string) bool { return contains(imageExts, strings.ToLower(path.Ext(name))) }

// readImages lists images/ (no contents: only names matter to layouts).
func (ld *loader) readImages(fsys fs.FS) error {
	err := fs.WalkDir(fsys, "images", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		if len(ld.images) >= maxFiles {
			ld.d.add(p, 1, 1, "more than %d images", maxFiles)
			return fs.SkipAll
		}
		if !IsImageName(p) {
			ld.d.add(p, 1, 1, "images/ holds images only (%s)", strings.Join(imageExts, ", "))
			return nil
		}
		ld.images[p] = true
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// checkImage reports a /assets/ URL whose file is not in images/. Other
// URLs (https://…, expressions) are not the folder's to check.
func (ld *loader) checkImage(file string, line, col int, url string) {
	rel, ok := strings.CutPrefix(url, AssetsPrefix)
	if !ok {
		return
	}
	if rel, _, _ = strings.Cut(rel, "?"); ld.images["images/"+rel] {
		return
	}
	near := ""
	if len(ld.images) > 0 {
		names := make([]string, 0, len(ld.images))
		for n := range ld.images {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(names) > 8 {
			names = append(names[:8], "…")
		}
		near = " (images/ has " + strings.Join(names, ", ") + ")"
	}
	ld.d.add(file, line, col, "image %s is not in the screens folder: add images/%s%s", url, rel, near)
}

// checkLogo checks the theme's logo URLs.
func (ld *loader) checkLogo() {
	logo := mapGet(ld.themeDoc, "logo")
	for _, mode := range []string{"light", "dark"} {
		if n := mapGet(logo, mode); n != nil {
			ld.checkImage("theme.yaml", n.Line, n.Column, n.Value)
		}
	}
}
