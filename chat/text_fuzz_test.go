package chat_test

import (
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/korobka/korobka/chat"
)

// FuzzCleanText checks the text policy's promises on any input: it never
// panics, what it accepts is valid NFC that it accepts again unchanged
// (the stored form is a fixed point), and limits hold in characters and
// code points.
func FuzzCleanText(f *testing.F) {
	for _, s := range []string{"Anna", "\u202eAnna", "\u200b", "Zoe\u0308", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
		"👩\u200d👩\u200d👧\u200d👦", "a\nb\tc", " \u00a0x\u00a0 ", "\xff", "\U000e0067", "🏴\U000e007f", "می\u200cخواهم", "\u0600١"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		rule := chat.TextRule{MaxChars: 8, MaxRunes: 24, Multiline: multiline}
		out, err := chat.CleanText(s, rule)
		if err != nil {
			return
		}
		if !utf8.ValidString(out) || !norm.NFC.IsNormalString(out) {
			t.Fatalf("CleanText(%q) = %q: not valid NFC", s, out)
		}
		if n := chat.CharCount(out); n == 0 || n > rule.MaxChars || utf8.RuneCountInString(out) > rule.MaxRunes {
			t.Fatalf("CleanText(%q) = %q: %d characters, %d code points", s, out, n, utf8.RuneCountInString(out))
		}
		again, err := chat.CleanText(out, rule)
		if err != nil || again != out {
			t.Fatalf("CleanText(CleanText(%q)) = %q, %v; want %q again", s, again, err, out)
		}
		if key := chat.SearchKey(out); !utf8.ValidString(key) || chat.SearchKey(key) != key {
			t.Fatalf("SearchKey(%q) = %q is not a fixed point", out, key)
		}
	})
}
