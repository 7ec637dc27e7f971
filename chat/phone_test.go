package chat

import (
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestNormalizePhone(t *testing.T) {
	cases := []struct {
		in, region, want string
		ok               bool
	}{
		{"8 (916) 123-45-67", "RU", "+79161234567", true},
		{"+7 916 123 45 67", "RU", "+79161234567", true},
		{"89161234567", "RU", "+79161234567", true},
		{"+44 20 7946 0958", "RU", "+442079460958", true},
		{"020 7946 0958", "GB", "+442079460958", true},
		{"  +7 (916) 123-45-67  ", "RU", "+79161234567", true},
		{"", "RU", "", false},
		{"Mom", "RU", "", false},
		{"123", "RU", "", false},
		{"+7 916 123 45 67 89 01 23", "RU", "", false},
		{strings.Repeat("9", 100), "RU", "", false},
		// The label may stand anywhere; letters never become digits.
		{"+7 916 123-45-67 (Name)", "RU", "+79161234567", true},
		{"Name +7 916 123-45-67", "RU", "+79161234567", true},
		{"Mom: 8 916 123 45 67", "RU", "+79161234567", true},
		{"+7 916 123-45-67 Ann", "RU", "+79161234567", true},
		{"Ann (+7 916 123-45-67)", "RU", "+79161234567", true},
		{"Анна Петрова (работа) 8 (916) 123-45-67 доб. 12", "RU", "+79161234567", true},
		{"tel:+79161234567", "RU", "+79161234567", true},
		{"Flat 12, +7 916 123-45-67", "RU", "+79161234567", true},
		{"+7 916 123-45-67 / +7 916 000 00 00", "RU", "+79161234567", true},
		{"8‑916‑123‑45‑67", "RU", "+79161234567", true},
		{"+7 916 123-45 AB", "RU", "", false},
		{"1-800-FLOWERS", "US", "", false},
		{"Mom", "RU", "", false},
		{strings.Repeat("Mom ", 70) + "+79161234567", "RU", "", false},
	}
	for _, c := range cases {
		got, err := NormalizePhone(c.in, c.region)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("NormalizePhone(%q, %s) = %q, %v; want %q, ok=%v", c.in, c.region, got, err, c.want, c.ok)
		}
	}
}

func TestParseTestPhones(t *testing.T) {
	tp, err := ParseTestPhones("+79990000001:111111, 8 999 000-00-02:222222,+7998*:333333", "RU")
	if err != nil {
		t.Fatal(err)
	}
	for phone, want := range map[string]string{"+79990000001": "111111", "+79990000002": "222222", "+79981234567": "333333"} {
		if got, ok := tp.Code(phone); !ok || got != want {
			t.Errorf("Code(%s) = %q, %v; want %q", phone, got, ok, want)
		}
	}
	if _, ok := tp.Code("+79161234567"); ok {
		t.Error("an ordinary number is a test number")
	}
	for _, bad := range []string{"+79990000001", "+79990000001:12345", "+7999*:abcdef", "7999*:111111", "nonsense:111111"} {
		if _, err := ParseTestPhones(bad, "RU"); err == nil {
			t.Errorf("ParseTestPhones(%q) accepted", bad)
		}
	}
}

// FuzzNormalizePhone feeds arbitrary input to the phone parser: it must
// never panic, whatever it accepts must be E.164 that normalises to itself,
// and a label of letters before the entry or after it in parentheses must
// not change which number is read.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"8 (916) 123-45-67", "+79161234567", "+44 20 7946 0958", "", "+", "++7", "8-800-555-35-35 ext. 5", "тел. 8916",
		"+7 916 123-45-67 (Name)", "Ann (+7 916 123-45-67)", "Flat 12, 8 916 123 45 67"} {
		f.Add(s, "Mom")
	}
	f.Fuzz(func(t *testing.T, s, label string) {
		got, err := NormalizePhone(s, "RU")
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "+") || len(got) > 16 {
			t.Fatalf("NormalizePhone(%q) = %q, not E.164", s, got)
		}
		again, err := NormalizePhone(got, "RU")
		if err != nil || again != got {
			t.Fatalf("NormalizePhone(%q) = %q, which normalises to %q, %v", s, got, again, err)
		}
		if !isLabel(label) {
			return
		}
		for _, entry := range []string{label + " " + s, s + " (" + label + ")"} {
			if len(entry) > maxPhoneInput {
				continue
			}
			if labelled, err := NormalizePhone(entry, "RU"); err != nil || labelled != got {
				t.Fatalf("NormalizePhone(%q) = %q, but with a label NormalizePhone(%q) = %q, %v", s, got, entry, labelled, err)
			}
		}
	})
}

// isLabel reports whether s is a name: letters and spaces, at least one
// letter.
func isLabel(s string) bool {
	letter := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case r != ' ':
			return false
		}
	}
	return letter
}

func TestCursorRoundTrip(t *testing.T) {
	c := DialogCursor{UpdatedAt: time.UnixMicro(1764091231123456).UTC(), ID: 17}
	got, err := parseCursor(formatCursor(c))
	if err != nil || got != c {
		t.Fatalf("round trip of %+v: got %+v, %v", c, got, err)
	}
	for _, bad := range []string{"zzz", "!!", "MTow", "bm9jb2xvbg"} {
		if _, err := parseCursor(bad); err == nil {
			t.Errorf("parseCursor(%q) accepted", bad)
		}
	}
}
