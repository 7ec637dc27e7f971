package renderer

import (
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/nyaruka/phonenumbers"
	"mvdan.cc/xurls/v2"
)

// Message text is user data: it is never parsed as a template, but links,
// e-mail addresses and phone numbers in it become tappable spans. The rules
// work on Unicode classes, not on ASCII (docs/screens.md, "Links"):
//
//   - URLs are found by mvdan.cc/xurls (RFC 3987 IRI characters, final
//     punctuation left to the sentence) after http://, https:// or www.
//     (then https:// is added), and cut where the sentence resumes: at any
//     space, a quotation mark, a non-ASCII bracket or non-ASCII
//     punctuation (» ” 」 。 ، ...). The host must be dotted. A URL must
//     not start inside a word: the character before it is not a letter,
//     mark or digit (except of scripts written without spaces, such as
//     Chinese), so «https://example.com» links and "xhttps://..." does not.
//   - E-mail addresses are an ASCII local part, @, and a domain of labels
//     in any script ending in a label of letters (anna@пример.рф); they
//     link as mailto:.
//   - Phone numbers are runs of digits with single separators (spaces of
//     any kind, hyphens, dots, one pair of parentheses) and an optional
//     leading +, not touching a letter, digit or mark. A run links only when
//     nyaruka/phonenumbers finds it a valid number of plausible shape: with
//     + it is read internationally; without, it must start with the
//     region's trunk prefix (8 in Russia, 0 in most of Europe) and is read
//     in that region; and its digit groups must not split the groups of
//     the number's own national or international format. So amounts
//     ("8 000 000 000 0"), dates and order numbers stay text.
//
// The target of a phone is its E.164 form.

type span struct {
	start, end int
	kind       string // "url", "email", "phone"
	target     string // URL, mailto: address or E.164 phone
}

// quickNoLinks skips most messages with one cheap scan: every link has a
// dot, an @ or a digit.
func quickNoLinks(s string) bool {
	return !strings.ContainsAny(s, ".@0123456789")
}

// findSpans returns the links of s in order, without overlaps. region is
// the ISO 3166-1 code in which numbers without a country code are read;
// "" links only numbers written with +.
func findSpans(s, region string, cache *lru.Cache[string, string]) []span {
	if quickNoLinks(s) {
		return nil
	}
	var out []span
	if strings.ContainsAny(s, ".@") {
		out = urlSpans(s)
	}
	if strings.ContainsAny(s, "0123456789") {
		for _, p := range phoneSpans(s, region, cache) {
			if !overlaps(out, p) {
				out = append(out, p)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].start < out[j].start })
	}
	return out
}

func overlaps(spans []span, x span) bool {
	for _, s := range spans {
		if x.start < s.end && s.start < x.end {
			return true
		}
	}
	return false
}

// wordRune reports a rune that continues a word: a link may not start
// right after one, nor a phone number end right before one.
func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_'
}

