package renderer

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/korobka/korobka/schemas"
	"github.com/korobka/korobka/screens"
)

var update = flag.Bool("update", false, "rewrite golden files and generated schemas")

func loadShipped(t testing.TB) *Engine {
	t.Helper()
	e, d, err := Load(screens.FS)
	if err != nil {
		for _, x := range d {
			t.Log(x)
		}
		t.Fatalf("Load(screens.FS): %v", err)
	}
	return e
}

func TestSchemasUpToDate(t *testing.T) {
	for _, tc := range []struct {
		file string
		doc  obj
	}{
		{"layout.schema.json", layoutSchemaDoc()},
		{"screen.schema.json", screenSchemaDoc()},
	} {
		want := marshalSchema(tc.doc)
		path := filepath.Join("..", "schemas", tc.file)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("schemas/%s is stale; run go test ./renderer -run TestSchemasUpToDate -update", tc.file)
		}
		if _, err := compileSchema(schemas.FS, tc.file); err != nil {
			t.Errorf("compile %s: %v", tc.file, err)
		}
	}
}

func TestShippedScreensLintClean(t *testing.T) {
	if d := Lint(screens.FS); len(d) != 0 {
		for _, x := range d {
			t.Errorf("%s", x)
		}
	}
}

func TestShippedScreensValidateAgainstScreenSchema(t *testing.T) {
	sch, err := compileSchema(schemas.FS, "screen.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := fs.Glob(screens.FS, "*.yaml")
	frags, _ := fs.Glob(screens.FS, "fragments/*.yaml")
	for _, f := range append(files, frags...) {
		if f == "theme.yaml" {
			continue
		}
		data, _ := fs.ReadFile(screens.FS, f)
		var d diags
		n := parseYAML(f, data, &d)
		if n == nil {
			t.Fatalf("%s: %v", f, d.list)
		}
		v, err := yamlValue(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.validate(v); err != nil {
			t.Errorf("%s does not match screen.schema.json: %v", f, err)
		}
	}
}

// TestGolden renders every fixture in every language and theme, compares
// with renderer/testdata/golden and validates against layout.schema.json.
func TestGolden(t *testing.T) {
	e := loadShipped(t)
	sch, err := compileSchema(schemas.FS, "layout.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	fixtures, _ := fs.Glob(screens.FS, "fixtures/*.json")
	sort.Strings(fixtures)
	covered := map[string]bool{}
	for _, fx := range fixtures {
		data, _ := fs.ReadFile(screens.FS, fx)
		f, err := ParseFixture(data)
		if err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(filepath.Base(fx), ".json")
		screen := fixtureScreen(fx)
		covered[screen] = true
		for _, lang := range []string{"ru", "en"} {
			for _, th := range []string{"light", "dark"} {
				name := base + "." + lang + "." + th + ".json"
				t.Run(name, func(t *testing.T) {
					var out bytes.Buffer
					if _, err := e.Render(context.Background(), f.Request(screen, lang, th), f.Provider(), &out); err != nil {
						t.Fatalf("Render: %v", err)
					}
					if err := sch.validateJSON(out.Bytes()); err != nil {
						t.Errorf("output does not match layout.schema.json: %v", err)
					}
					var pretty bytes.Buffer
					if err := json.Indent(&pretty, out.Bytes(), "", "  "); err != nil {
						t.Fatalf("output is not JSON: %v\n%s", err, out.Bytes())
					}
					pretty.WriteByte('\n')
					path := filepath.Join("testdata", "golden", name)
					if *update {
						os.MkdirAll(filepath.Dir(path), 0o755)
						if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
							t.Fatal(err)
						}
						return
					}
					want, err := os.ReadFile(path)
					if err != nil {
						t.Fatalf("%v (run go test ./renderer -update)", err)
					}
					if !bytes.Equal(pretty.Bytes(), want) {
						t.Errorf("render differs from %s; got:\n%s", path, pretty.Bytes())
					}
				})
			}
		}
	}
	for _, s := range e.Screens() {
		if !covered[s] {
			t.Errorf("screen %s has no fixture", s)
		}
	}
}
