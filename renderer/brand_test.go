package renderer

import (
	"bytes"
	"context"
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/korobka/korobka/screens"
)

// The meridian brand restyles every screen through its theme.yaml alone:
// every colour of every layout is one of its tokens, and its logo shows.
func TestBrandRestylesEveryScreen(t *testing.T) {
	bfs, err := BrandFS(screens.FS, "meridian")
	if err != nil {
		t.Fatal(err)
	}
	brand, d, err := Load(bfs)
	if err != nil {
		t.Fatalf("load with meridian: %v %v", err, d)
	}
	def := loadShipped(t)
	// The brand's colours per mode, from its own file.
	var th diags
	src, _ := fs.ReadFile(screens.FS, "themes/meridian/theme.yaml")
	mt := loadTheme("themes/meridian/theme.yaml", parseYAML("theme.yaml", src, &th), &th)
	hex := regexp.MustCompile(`"(#[0-9A-Fa-f]{6}(?:[0-9A-Fa-f]{2})?)"`)
	fixtures, _ := fs.Glob(screens.FS, "fixtures/*.json")
	for _, f := range fixtures {
		screen := fixtureScreen(f)
		fx := fixture(t, strings.TrimSuffix(strings.TrimPrefix(f, "fixtures/"), ".json"))
		for mode, name := range []string{"light", "dark"} {
			allowed := map[string]bool{}
			for _, c := range mt.colors {
				allowed[strings.ToUpper(c[mode])] = true
			}
			var a, b bytes.Buffer
			if _, err := brand.Render(context.Background(), fx.Request(screen, "en", name), fx.Provider(), &a); err != nil {
				t.Fatalf("%s %s: %v", f, name, err)
			}
			if _, err := def.Render(context.Background(), fx.Request(screen, "en", name), fx.Provider(), &b); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a.Bytes(), b.Bytes()) || !strings.Contains(a.String(), `"theme":"meridian-`+name+`"`) {
				t.Errorf("%s %s: the brand does not change the layout", f, name)
			}
			for _, m := range hex.FindAllStringSubmatch(a.String(), -1) {
				if !allowed[strings.ToUpper(m[1])] {
					t.Errorf("%s %s: colour %s is not meridian's", f, name, m[1])
				}
			}
		}
	}
	fx := fixture(t, "login")
	var b bytes.Buffer
	if _, err := brand.Render(context.Background(), fx.Request("login", "ru", "dark"), fx.Provider(), &b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"src":"/assets/meridian/logo-dark.svg"`) {
		t.Errorf("meridian's dark login lacks its logo: %.300s", b.String())
	}
}

func TestBrandFSNamesTheBrands(t *testing.T) {
	if _, err := BrandFS(screens.FS, "acme"); err == nil || !strings.Contains(err.Error(), "brands: default, meridian") {
		t.Errorf("unknown brand: got %v, want an error listing default, meridian", err)
	}
	if _, err := BrandFS(screens.FS, "../x"); err == nil {
		t.Error("a brand name with a path was accepted")
	}
	if got, err := Brands(screens.FS); err != nil || len(got) != 1 || got[0] != "meridian" {
		t.Errorf("Brands: %v %v", got, err)
	}
}

// Lint checks every brand against every screen.
func TestLintChecksEveryBrand(t *testing.T) {
	const file = "themes/meridian/theme.yaml"
	edit := func(t *testing.T, old, new string) fstest.MapFS {
		m := shippedFS(t)
		src := string(m[file].Data)
		if !strings.Contains(src, old) {
			t.Fatalf("%s lacks %q", file, old)
		}
		m[file] = &fstest.MapFile{Data: []byte(strings.Replace(src, old, new, 1))}
		return m
	}
	m := edit(t, `text_secondary: { light: "#535E59"`, `text_secondary: { light: "#A9ADA9"`)
	got, ok := findDiag(Lint(m), "login.yaml", "with themes/meridian/theme.yaml: light theme: text (style \"muted\")")
	if !ok {
		t.Fatalf("pale meridian text passed lint: %v", Lint(m))
	}
	if line, _ := lineCol(string(m["login.yaml"].Data), "muted", 0); got.Line != line {
		t.Errorf("finding %s, want line %d", got, line)
	}
	m = edit(t, "  tick_read:", "  tick_unread:")
	if _, ok := findDiag(Lint(m), file, `theme lacks colour "tick_read"`); !ok {
		t.Errorf("meridian without tick_read passed lint: %v", Lint(m))
	}
	m = shippedFS(t)
	delete(m, "images/meridian/logo-dark.svg")
	d := Lint(m)
	if x, ok := findDiag(d, file, "image /assets/meridian/logo-dark.svg is not in the screens folder"); !ok {
		t.Errorf("meridian's missing logo passed lint: %v", d)
	} else if line, _ := lineCol(string(m[file].Data), "logo:", 0); x.Line != line {
		t.Errorf("finding %s, want line %d", x, line)
	}
}

// A brand sizes its logo (logo.size, drawn with width "@logo") and keeps
// badges off a row's edge with a style's margin; lint names what is wrong
// in either, brand by brand.
func TestLintChecksLogoSizeAndMargins(t *testing.T) {
	const file = "themes/meridian/theme.yaml"
	edit := func(t *testing.T, old, new string) fstest.MapFS {
		m := shippedFS(t)
		src := string(m[file].Data)
		if !strings.Contains(src, old) {
			t.Fatalf("%s lacks %q", file, old)
		}
		m[file] = &fstest.MapFile{Data: []byte(strings.Replace(src, old, new, 1))}
		return m
	}
	if d := Lint(shippedFS(t)); len(d) != 0 {
		t.Fatalf("the shipped screens do not pass lint: %v", d)
	}
	for _, tc := range []struct{ old, new, where, want string }{
		{", size: 48 }", " }", "login.yaml", `unknown theme size "@logo"`},
		{", size: 48 }", ", size: 400 }", file, "logo size must be a number of points between 16 and 160"},
		{", size: 48 }", ", size: 48, width: 3 }", file, `logo: unknown field "width"`},
		{"role_badge:   { margin: m }", "role_badge:   { margin: huge }", file, `style "role_badge": unknown margin token "huge"`},
	} {
		if _, ok := findDiag(Lint(edit(t, tc.old, tc.new)), tc.where, tc.want); !ok {
			t.Errorf("%q → %q: no %s: %q in %v", tc.old, tc.new, tc.where, tc.want, Lint(edit(t, tc.old, tc.new)))
		}
	}
}