func prevRune(s string, i int) rune {
	if i == 0 {
		return ' '
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return r
}

func nextRune(s string, i int) rune {
	if i >= len(s) {
		return ' '
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

// urlRE matches what follows http://, https:// or www. by xurls' rules
// (RFC 3987 path characters, no trailing punctuation). It is built once,
// lazily, because compiling it costs milliseconds.
var urlRE = sync.OnceValue(func() *regexp.Regexp {
	re, err := xurls.StrictMatchingScheme(`https?://|www\.`)
	if err != nil {
		panic(err) // a constant expression: fails in every test run, never in production only
	}
	return re
})

func urlSpans(s string) []span {
	var out []span
	if strings.Contains(s, "://") || containsFold(s, "www.") {
		for _, m := range urlRE().FindAllStringIndex(s, -1) {
			i, j := m[0], m[1]
			if p := prevRune(s, i); wordRune(p) && !spaceless(p) || strings.ContainsRune("@.-/+:", p) {
				continue
			}
			j = i + len(trimURL(s[i:j]))
			u := s[i:j]
			switch {
			case hasPrefixFold(u, "www."):
				if validHost(u) {
					out = append(out, span{start: i, end: j, kind: "url", target: "https://" + u})
				}
			case validHost(u[strings.Index(u, "://")+3:]):
				out = append(out, span{start: i, end: j, kind: "url", target: u})
			}
		}
	}
	if strings.IndexByte(s, '@') >= 0 {
		for _, e := range emailSpans(s) {
			if !overlaps(out, e) {
				out = append(out, e)
			}
		}
	}
	return out
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// emailSpans finds addresses: an ASCII local part (letters, digits and
// ._%+-), @, and a domain of two or more labels of letters, marks, digits
// and hyphens (any script: пример.рф), the last one of at least two
// letters; not touching a word on either side.
func emailSpans(s string) []span {
	var out []span
	for at := strings.IndexByte(s, '@'); at >= 0; {
		i := at
		for i > 0 && isLocalByte(s[i-1]) {
			i--
		}
		for i < at && s[i] == '.' {
			i++
		}
		j := domainEnd(s, at+1)
		if i < at && j > at+1 && !wordRune(prevRune(s, i)) && !wordRune(nextRune(s, j)) {
			out = append(out, span{start: i, end: j, kind: "email", target: "mailto:" + s[i:j]})
		}
		next := strings.IndexByte(s[at+1:], '@')
		if next < 0 {
			break
		}
		at += 1 + next
	}
	return out
}

func isLocalByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._%+-", c) >= 0
}

// domainEnd returns the end of a valid domain starting at i, or i.
func domainEnd(s string, i int) int {
	end, labels, j := i, 0, i
	for {
		k, letters := j, 0
		for k < len(s) {
			r, size := utf8.DecodeRuneInString(s[k:])
			if !(unicode.IsLetter(r) || unicode.IsMark(r) || unicode.IsDigit(r) || r == '-') {
				break
			}
			if unicode.IsLetter(r) {
				letters++
			}
			k += size
		}
		if k == j || s[j] == '-' || s[k-1] == '-' {
			break
		}
		labels++
		if labels >= 2 && letters >= 2 && letters == utf8.RuneCountInString(s[j:k]) {
			end = k // a top-level label: letters only
		}
		if k >= len(s) || s[k] != '.' {
			break
		}
		j = k + 1
	}
	return end
}

// spaceless reports a letter of a script written without spaces between
// words, after which a link may start: "请看https://example.com".
func spaceless(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai, unicode.Lao, unicode.Khmer, unicode.Myanmar)
}

// trimURL cuts a match where a person's sentence resumes: at a space of
// any kind, a quotation mark (Pi, Pf: « » “ ” „), a bracket other than
// ASCII ()[]{} (「 」), or non-ASCII punctuation (。，、：؟ ،); then drops
// trailing ASCII punctuation and closing brackets that open nowhere in it.
func trimURL(u string) string {
	for i, r := range u {
		if unicode.In(r, unicode.Zs, unicode.Pi, unicode.Pf) ||
			r > unicode.MaxASCII && unicode.In(r, unicode.Ps, unicode.Pe, unicode.Po) {
			u = u[:i]
			break
		}
	}
	for u != "" {
		c := u[len(u)-1]
		switch {
		case strings.IndexByte(".,!?;:'\"*", c) >= 0:
		case c == ')' && strings.Count(u, "(") < strings.Count(u, ")"),
			c == ']' && strings.Count(u, "[") < strings.Count(u, "]"),
			c == '}' && strings.Count(u, "{") < strings.Count(u, "}"):
		default:
			return u
		}
		u = u[:len(u)-1]
	}
	return u
}

// validHost reports whether the host of rest (what follows the scheme) is
// a dotted name: "https://x" or "https://localhost" are not links a person
// means.
func validHost(rest string) bool {
	host := rest
	if k := strings.IndexAny(host, "/?#"); k >= 0 {
		host = host[:k]
	}
	if k := strings.LastIndexByte(host, '@'); k >= 0 {
		host = host[k+1:]
	}
	dot := strings.LastIndexByte(host, '.')
	return dot > 0 && dot < len(host)-1 && utf8.RuneCountInString(host) >= 4
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

// phoneSep reports a separator allowed between the digits of a phone
// number: spaces of any width, hyphens and dashes, dots, parentheses.
func phoneSep(r rune) bool {
	switch r {
	case ' ', '\u00a0', '\u2007', '\u2009', '\u202f', '-', '\u2010', '\u2011', '\u2012', '\u2013', '.', '(', ')':
		return true
	}
	return false
}

// maxPhoneDigits bounds a candidate: 15 digits of E.164 and a trunk
// prefix, with room to spare.
const maxPhoneDigits = 17

func phoneSpans(s, region string, cache *lru.Cache[string, string]) []span {
	var out []span
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r != '+' && !(r >= '0' && r <= '9') || wordRune(prevRune(s, i)) || strings.ContainsRune("+-_./,@#%&*=", prevRune(s, i)) {
			i += size
			continue
		}
		end, ok := phoneCandidate(s, i)
		if !ok {
			i = max(end, i+size)
			continue
		}
		if target, ok := cachedPhone(s[i:end], region, cache); ok {
			out = append(out, span{start: i, end: end, kind: "phone", target: target})
		}
		i = end
	}
	return out
}

// phoneCandidate scans a run of digits and single separators from i (at
// '+' or a digit) and returns where it ends (after its last digit) and
// whether it may be a number: not touching a word, at most one pair of
// parentheses, no more than two separators in a row (") " or " (").
func phoneCandidate(s string, i int) (int, bool) {
	j, end, digits, seps, open, pairs := i, i, 0, 0, false, 0
	if s[j] == '+' {
		j++
	}
	for j < len(s) {
		r, size := utf8.DecodeRuneInString(s[j:])
		switch {
		case r >= '0' && r <= '9':
			digits++
			seps = 0
			j += size
			end = j
			if digits > maxPhoneDigits {
				return j, false
			}
			continue
		case phoneSep(r) && seps < 2:
			switch r {
			case '(':
				if open || pairs > 0 {
					return end, false
				}
				open = true
			case ')':
				if !open {
					goto done
				}
				open, pairs = false, pairs+1
			default:
				if seps == 1 && !strings.ContainsRune("()", prevRune(s, j)) {
					goto done
				}
			}
			seps++
			j += size
			continue
		}
		break
	}
done:
	if open || digits < 7 || wordRune(nextRune(s, end)) {
		return end, false
	}
	// "8 916 123-45-67.5" or "…-67,50": a number that goes on is not one.
	if n := nextRune(s, end); (n == '.' || n == ',' || n == '-' || n == '/') && end+1 < len(s) && s[end+1] >= '0' && s[end+1] <= '9' {
		return end, false
	}
	return end, true
}

// cachedPhone is validPhone remembered in cache (nil: none); "" marks a
// candidate that is not a phone.
func cachedPhone(c, region string, cache *lru.Cache[string, string]) (string, bool) {
	if cache == nil {
		return validPhone(c, region)
	}
	key := region + "\x00" + c
	if t, ok := cache.Get(key); ok {
		return t, t != ""
	}
	t, _ := validPhone(c, region)
	cache.Add(key, t)
	return t, t != ""
}

// validPhone checks a candidate with phonenumbers and returns its E.164
// form.
func validPhone(c, region string) (string, bool) {
	intl := c[0] == '+'
	if !intl {
		ndd := phonenumbers.GetNddPrefixForRegion(region, true)
		if region == "" || ndd == "" || !strings.HasPrefix(c, ndd) {
			return "", false
		}
	}
	parseRegion := region
	if intl {
		parseRegion = "ZZ"
	}
	n, err := phonenumbers.Parse(c, parseRegion)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", false
	}
	if !groupsKept(c, n) {
		return "", false
	}
	return phonenumbers.Format(n, phonenumbers.E164), true
}

// groupsKept reports whether the candidate's digit groups keep the groups
// of the number's national or international format whole: "916 123-45-67"
// and "89161234567" do, "9 161 234 567" does not.
func groupsKept(c string, n *phonenumbers.PhoneNumber) bool {
	digits, cuts := digitGroups(c)
	if len(cuts) == 0 {
		return true
	}
	for _, f := range []phonenumbers.PhoneNumberFormat{phonenumbers.NATIONAL, phonenumbers.INTERNATIONAL} {
		fd, fcuts := digitGroups(phonenumbers.Format(n, f))
		if !strings.HasSuffix(fd, digits) {
			continue
		}
		off := len(fd) - len(digits)
		ok := true
		for cut := range cuts {
			if !fcuts[cut+off] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// digitGroups returns the digits of s and the positions (in digits)
// where a non-digit separates two of them.
func digitGroups(s string) (string, map[int]bool) {
	var b strings.Builder
	cuts := map[int]bool{}
	sep := false
	for _, r := range s {
		if r >= '0' && r <= '9' {
			if sep && b.Len() > 0 {
				cuts[b.Len()] = true
			}
			sep = false
			b.WriteRune(r)
			continue
		}
		sep = true
	}
	return b.String(), cuts
}

// appendSpans writes ,"spans":[...] when s holds any link.
func appendSpans(b []byte, s, region string, cache *lru.Cache[string, string]) []byte {
	sp := findSpans(s, region, cache)
	if len(sp) == 0 {
		return b
	}
	b = append(b, `,"spans":[`...)
	pos := 0
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	for _, x := range sp {
		if x.start > pos {
			sep()
			b = append(b, `{"text":`...)
			b = appendString(b, s[pos:x.start])
			b = append(b, '}')
		}
		sep()
		b = append(b, `{"text":`...)
		b = appendString(b, s[x.start:x.end])
		b = append(b, `,"kind":`...)
		b = appendString(b, x.kind)
		if x.kind == "phone" {
			b = append(b, `,"action":{"type":"call","phone":`...)
		} else {
			b = append(b, `,"action":{"type":"open_url","url":`...)
		}
		b = appendString(b, x.target)
		b = append(b, "}}"...)
		pos = x.end
	}
	if pos < len(s) {
		sep()
		b = append(b, `{"text":`...)
		b = appendString(b, s[pos:])
		b = append(b, '}')
	}
	return append(b, ']')
}

// FirstURL returns the target of the first web link in s as message
// bubbles link it (the rules above: http://, https:// or www., which gets
// https://), or "" when s has none. E-mail addresses and phone numbers do
// not count. Link previews use it, so the card shows the link the bubble
// makes tappable.
func FirstURL(s string) string {
	if !strings.ContainsRune(s, '.') {
		return ""
	}
	for _, sp := range urlSpans(s) {
		if sp.kind == "url" {
			return sp.target
		}
	}
	return ""
}

// formatPhone is the phone() expression function: an E.164 number in its
// international format, anything else unchanged.
func formatPhone(s string) string {
	if !strings.HasPrefix(s, "+") {
		return s
	}
	num, err := phonenumbers.Parse(s, "")
	if err != nil {
		return s
	}
	return phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
}
