package chat

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// The one text policy: every string a person sees (names, message text,
// dialog subjects, file names, content documents) passes CleanText before
// it is stored, and is refused with its field's error code when it breaks
// the policy; nothing is silently changed beyond NFC and trimming white
// space at both ends. docs/api.md ("Text") states the rule for shells.
//
//   - Valid UTF-8, without U+FFFD (what a JSON decoder makes of invalid
//     UTF-8) and without noncharacters.
//   - Normalised to NFC (Unicode Standard Annex #15), so a name typed
//     composed and one typed decomposed are the same string.
//   - No control characters (Cc), except line feed and tab in multi-line
//     fields (message text, content), and no line or paragraph separators
//     (Zl, Zp).
//   - No format characters (Cf), which include every bidi control of
//     Unicode Standard Annex #9 (ALM, LRM, RLM, LRE..RLO, LRI..PDI), soft
//     hyphen, zero-width space, word joiner and BOM, except where a script
//     or an emoji sequence needs them: ZWNJ and ZWJ (U+200C, U+200D), the
//     Mongolian vowel separator (U+180E), the
//     prepended concatenation marks of Arabic and Syriac (U+0600..U+0605,
//     U+06DD, U+070F, U+0890, U+0891, U+08E2, U+110BD, U+110CD), and tag
//     characters (U+E0020..U+E007F) only inside an emoji tag sequence of
//     Unicode Technical Standard #51 (U+1F3F4, tags, U+E007F: the flags
//     of England, Scotland and Wales). Variation selectors are marks, not
//     format characters, and are allowed.
//   - At least one visible character: one that is not white space, not a
//     control or format character and not default-ignorable (Hangul
//     fillers, combining grapheme joiner, variation selectors), nor the
//     blank braille pattern U+2800.
//   - Lengths count grapheme clusters (Unicode Standard Annex #29, by
//     github.com/rivo/uniseg): a flag, a family emoji or a letter with its
//     accents is one character, as a person counts.

// TextRule is what one field allows.
type TextRule struct {
	// MaxChars is the most grapheme clusters the field holds (0: no limit).
	MaxChars int
	// MaxRunes caps the code points, for the storage column: a grapheme
	// may be many code points (0: no limit).
	MaxRunes int
	// Multiline allows line feeds and tabs (message text, content).
	Multiline bool
	// Optional allows the empty string (a last name, a dialog subject).
	Optional bool
}

// TextError says why a string breaks the text policy; callers answer it
// with their field's error code and this reason in the message.
type TextError struct {
	Reason string
}

func (e *TextError) Error() string { return "text policy: " + e.Reason }

// CleanText checks s against the text policy and rule and returns its
// stored form: NFC, without white space at either end. It returns a
// *TextError when s breaks the policy. Its cost is linear in len(s).
func CleanText(s string, rule TextRule) (string, error) {
	if !utf8.ValidString(s) {
		return "", &TextError{"not valid UTF-8"}
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if s == "" {
		if rule.Optional {
			return "", nil
		}
		return "", &TextError{"empty"}
	}
	if rule.MaxRunes > 0 && utf8.RuneCountInString(s) > rule.MaxRunes {
		return "", &TextError{fmt.Sprintf("over %d code points", rule.MaxRunes)}
	}
	visible := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0x1F3F4 {
			// An emoji tag sequence: the flag base, tag characters, and the
			// cancel tag that ends it (UTS #51, ED-14a).
			if n := tagSequence(s[i+size:]); n > 0 {
				visible = true
				i += size + n
				continue
			}
		}
		if reason := refused(r, rule.Multiline); reason != "" {
			return "", &TextError{fmt.Sprintf("%s (U+%04X at byte %d)", reason, r, i)}
		}
		visible = visible || isVisible(r)
		i += size
	}
	if !visible {
		return "", &TextError{"no visible character"}
	}
	if rule.MaxChars > 0 && uniseg.GraphemeClusterCount(s) > rule.MaxChars {
		return "", &TextError{fmt.Sprintf("over %d characters", rule.MaxChars)}
	}
	return s, nil
}

