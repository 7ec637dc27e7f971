package chat_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/korobka/korobka/chat"
)

// Issue 10, item 8: invisible and direction-flipping characters. Every
// string a person sees is checked by one policy where it enters; each of
// these inputs was accepted before.
func TestTextPolicyRefusesInvisibleAndBidi(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)

	invisible := []string{
		"\u200b",                         // zero-width space
		"\u200b\u200b \u200b",            // several, with a space
		"\u2060",                         // word joiner
		"\ufeff",                         // BOM
		"\u00ad",                         // soft hyphen alone
		"\u3164",                         // Hangul filler: a letter that shows nothing
		"\u2800",                         // blank braille pattern
		"\u200d",                         // ZWJ alone joins nothing
		"\ufe0f",                         // a variation selector alone
		"\U000e0067\U000e0062\U000e007f", // tag characters without their flag
	}
	bidi := []string{
		"\u202eAnna", // RIGHT-TO-LEFT OVERRIDE at the start
		"An\u202dna", // LEFT-TO-RIGHT OVERRIDE inside
		"Anna\u2066", // LEFT-TO-RIGHT ISOLATE
		"\u200fAnna", // RIGHT-TO-LEFT MARK
		"\u061cAnna", // ARABIC LETTER MARK
		"An\u00adna", // soft hyphen inside: a format character
		"An\u200bna", // zero-width space inside
		"An\u2028na", // line separator
	}
	for i, s := range append(invisible, bidi...) {
		_, err := f.svc.UpdateMe(ctx, ann.p, chat.ProfileUpdate{FirstName: &s})
		wantCode(t, "first name "+quote(s), err, "invalid_name")
		_, err = f.svc.UpdateMe(ctx, bob.p, chat.ProfileUpdate{LastName: &s})
		wantCode(t, "last name "+quote(s), err, "invalid_name")
		_, _, err = f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: "inv", Text: s})
		wantCode(t, "message "+quote(s), err, "invalid_text")
		_, _, err = f.svc.OpenDirect(ctx, ann.p, bob.id, s)
		wantCode(t, "subject "+quote(s), err, "invalid_subject")
		file := s
		if i >= len(invisible) {
			file += ".txt" // visible, but with a control inside
		}
		_, err = f.svc.Upload(ctx, ann.p, strings.NewReader("x"), file)
		wantCode(t, "file name "+quote(file), err, "invalid_file_name")
	}
	// An edit goes through the same policy as a send.
	m := f.send(t, ann, d, "e1", "hello")
	_, err := f.svc.EditMessage(ctx, ann.p, d, m.Seq, "\u200b")
	wantCode(t, "editing to U+200B", err, "invalid_text")
	// The classic extension spoof is refused, not stored or stripped.
	_, err = f.svc.Upload(ctx, ann.p, strings.NewReader("x"), "photo\u202egpj.exe")
	wantCode(t, "an RLO file name", err, "invalid_file_name")

	// Nothing above was stored: the profile, the history and the dialog
	// list are as before.
	me, err := f.svc.Me(ctx, ann.p)
	if err != nil || me.FirstName != "Ann" || me.LastName != "" {
		t.Errorf("profile after refused names: %v %+v", err, me)
	}
	page, err := f.svc.Dialogs(ctx, ann.p, "", 50)
	if err != nil || len(page.Dialogs) != 1 {
		t.Errorf("dialogs after refused subjects: %v, %d dialogs, want 1", err, len(page.Dialogs))
	}
	hist, err := f.svc.History(ctx, ann.p, d, 0, 50)
	if err != nil || len(hist) != 1 || hist[0].Text != "hello" {
		t.Errorf("history after refused texts: %v %+v", err, hist)
	}
}

// What scripts and emoji need passes unchanged, and text is stored in NFC:
// a subject typed decomposed opens the same dialog as one typed composed.
func TestTextPolicyKeepsScriptsAndEmoji(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)
	for i, s := range []string{
		"می\u200cخواهم",                                                 // Persian with ZWNJ
		"👩\u200d👩\u200d👧\u200d👦",                                        // family: ZWJ sequence
		"🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f", // England: a tag sequence
		"❤\ufe0f",            // heart with a variation selector
		"1\ufe0f\u20e3",      // keycap one
		"\u0600\u0661\u0662", // Arabic number sign, a prepended concatenation mark
		"שלום, Anna",         // right-to-left text needs no controls
		"Zoe\u0308",          // decomposed ë, stored composed
	} {
		v := f.send(t, ann, d, "ok"+strconv.Itoa(i), s)
		if want := nfc(s); v.Text != want {
			t.Errorf("send %s: stored %q, want %q", quote(s), v.Text, want)
		}
	}
	composed, _, err := f.svc.OpenDirect(ctx, ann.p, bob.id, "Zo\u00eb")
	if err != nil {
		t.Fatal(err)
	}
	decomposed, created, err := f.svc.OpenDirect(ctx, ann.p, bob.id, "Zoe\u0308")
	if err != nil || created || decomposed.ID != composed.ID || decomposed.Subject != "Zo\u00eb" {
		t.Errorf("decomposed subject: %v, created %v, dialog %s (subject %q), want the dialog %s", err, created, decomposed.ID, decomposed.Subject, composed.ID)
	}
	name := "Zoe\u0308"
	me, err := f.svc.UpdateMe(ctx, ann.p, chat.ProfileUpdate{FirstName: &name})
	if err != nil || me.FirstName != "Zo\u00eb" {
		t.Errorf("decomposed name: %v, stored %q, want the NFC %q", err, me.FirstName, "Zo\u00eb")
	}
	att, err := f.svc.Upload(ctx, ann.p, strings.NewReader("x"), "C:\\docs\\отчёт 🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f.pdf")
	if err != nil || att.Name != "отчёт 🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f.pdf" {
		t.Errorf("file name: %v %q", err, att.Name)
	}
}

