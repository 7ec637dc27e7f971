package renderer

import (
	"strings"
	"testing"
	"testing/fstest"
)

// A syntax error is reported where the file goes wrong, line and column,
// and it alone: the files that use what the broken file defines do not
// report it as unknown.
func TestYAMLSyntaxErrorsArePlacedAndAlone(t *testing.T) {
	for _, tc := range []struct {
		name, file, src string
		line, col       int
		msg             string
	}{
		{"bad indent", "fragments/user_row.yaml", "fragment: user_row\nparams: [u]\nroot:\n  type: row\n   children: []\n", 5, 4, "mapping values"},
		{"unclosed quote", "theme.yaml", "name: default\ncolors: { text: \"#fff }\n", 2, 17, "double-quoted"},
		{"tab", "strings/en.yaml", "app:\n\tname: x\n", 2, 1, "cannot start any token"},
		{"value with a colon", "login.yaml", "screen: login\nroot:\n  type: text\n  text: a: b\n", 4, 9, "mapping value"},
		{"unclosed flow", "otp.yaml", "screen: otp\nroot:\n  children:\n    - { type: text, text: x\n    - b\n", 5, 5, "'}'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := shippedFS(t)
			m[tc.file] = &fstest.MapFile{Data: []byte(tc.src)}
			d := Lint(m)
			if len(d) != 1 {
				t.Fatalf("want one finding, got %d: %v", len(d), d)
			}
			got := d[0]
			if got.File != tc.file || got.Line != tc.line || got.Col != tc.col || !strings.Contains(got.Message, tc.msg) {
				t.Errorf("got %s, want %s:%d:%d: ...%s...", got, tc.file, tc.line, tc.col, tc.msg)
			}
		})
	}
}

// Two broken files: both are reported, nothing else.
func TestYAMLSyntaxErrorsInTwoFiles(t *testing.T) {
	m := shippedFS(t)
	m["theme.yaml"] = &fstest.MapFile{Data: []byte("name: [x\n")}
	m["fragments/dialog_row.yaml"] = &fstest.MapFile{Data: []byte("fragment: dialog_row\nroot: {\n")}
	d := Lint(m)
	if len(d) != 2 || d[0].File != "fragments/dialog_row.yaml" || d[1].File != "theme.yaml" {
		t.Errorf("want the two broken files only, got %v", d)
	}
}
