package chat

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// ErrInvalidPhone answers input that is not a phone number.
var ErrInvalidPhone = &Error{Kind: KindInvalid, Code: "invalid_phone", Message: "This is not a valid phone number."}

// maxPhoneInput bounds what is handed to the parser: no real number, however
// formatted, is longer.
const maxPhoneInput = 64

// NormalizePhone parses a number as a person would type it ("8 (916)
// 123-45-67", "+7 916 123 45 67") and returns it in E.164. region is the
// ISO 3166 region assumed for numbers written without a country code.
func NormalizePhone(raw, region string) (string, error) {
	num, err := parsePhone(raw, region)
	if err != nil {
		return "", err
	}
	if !phonenumbers.IsValidNumber(num) {
		return "", ErrInvalidPhone
	}
	return formatE164(num), nil
}

func formatE164(num *phonenumbers.PhoneNumber) string {
	return phonenumbers.Format(num, phonenumbers.E164)
}

func parsePhone(raw, region string) (*phonenumbers.PhoneNumber, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > maxPhoneInput {
		return nil, ErrInvalidPhone
	}
	num, err := phonenumbers.Parse(raw, region)
	if err != nil {
		return nil, ErrInvalidPhone
	}
	return num, nil
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