// tagSequence returns the length of the tag characters and cancel tag at
// the start of s (one or more of U+E0020..U+E007E, then U+E007F), or 0.
func tagSequence(s string) int {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r >= 0xE0020 && r <= 0xE007E:
			i += size
		case r == 0xE007F && i > 0:
			return i + size
		default:
			return 0
		}
	}
	return 0
}

// refused says why r may not appear, or "" when it may.
func refused(r rune, multiline bool) string {
	switch {
	case r == utf8.RuneError:
		return "U+FFFD, a sign of broken encoding"
	case unicode.Is(unicode.Noncharacter_Code_Point, r):
		return "a noncharacter"
	case r == '\n' || r == '\t':
		if multiline {
			return ""
		}
		return "a line break or tab"
	case unicode.Is(unicode.Cc, r):
		return "a control character"
	case unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r):
		return "a line or paragraph separator"
	case r == 0x200C || r == 0x200D:
		return "" // ZWNJ, ZWJ: scripts and emoji sequences need them
	case r == 0x180E:
		return "" // MONGOLIAN VOWEL SEPARATOR: the script needs it
	case unicode.Is(unicode.Prepended_Concatenation_Mark, r):
		return ""
	case unicode.Is(unicode.Bidi_Control, r):
		return "a bidi control"
	case unicode.Is(unicode.Cf, r):
		return "an invisible format character"
	}
	return ""
}

// isVisible reports whether r shows as something on its own.
func isVisible(r rune) bool {
	return !unicode.IsSpace(r) &&
		!unicode.Is(unicode.Cc, r) && !unicode.Is(unicode.Cf, r) &&
		!unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) &&
		!unicode.Is(unicode.Variation_Selector, r) &&
		r != 0x2800 // BRAILLE PATTERN BLANK
}

// CharCount is the length of s as a person counts it: its grapheme
// clusters (UAX #29).
func CharCount(s string) int { return uniseg.GraphemeClusterCount(s) }

// SearchKey is the form in which names are stored for search and search
// text is compared: NFC, full case folding (Unicode's CaseFolding.txt, by
// golang.org/x/text/cases), NFC again and white space trimmed, so "ZOË"
// typed decomposed finds "zoë" and "ΟΔΥΣΣΕΥΣ" finds "Οδυσσεύς" with its
// final sigma. Invalid UTF-8 is replaced first.
func SearchKey(s string) string {
	s = norm.NFC.String(strings.ToValidUTF8(s, "\uFFFD"))
	return strings.TrimSpace(norm.NFC.String(cases.Fold().String(s)))
}

// SearchKeyVersion names the SearchKey rule. Stores that keep SearchKey
// forms recompute them when the version they were computed with is older.
const SearchKeyVersion = 2

// CleanContent applies the text policy to every non-empty string of a
// content document (JSON-shaped: maps, lists, strings, numbers, bools),
// multi-line and without a length limit, and returns the document with
// the cleaned strings. path says where the first string that breaks the
// policy is ("items.0.title"). The admin API and the content seeds use it.
func CleanContent(doc any) (any, error) {
	return cleanContent(doc, "")
}

func cleanContent(v any, path string) (any, error) {
	switch x := v.(type) {
	case string:
		if x == "" {
			return x, nil
		}
		s, err := CleanText(x, TextRule{Multiline: true})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(path, "."), err)
		}
		return s, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			c, err := cleanContent(e, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := cleanContent(e, fmt.Sprintf("%s.%d", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return v, nil
}

// textError answers a string that breaks the text policy with the field's
// error (its code), saying why in the message.
func textError(field *Error, err error) error {
	var te *TextError
	if !errors.As(err, &te) {
		return field
	}
	e := *field
	e.Message = strings.TrimSuffix(field.Message, ".") + ": " + te.Reason + "."
	return &e
}
