package renderer

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Brands: one screens folder, several looks. themes/<brand>/theme.yaml is a
// complete theme (colours, logo, typography, spacing, radii, styles) that
// replaces theme.yaml when the server runs with that brand (KOROBKA_BRAND),
// so a rebrand is one file and the images it names. Lint checks every
// brand against every screen.

// BrandsDir holds the alternative themes of a screens folder.
const BrandsDir = "themes"

// Brands lists the brands of a screens folder (themes/<name>/theme.yaml),
// sorted.
func Brands(fsys fs.FS) ([]string, error) {
	ents, err := fs.ReadDir(fsys, BrandsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ent := range ents {
		if !ent.IsDir() || strings.HasPrefix(ent.Name(), ".") {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(BrandsDir, ent.Name(), "theme.yaml")); err == nil {
			out = append(out, ent.Name())
		}
	}
	return out, nil
}

// BrandFS returns fsys with theme.yaml replaced by themes/<brand>/theme.yaml.
// An empty brand returns fsys itself; a brand the folder lacks is an error
// that lists the brands it has.
func BrandFS(fsys fs.FS, brand string) (fs.FS, error) {
	if brand == "" {
		return fsys, nil
	}
	if !nameRE.MatchString(brand) {
		return nil, fmt.Errorf("brand %q: names are lower_snake_case", brand)
	}
	file := path.Join(BrandsDir, brand, "theme.yaml")
	if _, err := fs.Stat(fsys, file); err != nil {
		have, _ := Brands(fsys)
		return nil, fmt.Errorf("brand %q: no %s in the screens folder (brands: %s)", brand, file, strings.Join(append([]string{"default"}, have...), ", "))
	}
	return brandFS{fsys, file}, nil
}

type brandFS struct {
	fs.FS
	theme string
}

func (b brandFS) Open(name string) (fs.File, error) {
	if name == "theme.yaml" {
		return b.FS.Open(b.theme)
	}
	return b.FS.Open(name)
}

// lintBrands loads the folder with each brand's theme and reports what
// fails with it and not with theme.yaml: theme findings at the brand's
// file, screen findings named with the brand.
func lintBrands(fsys fs.FS, base []Diagnostic) []Diagnostic {
	brands, err := Brands(fsys)
	if err != nil {
		return append(base, Diagnostic{File: BrandsDir, Line: 1, Col: 1, Message: err.Error()})
	}
	seen := make(map[Diagnostic]bool, len(base))
	for _, d := range base {
		seen[d] = true
	}
	out := base
	for _, b := range brands {
		bfs, err := BrandFS(fsys, b)
		if err != nil {
			out = append(out, Diagnostic{File: BrandsDir, Line: 1, Col: 1, Message: err.Error()})
			continue
		}
		file := path.Join(BrandsDir, b, "theme.yaml")
		_, ds, err := Load(bfs)
		if err != nil && len(ds) == 0 {
			out = append(out, Diagnostic{File: file, Line: 1, Col: 1, Message: err.Error()})
		}
		for _, d := range ds {
			if seen[d] {
				continue
			}
			if d.File == "theme.yaml" {
				d.File = file
			} else {
				d.Message = "with " + file + ": " + d.Message
			}
			out = append(out, d)
		}
	}
	all := &diags{list: out}
	return all.sorted()
}
