package renderer

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestContrastRatioMatchesWCAG(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want string
	}{
		{"#FFFFFF", "#000000", "21.00"},
		{"#000000", "#FFFFFF", "21.00"},
		{"#777777", "#FFFFFF", "4.47"}, // the classic just-failing grey (4.478)
		{"#767676", "#FFFFFF", "4.54"}, // the lightest grey that passes on white
		{"#2F6FED", "#2F6FED", "1.00"},
		{"#FF0000", "#FFFFFF", "3.99"},
	} {
		a, _ := parseHex(tc.a)
		b, _ := parseHex(tc.b)
		if got := trunc2(contrastRatio(a, b)); got != tc.want {
			t.Errorf("contrast(%s, %s) = %s, want %s", tc.a, tc.b, got, tc.want)
		}
	}
	// A translucent colour is composited over what is under it.
	c, a := parseHex("#00000080")
	if got := trunc2(contrastRatio(over(c, a, rgb{1, 1, 1}), rgb{1, 1, 1})); got != "4.00" {
		t.Errorf("50%% black on white: %s, want 4.00", got)
	}
}

// withTheme returns the shipped screens with theme.yaml edited by the
// replacements old -> new.
func withTheme(t *testing.T, repl ...string) fstest.MapFS {
	t.Helper()
	m := shippedFS(t)
	src := string(m["theme.yaml"].Data)
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(src, repl[i]) {
			t.Fatalf("theme.yaml lacks %q", repl[i])
		}
		src = strings.Replace(src, repl[i], repl[i+1], 1)
	}
	m["theme.yaml"] = &fstest.MapFile{Data: []byte(src)}
	return m
}

func findDiag(d []Diagnostic, file, substr string) (Diagnostic, bool) {
	for _, x := range d {
		if x.File == file && strings.Contains(x.Message, substr) {
			return x, true
		}
	}
	return Diagnostic{}, false
}

func lineCol(src, needle string, nth int) (int, int) {
	for i, l := range strings.Split(src, "\n") {
		if j := strings.Index(l, needle); j >= 0 {
			if nth == 0 {
				return i + 1, j + 1
			}
			nth--
		}
	}
	return 0, 0
}

// A theme whose secondary text is too pale fails lint where the style is
// used, in the mode that fails only, with the ratio and the rule.
func TestLintCatchesLowContrastTheme(t *testing.T) {
	m := withTheme(t, `text_secondary: { light: "#5B6270"`, `text_secondary: { light: "#A0A4AB"`)
	d := Lint(m)
	if len(d) == 0 {
		t.Fatal("lint passed a theme with pale secondary text")
	}
	got, ok := findDiag(d, "login.yaml", `style "muted"`)
	if !ok {
		t.Fatalf("no finding for the muted note on login.yaml; got %v", d)
	}
	line, col := lineCol(string(m["login.yaml"].Data), "muted", 0)
	if got.Line != line || got.Col != col {
		t.Errorf("finding at %d:%d, want the style at %d:%d: %s", got.Line, got.Col, line, col, got)
	}
	for _, want := range []string{"light theme", "text_secondary (#A0A4AB)", "background (#FFFFFF)", "2.50:1", "needs 4.5:1"} {
		if !strings.Contains(got.Message, want) {
			t.Errorf("message lacks %q: %s", want, got.Message)
		}
	}
	for _, x := range d {
		if strings.Contains(x.Message, "dark theme") {
			t.Errorf("dark mode is unchanged but reported: %s", x)
		}
	}
}

// A style that sets both colours is checked where it is defined.
func TestLintCatchesLowContrastStyle(t *testing.T) {
	m := withTheme(t, `on_primary:     { light: "#FFFFFF"`, `on_primary:     { light: "#6E94E0"`)
	d := Lint(m)
	got, ok := findDiag(d, "theme.yaml", `text of style "highlight"`)
	if !ok {
		t.Fatalf("no finding for style highlight in theme.yaml; got %v", d)
	}
	line, col := lineCol(string(m["theme.yaml"].Data), "color: on_primary", 0)
	if got.Line != line || got.Col != col+len("color: ") {
		t.Errorf("finding at %d:%d, want %d:%d", got.Line, got.Col, line, col+len("color: "))
	}
	// The same token draws primary buttons' labels on every screen.
	if _, ok := findDiag(d, "login.yaml", "the label of a primary button"); !ok {
		t.Errorf("no finding for the login button; got %v", d)
	}
}

// Primary on primary, the fault tariffs.yaml shipped with: the highlighted
// card's price and button vanish.
func TestLintCatchesPrimaryOnPrimary(t *testing.T) {
	m := shippedFS(t)
	src := strings.Replace(string(m["tariffs.yaml"].Data), "'card_highlight'", "'highlight'", 1)
	m["tariffs.yaml"] = &fstest.MapFile{Data: []byte(src)}
	d := Lint(m)
	price, ok := findDiag(d, "tariffs.yaml", `text (style "price") in primary`)
	if !ok {
		t.Fatalf("no finding for the price; got %v", d)
	}
	line, col := lineCol(src, "style: price", 0)
	if price.Line != line || price.Col != col+len("style: ") || !strings.Contains(price.Message, "1.00:1") ||
		!strings.Contains(price.Message, `style "highlight"`) || !strings.Contains(price.Message, "needs 3:1") {
		t.Errorf("price finding %s, want at %d:%d with 1.00:1 on style highlight, 3:1 for large text", price, line, col+len("style: "))
	}
	if _, ok := findDiag(d, "tariffs.yaml", "the fill of a primary button"); !ok {
		t.Errorf("no finding for the button; got %v", d)
	}
}

func TestLintWantsComponentColours(t *testing.T) {
	m := withTheme(t, `  tick_read:      { light: "#2F6FED", dark: "#8AB0FF" }`+"\n", "")
	if _, ok := findDiag(Lint(m), "theme.yaml", `theme lacks colour "tick_read"`); !ok {
		t.Errorf("a theme without tick_read passed lint")
	}
}
