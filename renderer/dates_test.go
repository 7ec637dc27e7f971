package renderer

import (
	"strings"
	"testing"
	"time"
)

// Day labels and list times follow the reader's language and time zone.
func TestDayLabelAndListTime(t *testing.T) {
	moscow, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	// Now: Monday 30 November 2026, 01:30 in Moscow (Sunday 22:30 UTC).
	now := time.Date(2026, 11, 29, 22, 30, 0, 0, time.UTC)
	in := func(lang string, loc *time.Location) *state {
		return &state{lang: lang, now: now, loc: loc}
	}
	const nb = "\u00a0"
	for _, tc := range []struct {
		name, got, want string
	}{
		// 21:10 UTC on the 29th is 00:10 on the 30th in Moscow: today there,
		// yesterday in UTC.
		{"ru today in Moscow", dayLabel(in("ru", moscow), "2026-11-29T21:10:00Z"), "Сегодня"},
		{"en same time in UTC", dayLabel(in("en", nil), "2026-11-29T21:10:00Z"), "Today"},
		{"ru yesterday", dayLabel(in("ru", moscow), "2026-11-29T08:00:00Z"), "Вчера"},
		{"en-GB yesterday", dayLabel(in("en-GB", moscow), "2026-11-29T08:00:00Z"), "Yesterday"},
		{"ru this year", dayLabel(in("ru", moscow), "2026-11-12T08:00:00Z"), "12" + nb + "ноября"},
		{"en this year", dayLabel(in("en", moscow), "2026-11-12T08:00:00Z"), "12" + nb + "November"},
		{"ru last year", dayLabel(in("ru", moscow), "2025-03-14T08:00:00Z"), "14" + nb + "марта 2025" + nb + "г."},
		{"en last year", dayLabel(in("en", moscow), "2025-03-14T08:00:00Z"), "14" + nb + "March 2025"},
		{"de falls back to English", dayLabel(in("de", moscow), "2026-11-12T08:00:00Z"), "12" + nb + "November"},
		{"no time", dayLabel(in("ru", moscow), ""), ""},

		{"ru list today", listTime(in("ru", moscow), "2026-11-29T21:47:00Z"), "00:47"},
		{"ru list yesterday is a weekday", listTime(in("ru", moscow), "2026-11-29T08:00:00Z"), "вс"},
		{"en list this week", listTime(in("en", moscow), "2026-11-24T08:00:00Z"), "Tue"},
		{"ru list six days ago", listTime(in("ru", moscow), "2026-11-24T08:00:00Z"), "вт"},
		{"ru list a week ago", listTime(in("ru", moscow), "2026-11-23T08:00:00Z"), "23.11.26"},
		{"en list a week ago", listTime(in("en", moscow), "2026-11-23T08:00:00Z"), "11/23/26"},
		{"ru list last year", listTime(in("ru", moscow), "2025-11-12T08:00:00Z"), "12.11.25"},
		{"ru list future day", listTime(in("ru", moscow), "2026-12-02T08:00:00Z"), "02.12.26"},
		{"no time", listTime(in("en", nil), "yesterday"), ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// Fragments rendered for live patches speak their variant's language:
// the day of a new bubble, a file's size in it and a chat list row's time
// (a fragment's frame has no language slot of its own, so these once read
// a fragment parameter, or past the frame's end, instead).
func TestFragmentsSpeakTheVariantsLanguage(t *testing.T) {
	e := loadShipped(t)
	moscow := mustZone(t, "Europe/Moscow")
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) // a Monday
	msg := map[string]any{
		"id": "m1", "seq": 1.0, "sender_id": "u3", "text": "", "created_at": "2026-11-30T08:00:00Z",
		"attachments": []any{map[string]any{"id": "1", "kind": "file", "name": "plan.pdf", "size": 1.5 * 1024 * 1024, "url": "/media/uploads/f.pdf", "mime": "application/pdf"}},
	}
	row := map[string]any{"id": "d1", "kind": "direct", "title": "Anna", "unread": 0.0, "updated_at": "2026-11-27T08:00:00Z"}
	for _, tc := range []struct {
		lang, day, size, when string
	}{
		{"ru", `"day":"Сегодня"`, `"size":"1,5` + "\u00a0" + `МБ"`, `"text":"пт"`},
		{"en", `"day":"Today"`, `"size":"1.5` + "\u00a0" + `MB"`, `"text":"Fri"`},
	} {
		v := Variant{Langs: []string{tc.lang}, TZ: moscow, Now: now, Caps: Capabilities{Components: map[string]int{"file": 1}}}
		bubble, err := e.Fragment("message_bubble", map[string]any{"m": msg, "own": false, "sender": "Anna"}, v)
		if err != nil || !strings.Contains(string(bubble), tc.day) || !strings.Contains(string(bubble), tc.size) {
			t.Errorf("%s bubble: want %s and %s: %v %s", tc.lang, tc.day, tc.size, err, bubble)
		}
		r, err := e.Fragment("dialog_row", map[string]any{"dialog": row, "me": "u1"}, v)
		if err != nil || !strings.Contains(string(r), tc.when) {
			t.Errorf("%s chat list row: want %s: %v %s", tc.lang, tc.when, err, r)
		}
	}
}
