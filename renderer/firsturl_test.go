package renderer

import (
	"strings"
	"testing"
)

func TestFirstURL(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"смотри https://example.com/a?b=1.", "https://example.com/a?b=1"},
		{"www.example.org и http://x.example.net", "https://www.example.org"},
		{"mail anna@example.com or call +7 916 123-45-67", ""},
		{"no links here", ""},
		{"«http://127.0.0.1:8080/x»", "http://127.0.0.1:8080/x"},
		{"see http://[::ffff:127.0.0.1]:8080/x now", "http://[::ffff:127.0.0.1]:8080/x"},
		{"anna@example.com then https://example.com/", "https://example.com/"},
	} {
		if got := FirstURL(tc.text); got != tc.want {
			t.Errorf("FirstURL(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// BenchmarkFirstURL is the send path's cost of finding a message's link:
// a short text without one, and a 4096-character text with one at the end.
func BenchmarkFirstURL(b *testing.B) {
	for _, tc := range []struct{ name, text string }{
		{"no_link", "Привет! Как дела? Созвонимся вечером."},
		{"long_text_link", strings.Repeat("слово ", 680) + "https://example.com/a?b=1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				FirstURL(tc.text)
			}
		})
	}
}
