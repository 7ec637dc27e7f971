package renderer

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// langStrings is one strings/<lang>.yaml: flat dotted keys to messages.
type langStrings struct {
	lang  string
	tag   language.Tag
	file  string
	msgs  map[string]*message
	forms []plural.Form // forms integers can take in this language (CLDR)
}

// message is a string, or a set of plural forms, split into literal text
// and {placeholder}s once at load.
type message struct {
	plain []msgPart
	forms map[plural.Form][]msgPart
	line  int
	col   int
}

type msgPart struct {
	lit   string
	param string // placeholder name when lit is empty
}

var formNames = map[string]plural.Form{
	"zero": plural.Zero, "one": plural.One, "two": plural.Two,
	"few": plural.Few, "many": plural.Many, "other": plural.Other,
}

func formName(f plural.Form) string {
	for k, v := range formNames {
		if v == f {
			return k
		}
	}
	return "other"
}

func loadStrings(file, lang string, root *yaml.Node, d *diags) *langStrings {
	tag, err := language.Parse(lang)
	if err != nil {
		d.add(file, 1, 1, "file name %q is not a language tag", lang)
	}
	ls := &langStrings{lang: lang, tag: tag, file: file, msgs: map[string]*message{}}
	ls.forms = integerForms(tag)
	if root.Kind != yaml.MappingNode {
		d.add(file, root.Line, root.Column, "strings must be a map")
		return ls
	}
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		eachPair(n, func(k, v *yaml.Node) {
			key := k.Value
			if prefix != "" {
				key = prefix + "." + k.Value
			}
			switch {
			case v.Kind == yaml.ScalarNode:
				ls.msgs[key] = &message{plain: splitMessage(v.Value), line: k.Line, col: k.Column}
			case v.Kind == yaml.MappingNode && isPluralMap(v):
				m := &message{forms: map[plural.Form][]msgPart{}, line: k.Line, col: k.Column}
				eachPair(v, func(fk, fv *yaml.Node) {
					if fv.Kind != yaml.ScalarNode {
						d.add(file, fv.Line, fv.Column, "plural form %q of %q must be a string", fk.Value, key)
						return
					}
					m.forms[formNames[fk.Value]] = splitMessage(fv.Value)
				})
				for _, f := range ls.forms {
					if _, ok := m.forms[f]; !ok {
						if _, ok := m.forms[plural.Other]; !ok || f != plural.Other {
							d.add(file, v.Line, v.Column, "%q lacks the %q plural form %s needs", key, formName(f), lang)
						}
					}
				}
				ls.msgs[key] = m
			case v.Kind == yaml.MappingNode:
				walk(key, v)
			default:
				d.add(file, v.Line, v.Column, "%q must be a string, plural forms or a map of keys", key)
			}
		})
	}
	walk("", root)
	return ls
}

// isPluralMap says a map is plural forms when all its keys are CLDR form
// names; "other" or "one" alone is enough to tell.
func isPluralMap(n *yaml.Node) bool {
	if len(n.Content) == 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		if _, ok := formNames[n.Content[i].Value]; !ok {
			return false
		}
	}
	return true
}

// integerForms lists the plural forms whole numbers take in a language,
// found by asking the CLDR rules rather than hard-coding them.
func integerForms(tag language.Tag) []plural.Form {
	seen := map[plural.Form]bool{}
	for n := 0; n <= 1000; n++ {
		seen[pluralForm(tag, float64(n))] = true
	}
	var out []plural.Form
	for f := range seen {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// pluralForm picks the CLDR cardinal form for n (up to two decimals).
func pluralForm(tag language.Tag, n float64) plural.Form {
	n = math.Abs(n)
	if n > 1e15 || math.IsNaN(n) {
		return plural.Other
	}
	i := int(n)
	frac := int(math.Round((n - float64(i)) * 100))
	v, f, t := 0, 0, 0
	if frac > 0 {
		v, f, t = 2, frac, frac
		for t%10 == 0 {
			t /= 10
		}
		if frac%10 == 0 {
			v, f = 1, frac/10
		}
	}
	return plural.Cardinal.MatchPlural(tag, i, v, v, f, t)
}

func splitMessage(s string) []msgPart {
	var parts []msgPart
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			parts = append(parts, msgPart{lit: s})
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 || !isIdent(s[i+1:i+j]) {
			parts = append(parts, msgPart{lit: s[:i+1]})
			s = s[i+1:]
			continue
		}
		if i > 0 {
			parts = append(parts, msgPart{lit: s[:i]})
		}
		parts = append(parts, msgPart{param: s[i+1 : i+j]})
		s = s[i+j+1:]
	}
	return parts
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func (m *message) params() map[string]bool {
	out := map[string]bool{}
	add := func(ps []msgPart) {
		for _, p := range ps {
			if p.param != "" {
				out[p.param] = true
			}
		}
	}
	add(m.plain)
	for _, ps := range m.forms {
		add(ps)
	}
	return out
}

// ParseAcceptLanguage turns an Accept-Language header into language tags,
// best first, lower-cased, without q-values. It is forgiving and bounded:
// a hostile header costs a few microseconds and yields at most 16 tags.
func ParseAcceptLanguage(h string) []string {
	if len(h) > 1024 {
		h = h[:1024]
	}
	type lq struct {
		tag string
		q   float64
	}
	var list []lq
	for part := range strings.SplitSeq(h, ",") {
		if len(list) == 16 {
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		if tag == "" || tag == "*" || len(tag) > 35 {
			continue
		}
		q := 1.0
		if p := strings.TrimSpace(params); strings.HasPrefix(p, "q=") {
			f, err := strconv.ParseFloat(p[2:], 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		if q == 0 {
			continue
		}
		list = append(list, lq{strings.ReplaceAll(tag, "_", "-"), q})
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].q > list[j].q })
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = x.tag
	}
	return out
}
