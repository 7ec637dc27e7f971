package chat

import (
	"context"
	"time"
)

// Pins: one pinned message per dialog (docs/api.md, "Pinned message").
// In a group pinning takes the permission table's pin right (ActionPin);
// in a direct dialog either member pins. A pin or unpin is a system
// message ("Anna pinned «…»"), written with the dialog's pinned_seq in one
// transaction like a group change, so every member gets it as a message
// event and sync replays it.

// ErrCannotPin refuses a pin of a deleted or system message.
var ErrCannotPin = &Error{Kind: KindInvalid, Code: "cannot_pin", Message: "Only a message that is not deleted and not a system message can be pinned."}

// pinExcerpt is how many characters of the pinned text the system
// message carries.
const pinExcerpt = 64

// PinMessage pins the dialog's message seq, replacing any pin, and
// returns the caller's view of the dialog with it (DialogView.Pinned).
// Errors: not_found for a dialog the caller is not in or a message they
// cannot read; not_permitted without the pin right in a group;
// cannot_pin for a deleted or system message. Pinning the pinned message
// again changes nothing.
func (s *Service) PinMessage(ctx context.Context, p Principal, dialogID, seq int64) (DialogView, error) {
	acc, err := s.members.Access(ctx, p, dialogID)
	if err != nil {
		return DialogView{}, err
	}
	if acc.Former != nil {
		return DialogView{}, errDialogNotFound
	}
	if seq <= 0 || !acc.Allows(seq) {
		return DialogView{}, ErrNotFound
	}
	if err := s.allow(ctx, "group:user:"+FormatID(p.UserID), limitGroupEditsPerUser); err != nil {
		return DialogView{}, err
	}
	msgs, err := s.store.MessagesBySeq(ctx, dialogID, []int64{seq})
	if err != nil {
		return DialogView{}, err
	}
	if len(msgs) == 0 {
		return DialogView{}, ErrNotFound
	}
	m := msgs[0]
	if m.System != nil || !m.DeletedAt.IsZero() {
		return DialogView{}, ErrCannotPin
	}
	return s.pin(ctx, p, dialogID, func(e *GroupEdit) error {
		if e.Dialog.PinnedSeq == seq {
			return nil
		}
		e.Dialog.PinnedSeq = seq
		e.Events = []SystemEvent{{Type: SystemPinned, Actor: FormatID(p.UserID), Seq: seq, Title: cutChars(m.Text, pinExcerpt)}}
		return nil
	})
}

// UnpinMessage removes the dialog's pin (nothing when none), by the same
// rights as PinMessage.
func (s *Service) UnpinMessage(ctx context.Context, p Principal, dialogID int64) (DialogView, error) {
	if _, err := s.members.Check(ctx, p, dialogID); err != nil {
		return DialogView{}, err
	}
	if err := s.allow(ctx, "group:user:"+FormatID(p.UserID), limitGroupEditsPerUser); err != nil {
		return DialogView{}, err
	}
	return s.pin(ctx, p, dialogID, func(e *GroupEdit) error {
		if e.Dialog.PinnedSeq == 0 {
			return nil
		}
		e.Events = []SystemEvent{{Type: SystemUnpinned, Actor: FormatID(p.UserID), Seq: e.Dialog.PinnedSeq}}
		e.Dialog.PinnedSeq = 0
		return nil
	})
}

// pin applies a pin decision after checking the caller's right under the
// dialog's lock, then publishes its system message.
func (s *Service) pin(ctx context.Context, p Principal, dialogID int64, decide func(*GroupEdit) error) (DialogView, error) {
	names, err := s.names(ctx, p.UserID)
	if err != nil {
		return DialogView{}, err
	}
	e, err := s.store.EditDialog(ctx, dialogID, p.UserID, s.now().UTC().Truncate(time.Microsecond), withNames(names, func(e *GroupEdit) error {
		if e.Dialog.Kind == DialogGroup {
			if err := e.must(p.UserID, ActionPin); err != nil {
				return err
			}
		} else if _, in := e.member(p.UserID); !in {
			return errDialogNotFound
		}
		return decide(e)
	}))
	if err != nil {
		return DialogView{}, err
	}
	return s.afterGroupEdit(ctx, p, e, nil, nil)
}
