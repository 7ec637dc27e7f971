package renderer

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rivo/uniseg"
)

// Values are JSON-shaped: nil, bool, float64 (or Go integer types from
// providers), string, json.Number, []any, map[string]any. Helpers here use
// type switches only: no reflection on the render path.

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint:
		return float64(x), true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	if f, ok := toFloat(v); ok {
		return f != 0
	}
	return true
}

func formatFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// toText is how a value reads when shown: numbers without a trailing .0,
// lists and maps as nothing (a template bug, not a crash).
func toText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "true"
		}
		return "false"
	case json.Number:
		return string(x)
	case []any, map[string]any:
		return ""
	}
	if f, ok := toFloat(v); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return ""
		}
		return formatFloat(f)
	}
	return ""
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	fa, ok1 := toFloat(a)
	fb, ok2 := toFloat(b)
	return ok1 && ok2 && fa == fb
}

// compare returns -1, 0, 1 and false when a and b are not both numbers or
// both strings.
func compare(a, b any) (int, bool) {
	if sa, ok := a.(string); ok {
		sb, ok := b.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(sa, sb), true
	}
	fa, ok1 := toFloat(a)
	fb, ok2 := toFloat(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	switch {
	case fa < fb:
		return -1, true
	case fa > fb:
		return 1, true
	}
	return 0, true
}

func member(obj, key any) any {
	switch o := obj.(type) {
	case map[string]any:
		if k, ok := key.(string); ok {
			return o[k]
		}
	case []any:
		if f, ok := toFloat(key); ok {
			i := int(f)
			if float64(i) != f {
				return nil
			}
			if i < 0 {
				i += len(o)
			}
			if i >= 0 && i < len(o) {
				return o[i]
			}
		}
	}
	return nil
}

// Functions available to screen expressions. Each runs in time linear in
// its input; none loops over data the template does not already hold.
type exprFunc struct {
	min, max int
	fn       func(args *[3]any) any
	// st, instead of fn, is a function of the render too: the time zone
	// (clock, date) or the current date (day, which sets now).
	st  func(st *state, args *[3]any) any
	now bool
}

var exprFuncs = map[string]exprFunc{
	"len": {min: 1, max: 1, fn: func(a *[3]any) any {
		switch x := a[0].(type) {
		case string:
			return float64(uniseg.GraphemeClusterCount(x))
		case []any:
			return float64(len(x))
		case map[string]any:
			return float64(len(x))
		}
		return float64(0)
	}},
	"upper":    {min: 1, max: 1, fn: func(a *[3]any) any { return strings.ToUpper(toText(a[0])) }},
	"lower":    {min: 1, max: 1, fn: func(a *[3]any) any { return strings.ToLower(toText(a[0])) }},
	"trim":     {min: 1, max: 1, fn: func(a *[3]any) any { return strings.TrimSpace(toText(a[0])) }},
	"string":   {min: 1, max: 1, fn: func(a *[3]any) any { return toText(a[0]) }},
	"initials": {min: 1, max: 2, fn: func(a *[3]any) any { return initials(toText(a[0]), toText(a[1])) }},
	"truncate": {min: 2, max: 2, fn: func(a *[3]any) any {
		n, _ := toFloat(a[1])
		return truncate(toText(a[0]), int(n))
	}},
	// by_id finds the element of a list whose "id" equals the argument:
	// a member's name for a message's sender_id. Linear, no closure.
	"by_id": {min: 2, max: 2, fn: func(a *[3]any) any {
		l, _ := a[0].([]any)
		for _, x := range l {
			if m, ok := x.(map[string]any); ok && equal(m["id"], a[1]) {
				return m
			}
		}
		return nil
	}},
	// clock and date show an RFC 3339 time in the request's zone
	// (X-Korobka-TZ, a watch's tz, else the server's KOROBKA_TIME_ZONE).
	"clock": {min: 1, max: 1, st: func(st *state, a *[3]any) any { return formatTime(st, toText(a[0]), "15:04") }},
	"date":  {min: 1, max: 1, st: func(st *state, a *[3]any) any { return formatTime(st, toText(a[0]), "2006-01-02") }},
	// day says which day a time falls on, seen from now in the request's
	// zone: "today", "yesterday", or "" for any other day (and for no
	// time), so a screen can pick a clock, a word or a date.
	"day": {min: 1, max: 1, now: true, st: func(st *state, a *[3]any) any { return dayOf(st, toText(a[0])) }},
	// day_label names a message's day above it in a chat ("Сегодня",
	// "Вчера", "12 ноября", "12 November 2024"), and list_time is a chat
	// list row's time ("21:47", "пн", "12.11.25"): dates.go.
	"day_label": {min: 1, max: 1, now: true, st: func(st *state, a *[3]any) any { return dayLabelMemo(st, toText(a[0])) }},
	"list_time": {min: 1, max: 1, now: true, st: func(st *state, a *[3]any) any { return listTime(st, toText(a[0])) }},
	// phone writes an E.164 number as people write it, in its country's
	// international format ("+7 916 123-45-67", libphonenumber's
	// metadata); anything else comes back as it is.
	"phone": {min: 1, max: 1, fn: func(a *[3]any) any { return formatPhone(toText(a[0])) }},
	// bytes, number and money write sizes, numbers and amounts as the
	// screen's language does, from CLDR data (numbers.go).
	"bytes":  {min: 1, max: 1, st: func(st *state, a *[3]any) any { return formatBytes(st, a[0]) }},
	"number": {min: 1, max: 1, st: func(st *state, a *[3]any) any { return formatNumber(st, a[0]) }},
	"money":  {min: 2, max: 2, st: func(st *state, a *[3]any) any { return formatMoney(st, a[0], a[1]) }},
	// duration shows milliseconds as a player does: "0:41", "12:05",
	// "1:02:03"; "" for none, zero or a negative number.
	"duration": {min: 1, max: 1, fn: func(a *[3]any) any {
		f, _ := toFloat(a[0])
		return playerDuration(f)
	}},
}

// initials takes the first character (grapheme cluster, so a flag or an
// accented letter stays whole) of each name, upper-cased; a single name
// gives the first characters of its first two words.
func initials(a, b string) string {
	var sb strings.Builder
	for _, s := range []string{a, b} {
		sb.WriteString(upperFirst(strings.TrimSpace(s)))
	}
	if strings.TrimSpace(b) == "" {
		// A single name: take the first character of its second word too.
		a = strings.TrimSpace(a)
		if i := strings.IndexFunc(a, unicode.IsSpace); i > 0 {
			sb.WriteString(upperFirst(strings.TrimSpace(a[i:])))
		}
	}
	return sb.String()
}

// upperFirst is the first grapheme cluster of s, its letters upper-cased
// (a cluster upper-cases as a unit: "ǆ" becomes "Ǆ", a flag stays a flag).
func upperFirst(s string) string {
	if s == "" {
		return ""
	}
	g, _, _, _ := uniseg.FirstGraphemeClusterInString(s, -1)
	return strings.ToUpper(g)
}

// truncate cuts s to n characters (grapheme clusters) and adds "…": a flag
// or a family emoji is kept whole or dropped whole, never halved.
func truncate(s string, n int) string {
	if n <= 0 {
		return s
	}
	rest, state := s, -1
	for i := 0; i < n; i++ {
		if rest == "" {
			return s
		}
		_, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
	}
	if rest == "" {
		return s
	}
	return strings.TrimRightFunc(s[:len(s)-len(rest)], unicode.IsSpace) + "…"
}

// formatTime shows an RFC 3339 time in the render's zone.
func formatTime(st *state, s, layout string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return ""
	}
	return t.In(st.zone()).Format(layout)
}

// dayOf is day(): "today", "yesterday" or "" by calendar days in the
// render's zone.
func dayOf(st *state, s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return ""
	}
	loc := st.zone()
	y, m, d := st.now.In(loc).Date()
	ty, tm, td := t.In(loc).Date()
	switch {
	case ty == y && tm == m && td == d:
		return "today"
	case time.Date(ty, tm, td+1, 0, 0, 0, 0, time.UTC).Equal(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)):
		return "yesterday"
	}
	return ""
}

// zone is the render's time zone; UTC when none was given.
func (st *state) zone() *time.Location {
	if st.loc == nil {
		return time.UTC
	}
	return st.loc
}

// playerDuration formats ms milliseconds as m:ss or h:mm:ss, rounded to
// the nearest second (a 400 ms clip is "0:00").
func playerDuration(ms float64) string {
	if !(ms > 0) || ms > 1e12 {
		return ""
	}
	sec := int64(math.Round(ms / 1000))
	h, m, ss := sec/3600, sec/60%60, sec%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, ss)
	}
	return fmt.Sprintf("%d:%02d", m, ss)
}
