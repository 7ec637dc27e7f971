package chat

import (
	"context"

	"github.com/nyaruka/phonenumbers"
)

// namelessTitle is what a viewer calls a user who has not given a name:
// their number as people write it (FormatPhone) when it is in the viewer's
// address book, and "" otherwise, for which screens show a localised
// "Unknown" (strings common.unknown) with its initial. A number is never
// revealed to someone who does not already have it.
func (s *Service) namelessTitle(ctx context.Context, viewer int64, u User) (string, error) {
	if u.Phone == "" {
		return "", nil
	}
	knows, err := s.store.KnowsPhone(ctx, viewer, u.Phone)
	if err != nil || !knows {
		return "", err
	}
	return FormatPhone(u.Phone), nil
}

// FormatPhone writes an E.164 number in the international format of its
// country, as people write it ("+7 916 123-45-67"), by libphonenumber's
// metadata (nyaruka/phonenumbers); a number it cannot read is returned
// as it is.
func FormatPhone(e164 string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return e164
	}
	return phonenumbers.Format(num, phonenumbers.INTERNATIONAL)
}
