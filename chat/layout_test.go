package chat_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The layout rules of docs/architecture.md, checked on every file of the
// module so that a new import that breaks one fails here:
//
//   - the domain (chat) imports no other package of the module: no
//     implementation, no transport, no renderer;
//   - renderer imports no chat package;
//   - implementations (every package under chat/ that is not the domain,
//     a transport, live or the shared suites) import only the domain and
//     data packages, never each other;
//   - only chat/httpapi imports gin.
const module = "github.com/korobka/korobka/"

// allowed names the packages under chat/ that are not implementations, with
// the module packages each may import.
var allowed = map[string][]string{
	"chat":          {},
	"chat/wire":     {"chat"},                                     // the transports' shared error form
	"chat/ws":       {"chat", "chat/wire"},                        // transport
	"chat/httpapi":  {"chat", "chat/wire", "chat/live", "assets"}, // transport
	"chat/live":     {"chat", "chat/ws", "renderer"},              // where chat meets renderer
	"chat/chattest": {"chat", "schemas"},                          // shared suites, fakes, the contract
	"renderer":      {"schemas", "assets"},                        // data only: schemas, the icon catalogue
}

// implementationMay is what an implementation may import from the module.
var implementationMay = []string{"chat", "migrations", "schemas"}

func TestLayoutRules(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || n == "node_modules" || strings.HasPrefix(n, ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		pkg := filepath.ToSlash(filepath.Dir(rel))
		test := strings.HasSuffix(path, "_test.go")
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, spec := range f.Imports {
			imp, _ := strconv.Unquote(spec.Path.Value)
			if strings.HasPrefix(imp, "github.com/gin-gonic/gin") && pkg != "chat/httpapi" {
				t.Errorf("%s imports gin: only chat/httpapi may", rel)
			}
			own, ok := strings.CutPrefix(imp, module)
			if !ok || test {
				// Tests may assemble real parts (a transport's test
				// over a real store); the rules are about what ships.
				continue
			}
			if !mayImport(pkg, own) {
				t.Errorf("%s imports %s, which the layout rules forbid for %s", rel, own, pkg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked %d files; the walk missed the module", checked)
	}
}

func mayImport(pkg, imp string) bool {
	if list, ok := allowed[pkg]; ok {
		return slices.Contains(list, imp)
	}
	if strings.HasPrefix(pkg, "chat/") {
		return slices.Contains(implementationMay, imp) // an implementation
	}
	return true // cmd/korobka wires everything; data packages import nothing
}

// TestLayoutRulesCatchAViolation: the rules reject what they are for.
func TestLayoutRulesCatchAViolation(t *testing.T) {
	for _, tc := range []struct{ pkg, imp string }{
		{"chat", "chat/sqlstore"},
		{"chat", "renderer"},
		{"chat", "chat/ws"},
		{"renderer", "chat"},
		{"chat/sqlstore", "chat/redis"},
		{"chat/push", "chat/sqlstore"}, // a package added later is an implementation
		{"chat/ws", "chat/httpapi"},
	} {
		if mayImport(tc.pkg, tc.imp) {
			t.Errorf("%s may import %s; the rules forbid it", tc.pkg, tc.imp)
		}
	}
	for _, tc := range []struct{ pkg, imp string }{
		{"chat/sqlstore", "chat"}, {"chat/sqlstore", "migrations"}, {"chat/live", "renderer"}, {"cmd/korobka", "chat/sqlstore"},
	} {
		if !mayImport(tc.pkg, tc.imp) {
			t.Errorf("%s may not import %s; the rules allow it", tc.pkg, tc.imp)
		}
	}
}
