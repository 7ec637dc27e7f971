package renderer

import (
	"context"
	"strings"
	"testing"
	"time"
)

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Issue 10, item 7: times render in the shell's zone, not in UTC, in full
// screens and in patch fragments alike, and the zone selects the output:
// it is part of the ETag and of the variant key.
func TestTimesRenderInTheShellsZone(t *testing.T) {
	e := loadShipped(t)
	moscow, ny := mustZone(t, "Europe/Moscow"), mustZone(t, "America/New_York")
	f := fixture(t, "chat") // the first message was written at 08:00 UTC
	req := f.Request("chat", "en", "light")
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{{nil, `"time":"08:00"`}, {time.UTC, `"time":"08:00"`}, {moscow, `"time":"11:00"`}, {ny, `"time":"04:00"`}} {
		req.TZ = tc.loc
		if out := render(t, e, req, f.Provider()); !strings.Contains(out, tc.want) {
			t.Errorf("chat in %v: no %s", tc.loc, tc.want)
		}
	}
	etag := func(loc *time.Location, now time.Time) string {
		r := req
		r.TZ, r.Now = loc, now
		tag, err := e.ETag(context.Background(), r, f.Provider())
		if err != nil {
			t.Fatal(err)
		}
		return tag
	}
	noon := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	if etag(moscow, noon) == etag(ny, noon) || etag(nil, noon) == etag(moscow, noon) {
		t.Errorf("the ETag of chat does not depend on the zone")
	}
	// The chat names its messages' days (day_label): its ETag changes
	// with the date, not within a day.
	if etag(moscow, noon) != etag(moscow, noon.Add(2*time.Hour)) {
		t.Errorf("the ETag of chat changed within a day")
	}
	if etag(moscow, noon) == etag(moscow, noon.AddDate(0, 0, 3)) {
		t.Errorf("the ETag of chat, which names days (day_label), did not change with the date")
	}

	msg := f.Data["messages"].(map[string]any)["messages"].([]any)[0]
	vm := Variant{Langs: []string{"en"}, TZ: moscow}
	node, err := e.Fragment("message_bubble", map[string]any{"m": msg, "own": true}, vm)
	if err != nil || !strings.Contains(string(node), `"time":"11:00"`) {
		t.Errorf("bubble fragment in Moscow: %v %s", err, node)
	}
	if e.VariantKey(vm) == e.VariantKey(Variant{Langs: []string{"en"}}) {
		t.Errorf("the variant keys of Moscow and UTC are equal")
	}

	// "Today" is the shell's today. At 00:30 in Moscow (21:30 UTC) a
	// message of 21:04 Moscow time (18:04 UTC) was yesterday there, and
	// today in UTC.
	l := fixture(t, "chat_list")
	lr := l.Request("chat_list", "en", "light")
	lr.Now = time.Date(2025, 3, 14, 21, 30, 0, 0, time.UTC)
	lr.TZ = moscow
	if out := render(t, e, lr, l.Provider()); !strings.Contains(out, `"text":"Fri"`) || strings.Contains(out, `"text":"21:04"`) {
		t.Errorf("chat list at 00:30 Moscow on Saturday: want Fri for 21:04 the day before\n%s", out)
	}
	lr.TZ = time.UTC
	if out := render(t, e, lr, l.Provider()); !strings.Contains(out, `"text":"18:04"`) {
		t.Errorf("chat list at 21:30 UTC: want 18:04 today")
	}
	listTag := func(now time.Time) string {
		r := lr
		r.TZ, r.Now = moscow, now
		tag, err := e.ETag(context.Background(), r, l.Provider())
		if err != nil {
			t.Fatal(err)
		}
		return tag
	}
	evening := time.Date(2025, 3, 14, 20, 0, 0, 0, time.UTC) // 23:00 in Moscow
	if listTag(evening) != listTag(evening.Add(30*time.Minute)) || listTag(evening) == listTag(evening.Add(90*time.Minute)) {
		t.Errorf("the ETag of chat_list, which uses day(), must change at midnight in the zone and only then")
	}
}

