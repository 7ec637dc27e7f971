package chat

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// TestPhones are numbers that log in with a fixed code and get no SMS, as
// app-store reviewers and load tests need. An entry ending in "*" covers
// every number with that prefix. Only the SMS is skipped: a test number's
// code request stores its fixed code like any other code, so attempts,
// expiry and every limit apply to it as to any number.
type TestPhones struct {
	exact    map[string]string
	prefixes []testPrefix
}

type testPrefix struct{ prefix, code string }

// ParseTestPhones reads the KOROBKA_TEST_PHONES form:
// "+79990000001:111111,+7999*:222222". Exact numbers are normalised to
// E.164 with region; prefixes must be written in E.164 form ("+" and
// digits). Codes are six digits.
func ParseTestPhones(s, region string) (TestPhones, error) {
	tp := TestPhones{exact: map[string]string{}}
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		phone, code, ok := strings.Cut(entry, ":")
		if !ok || !isCode(code) {
			return TestPhones{}, fmt.Errorf("entry %q: want NUMBER:CODE with a 6-digit code", entry)
		}
		if prefix, ok := strings.CutSuffix(phone, "*"); ok {
			if len(prefix) < 2 || prefix[0] != '+' || !allDigits(prefix[1:]) {
				return TestPhones{}, fmt.Errorf("entry %q: a prefix is written as + and digits, then *", entry)
			}
			tp.prefixes = append(tp.prefixes, testPrefix{prefix, code})
			continue
		}
		// A listed number need only parse: reviewers' numbers need not be
		// ones a carrier has issued.
		num, err := findPhone(phone, region, anyNumber)
		if err != nil {
			return TestPhones{}, fmt.Errorf("entry %q: not a phone number", entry)
		}
		tp.exact[formatE164(num)] = code
	}
	return tp, nil
}

// Code returns the fixed code of an E.164 number, if it is a test number.
func (tp TestPhones) Code(phone string) (string, bool) {
	if c, ok := tp.exact[phone]; ok {
		return c, true
	}
	for _, p := range tp.prefixes {
		if strings.HasPrefix(phone, p.prefix) {
			return p.code, true
		}
	}
	return "", false
}

// Listed reports whether phone is listed by itself rather than covered by
// a prefix. Listed numbers are the operator's own, so they are exempt from
// the rules on where SMS may go (they get none anyway); numbers under a
// prefix are a range that may hold real people's numbers and are not.
func (tp TestPhones) Listed(phone string) bool {
	_, ok := tp.exact[phone]
	return ok
}

// Prefixes returns the prefix entries ("+7999"), for the warning a server
// prints at start: a prefix covers numbers of real people.
func (tp TestPhones) Prefixes() []string {
	out := make([]string, len(tp.prefixes))
	for i, p := range tp.prefixes {
		out[i] = p.prefix
	}
	return out
}

// Len is the number of entries.
func (tp TestPhones) Len() int { return len(tp.exact) + len(tp.prefixes) }

// anyNumber accepts whatever parses.
func anyNumber(*phonenumbers.PhoneNumber) bool { return true }

func isCode(s string) bool { return len(s) == codeLen && allDigits(s) }

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}
