package chat

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPreviewText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"  Запуск\n\t  новости  ", 100, "Запуск новости"},
		{"abc\u202Edef\u200Bghi\x00", 100, "abcdefghi"},
		{"\u200B\u2060 \u00AD", 100, ""},
		{"bad \xff utf", 100, "bad utf"},
		{"abcdef", 4, "abc…"},
		{"e\u0301e\u0301e\u0301e\u0301e\u0301", 3, "éé…"},
		{"🇷🇺🇷🇺🇷🇺", 2, "🇷🇺…"},
	} {
		if got := previewText(tc.in, tc.max); got != tc.want {
			t.Errorf("previewText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
	// A grapheme-heavy text is cut by code points too (the column).
	long := previewText(strings.Repeat("a\u0300\u0301\u0302\u0303\u0304\u0305", 50), 20)
	if n := utf8.RuneCountInString(long); n > 80 {
		t.Errorf("got %d code points, want at most 80", n)
	}
}

func TestMayHaveLink(t *testing.T) {
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"https://example.com", true}, {"see WWW.example.com", true}, {"www.", true},
		{"no link. none.", false}, {"a.b www.x", true}, {"x.www.y", true}, {"ww.example.com", false}, {"", false}, {"a.b.c", false},
	} {
		if got := mayHaveLink(tc.text); got != tc.want {
			t.Errorf("mayHaveLink(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}