func TestDay(t *testing.T) {
	moscow := mustZone(t, "Europe/Moscow")
	st := &state{loc: moscow, now: time.Date(2025, 3, 1, 0, 30, 0, 0, moscow)}
	for _, tc := range []struct{ in, want string }{
		{"2025-03-01T00:10:00+03:00", "today"},
		{"2025-02-28T21:10:00Z", "today"}, // 00:10 in Moscow
		{"2025-02-28T20:59:00Z", "yesterday"},
		{"2025-02-27T21:00:00Z", "yesterday"}, // Feb 28, 00:00 in Moscow
		{"2025-02-27T20:59:59Z", ""},
		{"2025-03-02T10:00:00+03:00", ""},
		{"not a time", ""},
	} {
		if got := dayOf(st, tc.in); got != tc.want {
			t.Errorf("day(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Issue 10, item 9: truncation and initials count grapheme clusters: a
// flag, a family or an accented letter is kept whole or dropped whole.
func TestTruncateAndInitialsKeepGraphemes(t *testing.T) {
	flag := "🇷🇺"
	family := "👨\u200d👩\u200d👧\u200d👦"
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{strings.Repeat("a", 79) + flag + "tail", 80, strings.Repeat("a", 79) + flag + "…"},
		{strings.Repeat("a", 79) + flag, 80, strings.Repeat("a", 79) + flag},
		{"ab" + family + "cd", 3, "ab" + family + "…"},
		{"ab" + family + "cd", 2, "ab…"},
		{"e\u0301e\u0301e\u0301", 2, "e\u0301e\u0301…"},
		{"hi there", 3, "hi…"},
		{"short", 80, "short"},
		{"", 3, ""},
	} {
		if got := truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct{ a, b, want string }{
		{"Анна", "Петрова", "АП"},
		{flag + " Team", "", flag + "T"},
		{family, "Smith", family + "S"},
		{"e\u0301mile", "zola", "E\u0301Z"},
		{"ǆemal", "", "Ǆ"},
		{"Anna\u00a0Lee", "", "AL"},
		{"", "", ""},
	} {
		if got := initials(tc.a, tc.b); got != tc.want {
			t.Errorf("initials(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
	if got := exprFuncs["len"].fn(&[3]any{flag + family + "e\u0301"}); got != float64(3) {
		t.Errorf("len of a flag, a family and an accented e = %v, want 3", got)
	}
}

// Issue 10, item 11: links, addresses and phones are found on Unicode
// classes. Each row is the text and the links found in it, as
// "kind:text=target", region RU.
func TestLinksFoundOnUnicodeClasses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// The inputs.
		{"«https://example.com»", "url:https://example.com=https://example.com"},
		{"see https://example.com» ok", "url:https://example.com=https://example.com"},
		{"https://example.com/a\u00a0next", "url:https://example.com/a=https://example.com/a"},
		{"a sum of 8 000 000 000 0 roubles", ""},
		// Other quotes and brackets around a link.
		{"„https://example.com/path“", "url:https://example.com/path=https://example.com/path"},
		{"“https://example.com”", "url:https://example.com=https://example.com"},
		{"(see https://example.com/wiki/Foo_(bar))", "url:https://example.com/wiki/Foo_(bar)=https://example.com/wiki/Foo_(bar)"},
		{"‹www.example.org›", "url:www.example.org=https://www.example.org"},
		// CJK punctuation and text.
		{"请看https://example.com。谢谢", "url:https://example.com=https://example.com"},
		{"詳しくは「https://example.jp/a」へ", "url:https://example.jp/a=https://example.jp/a"},
		{"链接：https://example.cn，好", "url:https://example.cn=https://example.cn"},
		// Arabic and right-to-left text around a link; an IDN host.
		{"انظر https://example.com/ar، شكرا", "url:https://example.com/ar=https://example.com/ar"},
		{"сайт https://пример.рф/путь.", "url:https://пример.рф/путь=https://пример.рф/путь"},
		// Trailing dots and sentence punctuation stay outside.
		{"Docs: https://example.com/docs?id=5.", "url:https://example.com/docs?id=5=https://example.com/docs?id=5"},
		{"go to www.example.org... now!", "url:www.example.org=https://www.example.org"},
		{"https://example.com/a?b=1!?", "url:https://example.com/a?b=1=https://example.com/a?b=1"},
		// Not links: inside a word, no dotted host, other schemes.
		{"xhttps://example.com", ""},
		{"https://localhost/a", ""},
		{"ftp://example.com/file", ""},
		{"version 1.2.3 and file.txt", ""},
		// E-mail addresses, with Unicode around them.
		{"пишите на anna@example.com.", "email:anna@example.com=mailto:anna@example.com"},
		{"«anna@example.com»", "email:anna@example.com=mailto:anna@example.com"},
		{"a@b", ""},
		// Phones: valid numbers of plausible shape only.
		{"call +7 (999) 123-45-67!", "phone:+7 (999) 123-45-67=+79991234567"},
		{"или 8 916 123-45-67.", "phone:8 916 123-45-67=+79161234567"},
		{"или 89161234567", "phone:89161234567=+79161234567"},
		{"тел.\u00a0+7\u00a0916\u00a0123\u201145\u201167", "phone:+7\u00a0916\u00a0123\u201145\u201167=+79161234567"},
		{"London +44 20 7946 0958", "phone:+44 20 7946 0958=+442079460958"},
		{"«+7 916 123-45-67»", "phone:+7 916 123-45-67=+79161234567"},
		{"9 161 234 567 ₽", ""},     // groups that no format has: an amount
		{"order 9161234567", ""},    // no trunk prefix, no +: a number, not a phone
		{"+7 000 000-00-00", ""},    // not a valid number
		{"8 916 123-45-67.5", ""},   // goes on as a decimal
		{"id-89161234567", ""},      // part of a token
		{"3.89161234567", ""},       // part of a number
		{"+7 916 123-45-67abc", ""}, // touching a word
		{"date 2025-03-14 and 14.03.2025", ""},
		{"٨٩١٦١٢٣٤٥٦٧", ""}, // Arabic-Indic digits: not read as a phone
	} {
		var got []string
		for _, s := range findSpans(tc.in, "RU", nil) {
			got = append(got, s.kind+":"+tc.in[s.start:s.end]+"="+s.target)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("findSpans(%q):\n got %q\nwant %q", tc.in, g, tc.want)
		}
	}
	// Without a region only numbers written with + link.
	if sp := findSpans("8 916 123-45-67 or +7 916 123-45-67", "", nil); len(sp) != 1 || sp[0].target != "+79161234567" || sp[0].start != 19 {
		t.Errorf("findSpans with no region: %+v", sp)
	}
	// A US number in the US region.
	if sp := findSpans("call 1 (212) 555-0123", "US", nil); len(sp) != 1 || sp[0].target != "+12125550123" {
		t.Errorf("a US number: %+v", sp)
	}
}