// Issue 10, item 9: lengths count grapheme clusters, so a limit neither
// refuses a text a person counts as short enough nor lets a longer one
// through.
func TestLengthsCountGraphemes(t *testing.T) {
	f := newTestService(t)
	ctx := context.Background()
	ann, bob := f.newUser(t, "Ann"), f.newUser(t, "Bob")
	d := f.direct(t, ann, bob)

	flag := "🇷🇺"                       // two code points, one character
	family := "👩\u200d👩\u200d👧\u200d👦" // seven code points, one character

	name := strings.Repeat(flag, chat.MaxNameLen)
	if _, err := f.svc.UpdateMe(ctx, ann.p, chat.ProfileUpdate{FirstName: &name}); err != nil {
		t.Errorf("a name of %d flags: %v", chat.MaxNameLen, err)
	}
	name += flag
	_, err := f.svc.UpdateMe(ctx, ann.p, chat.ProfileUpdate{FirstName: &name})
	wantCode(t, "a name of 65 flags", err, "invalid_name")

	subject := strings.Repeat("e\u0301", chat.MaxSubjectLen) // é decomposed: NFC makes it one code point
	if _, _, err := f.svc.OpenDirect(ctx, ann.p, bob.id, subject); err != nil {
		t.Errorf("a subject of %d accented letters: %v", chat.MaxSubjectLen, err)
	}
	subject = strings.Repeat("и\u0306\u0301", chat.MaxSubjectLen) // two marks: three code points a character
	if _, _, err := f.svc.OpenDirect(ctx, ann.p, bob.id, subject); err == nil {
		t.Errorf("a subject of %d code points was accepted; the column holds 255", 3*chat.MaxSubjectLen)
	}

	text := strings.Repeat(family, 1000) // 7,000 code points, 1,000 characters
	if v, _, err := f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: "fam", Text: text}); err != nil || v.Text != text {
		t.Errorf("1000 family emoji: %v", err)
	}
	text = strings.Repeat(flag, chat.MaxTextLen+1)
	_, _, err = f.svc.Send(ctx, ann.p, 1, chat.SendRequest{DialogID: d, ClientID: "long", Text: text})
	wantCode(t, "4097 flags", err, "invalid_text")

	file := strings.Repeat("я", chat.MaxUploadNameLen-1) + flag // 406 bytes, 200 characters
	if att, err := f.svc.Upload(ctx, ann.p, strings.NewReader("x"), file); err != nil || att.Name != file {
		t.Errorf("a file name of %d characters: %v %q", chat.MaxUploadNameLen, err, att.Name)
	}
	_, err = f.svc.Upload(ctx, ann.p, strings.NewReader("x"), file+"я")
	wantCode(t, "a file name of 201 characters", err, "invalid_file_name")

	// The search text is bounded in characters too.
	if _, err := f.svc.Contacts(ctx, ann.p, strings.Repeat(flag, 64), 10); err != nil {
		t.Errorf("a query of 64 flags: %v", err)
	}
}

func TestCleanFileName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"report.pdf", "report.pdf"},
		{"../../etc/passwd", "passwd"},
		{`C:\Users\anna\Фото.jpg`, "Фото.jpg"},
		{"  ", "file"},
		{"..", "file"},
		{"dir/", "file"},
		{"", "file"},
		{"Zoe\u0308.txt", "Zo\u00eb.txt"},
	} {
		if got, err := chat.CleanFileName(tc.in); err != nil || got != tc.want {
			t.Errorf("CleanFileName(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a\x00b", "a\r\nb", "abc\u202e.exe", "bad\xffutf8.txt", "\u200b", strings.Repeat("я", chat.MaxUploadNameLen+1)} {
		if got, err := chat.CleanFileName(bad); err == nil {
			t.Errorf("CleanFileName(%q) = %q, want invalid_file_name", bad, got)
		}
	}
}

func TestCleanContent(t *testing.T) {
	doc := map[string]any{"title": "Zoe\u0308", "body": "line one\nline two", "tags": []any{"a", ""}, "price": 3.5}
	got, err := chat.CleanContent(doc)
	if err != nil {
		t.Fatal(err)
	}
	if m := got.(map[string]any); m["title"] != "Zo\u00eb" || m["body"] != "line one\nline two" || m["price"] != 3.5 {
		t.Errorf("CleanContent = %v", got)
	}
	_, err = chat.CleanContent(map[string]any{"items": []any{map[string]any{"title": "\u202eevil"}}})
	if err == nil || !strings.Contains(err.Error(), "items.0.title") {
		t.Errorf("CleanContent of a bidi override: %v, want an error naming items.0.title", err)
	}
}

func quote(s string) string { return strconv.QuoteToASCII(s) }

func nfc(s string) string { return norm.NFC.String(s) }
