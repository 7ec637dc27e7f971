package renderer

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
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
}

var exprFuncs = map[string]exprFunc{
	"len": {1, 1, func(a *[3]any) any {
		switch x := a[0].(type) {
		case string:
			return float64(utf8.RuneCountInString(x))
		case []any:
			return float64(len(x))
		case map[string]any:
			return float64(len(x))
		}
		return float64(0)
	}},
	"upper":    {1, 1, func(a *[3]any) any { return strings.ToUpper(toText(a[0])) }},
	"lower":    {1, 1, func(a *[3]any) any { return strings.ToLower(toText(a[0])) }},
	"trim":     {1, 1, func(a *[3]any) any { return strings.TrimSpace(toText(a[0])) }},
	"string":   {1, 1, func(a *[3]any) any { return toText(a[0]) }},
	"initials": {1, 2, func(a *[3]any) any { return initials(toText(a[0]), toText(a[1])) }},
	"truncate": {2, 2, func(a *[3]any) any {
		n, _ := toFloat(a[1])
		return truncate(toText(a[0]), int(n))
	}},
	// by_id finds the element of a list whose "id" equals the argument:
	// a member's name for a message's sender_id. Linear, no closure.
	"by_id": {2, 2, func(a *[3]any) any {
		l, _ := a[0].([]any)
		for _, x := range l {
			if m, ok := x.(map[string]any); ok && equal(m["id"], a[1]) {
				return m
			}
		}
		return nil
	}},
	"clock": {1, 1, func(a *[3]any) any { return formatTime(toText(a[0]), "15:04") }},
	"date":  {1, 1, func(a *[3]any) any { return formatTime(toText(a[0]), "2006-01-02") }},
	"bytes": {1, 1, func(a *[3]any) any {
		f, _ := toFloat(a[0])
		return humanBytes(f)
	}},
}

func initials(a, b string) string {
	var sb strings.Builder
	for _, s := range []string{a, b} {
		s = strings.TrimSpace(s)
		if r, _ := utf8.DecodeRuneInString(s); r != utf8.RuneError && s != "" {
			sb.WriteRune(unicode.ToUpper(r))
		}
	}
	if b == "" {
		// A single name: take the first letter of its second word too.
		if i := strings.IndexByte(strings.TrimSpace(a), ' '); i > 0 {
			rest := strings.TrimSpace(strings.TrimSpace(a)[i:])
			if r, _ := utf8.DecodeRuneInString(rest); rest != "" {
				sb.WriteRune(unicode.ToUpper(r))
			}
		}
	}
	return sb.String()
}

func truncate(s string, n int) string {
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return strings.TrimRight(s[:j], " ") + "…"
		}
		i++
	}
	return s
}

func formatTime(s, layout string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return ""
	}
	return t.UTC().Format(layout)
}

func humanBytes(f float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return formatFloat(math.Round(f)) + " B"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}
