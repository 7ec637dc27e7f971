package chat

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalidPhone answers input that is not a phone number.
var ErrInvalidPhone = &Error{Kind: KindInvalid, Code: "invalid_phone", Message: "This is not a valid phone number."}

const (
	// maxPhoneInput bounds an entry as a person or an address book writes
	// it, label included ("Анна Петрова (работа) +7 916 123-45-67").
	maxPhoneInput = 256
	// maxNumberRun bounds the part of an entry that is handed to the
	// parser: no real number, however formatted, is longer.
	maxNumberRun = 64
	// maxNumberRuns is how many candidate numbers of one entry are tried,
	// so that an entry full of digit groups costs a few parses at most.
	maxNumberRuns = 4
)

// NormalizePhone reads a number as a person or an address book writes it
// and returns it in E.164. region is the ISO 3166 region assumed for
// numbers written without a country code.
//
// The number is taken from the entry wherever its label is: "Mom +7 916
// 123-45-67", "+7 916 123-45-67 (Mom)" and "8 (916) 123-45-67" are the same
// number. An entry is split into runs: a run starts at a digit, '+' or '('
// and goes on over digits and the separators people write inside numbers
// (spaces, '-', '.', '(', ')', '/', dashes); anything else (letters, ':',
// ',', ...) ends it, and so does a second '+'. The first of the first four
// runs that is a valid number is the entry's number. Letters are always
// label, never digits: a vanity number ("1-800-FLOWERS") is not read, so a
// name can never turn into digits of a different number.
func NormalizePhone(raw, region string) (string, error) {
	num, err := parsePhone(raw, region)
	if err != nil {
		return "", err
	}
	return formatE164(num), nil
}

func formatE164(num *phonenumbers.PhoneNumber) string {
	return phonenumbers.Format(num, phonenumbers.E164)
}

// parsePhone returns the first valid number of an entry (see
// NormalizePhone).
func parsePhone(raw, region string) (*phonenumbers.PhoneNumber, error) {
	return findPhone(raw, region, phonenumbers.IsValidNumber)
}

// findPhone returns the first of an entry's runs that parses and that
// accept takes.
func findPhone(raw, region string, accept func(*phonenumbers.PhoneNumber) bool) (*phonenumbers.PhoneNumber, error) {
	if len(raw) > maxPhoneInput || !utf8.ValidString(raw) {
		return nil, ErrInvalidPhone
	}
	for _, run := range numberRuns(raw, maxNumberRuns) {
		if len(run) > maxNumberRun {
			continue
		}
		num, err := phonenumbers.Parse(run, region)
		if err == nil && accept(num) {
			return num, nil
		}
	}
	return nil, ErrInvalidPhone
}

// numberRuns splits an entry into at most n candidate numbers, trimmed of
// the separators around them; runs without a digit are dropped.
func numberRuns(s string, n int) []string {
	var runs []string
	start, digits := -1, false
	end := func(i int) {
		if start >= 0 && digits {
			runs = append(runs, strings.TrimRightFunc(s[start:i], isNumberSeparator))
		}
		start, digits = -1, false
	}
	for i, r := range s {
		if len(runs) == n {
			break
		}
		switch {
		case isPlus(r):
			end(i) // a '+' always begins a number
			start = i
		case unicode.IsDigit(r):
			if start < 0 {
				start = i
			}
			digits = true
		case r == '(' && start < 0:
			start = i
		case start >= 0 && isNumberSeparator(r):
		default:
			end(i)
		}
	}
	if len(runs) < n {
		end(len(s))
	}
	return runs
}

func isPlus(r rune) bool { return r == '+' || r == '＋' }

// isNumberSeparator reports the characters people write between the
// digits of one number.
func isNumberSeparator(r rune) bool {
	switch r {
	case '-', '.', '(', ')', '/', '‐', '‑', '‒', '–', '—', '−':
		return true
	}
	return unicode.IsSpace(r)
}

// PhoneRegion returns the region of an E.164 number ("RU" for +7 916...),
// or fallback when the number belongs to none. A user's address book is
// written the way people in their own country write numbers, so it is parsed
// with the region of the user's own number.
func PhoneRegion(e164, fallback string) string {
	num, err := phonenumbers.Parse(e164, fallback)
	if err != nil {
		return fallback
	}
	if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != "ZZ" {
		return r
	}
	return fallback
}

// ValidRegion reports whether numbers of the ISO 3166 region can be parsed.
func ValidRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(region) != 0
}

// smsDestination reports whether a login code may be sent by SMS to num:
// its region is one of regions (ISO 3166, upper case) and it is a mobile
// number by libphonenumber's types (MOBILE, or FIXED_LINE_OR_MOBILE where a
// region's ranges do not tell the two apart). Premium-rate, satellite,
// shared-cost, VoIP, pager and fixed-line numbers are refused: SMS to them
// is how SMS pumping fraud makes money.
func smsDestination(num *phonenumbers.PhoneNumber, regions []string) bool {
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
	default:
		return false
	}
	return slices.Contains(regions, phonenumbers.GetRegionCodeForNumber(num))
}
