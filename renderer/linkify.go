package renderer

import "strings"

// Message text is user data: it is never parsed as a template, but links,
// e-mail addresses and phone numbers in it become tappable spans. The
// scanner is a single forward pass, linear in the text.

type span struct {
	start, end int
	kind       string // "url", "email", "phone"
	target     string // URL, mailto: address or E.164-ish phone
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isLocalByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '.' || c == '-'
}

// quickNoLinks skips most messages with one cheap scan.
func quickNoLinks(s string) bool {
	return !strings.ContainsAny(s, ".@+0123456789")
}

func findSpans(s string) []span {
	if quickNoLinks(s) {
		return nil
	}
	var out []span
	i := 0
	for i < len(s) {
		boundary := i == 0 || !isWordByte(s[i-1])
		if boundary {
			if sp, ok := matchURL(s, i); ok {
				out = append(out, sp)
				i = sp.end
				continue
			}
			if sp, ok := matchPhone(s, i); ok {
				out = append(out, sp)
				i = sp.end
				continue
			}
			if isLocalByte(s[i]) && s[i] != '.' {
				j := i
				for j < len(s) && isLocalByte(s[j]) {
					j++
				}
				if sp, ok := matchEmail(s, i, j); ok {
					out = append(out, sp)
					i = sp.end
					continue
				}
				if j > i {
					i = j
					continue
				}
			}
		}
		i++
	}
	return out
}

func matchURL(s string, i int) (span, bool) {
	rest := s[i:]
	prefix := ""
	switch {
	case hasPrefixFold(rest, "https://"):
		prefix = ""
	case hasPrefixFold(rest, "http://"):
		prefix = ""
	case hasPrefixFold(rest, "www."):
		prefix = "https://"
	default:
		return span{}, false
	}
	j := i
	for j < len(s) && s[j] > ' ' && s[j] != '"' && s[j] != '<' && s[j] != '>' {
		j++
	}
	// Trailing punctuation belongs to the sentence, not the link.
	for j > i && strings.IndexByte(".,!?;:)'", s[j-1]) >= 0 {
		if s[j-1] == ')' && strings.Count(s[i:j], "(") >= strings.Count(s[i:j], ")") {
			break
		}
		j--
	}
	u := s[i:j]
	host := u
	if k := strings.Index(host, "://"); k >= 0 {
		host = host[k+3:]
	}
	if k := strings.IndexAny(host, "/?#"); k >= 0 {
		host = host[:k]
	}
	if !strings.Contains(host, ".") || len(host) < 4 {
		return span{}, false
	}
	return span{start: i, end: j, kind: "url", target: prefix + u}, true
}

func hasPrefixFold(s, p string) bool {
	return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p)
}

func matchEmail(s string, i, j int) (span, bool) {
	if j >= len(s) || s[j] != '@' || j == i {
		return span{}, false
	}
	k := j + 1
	for k < len(s) && isDomainByte(s[k]) {
		k++
	}
	for k > j+1 && (s[k-1] == '.' || s[k-1] == '-') {
		k--
	}
	domain := s[j+1 : k]
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || len(domain)-dot-1 < 2 || (k < len(s) && isWordByte(s[k])) {
		return span{}, false
	}
	for _, c := range []byte(domain[dot+1:]) {
		if isDigit(c) {
			return span{}, false
		}
	}
	return span{start: i, end: k, kind: "email", target: "mailto:" + s[i:k]}, true
}

// matchPhone accepts "+" and 10-15 digits with spaces, dashes and
// parentheses between them, or a Russian 8XXXXXXXXXX.
func matchPhone(s string, i int) (span, bool) {
	plus := s[i] == '+'
	if !plus && s[i] != '8' {
		return span{}, false
	}
	j := i
	if plus {
		j++
	}
	digits := make([]byte, 0, 16)
	end := j
	for j < len(s) && len(digits) <= 15 {
		c := s[j]
		switch {
		case isDigit(c):
			digits = append(digits, c)
			j++
			end = j
		case isPhoneSep(c) && j+1 < len(s) && (isDigit(s[j+1]) || isPhoneSep(s[j+1]) && j+2 < len(s) && isDigit(s[j+2])):
			j++
		default:
			goto done
		}
	}
done:
	if end < len(s) && isWordByte(s[end]) {
		return span{}, false
	}
	if plus {
		if len(digits) < 10 || len(digits) > 15 {
			return span{}, false
		}
		return span{start: i, end: end, kind: "phone", target: "+" + string(digits)}, true
	}
	if len(digits) != 11 {
		return span{}, false
	}
	return span{start: i, end: end, kind: "phone", target: "+7" + string(digits[1:])}, true
}

// appendSpans writes ,"spans":[...] when s holds any link.
func appendSpans(b []byte, s string) []byte {
	sp := findSpans(s)
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

func isPhoneSep(c byte) bool { return c == ' ' || c == '-' || c == '(' || c == ')' }
