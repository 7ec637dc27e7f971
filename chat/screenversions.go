package chat

import (
	"context"
	"time"
)

// ScreenVersion is a screen uploaded through the admin API: the YAML of
// one top-level screen that replaces the one the server started with
// (chat/live, "Uploaded"). The live version of a screen is its newest
// version that is not retired; a rollback retires it, so the one before
// serves again (or the server's own when there is none).
type ScreenVersion struct {
	ID        int64
	Name      string
	Source    []byte
	CreatedBy int64
	CreatedAt time.Time
}

// ScreenStore keeps uploaded screen versions.
type ScreenStore interface {
	// AddScreenVersion stores a new live version and returns it with its
	// id.
	AddScreenVersion(ctx context.Context, v ScreenVersion) (ScreenVersion, error)
	// LiveScreenVersions returns the live version of every screen that
	// has one.
	LiveScreenVersions(ctx context.Context) ([]ScreenVersion, error)
	// RetireScreenVersion retires the live version of the screen at at and
	// returns it; ErrNotFound when the screen has none.
	RetireScreenVersion(ctx context.Context, name string, at time.Time) (ScreenVersion, error)
}

// ScreensTopic is the broker topic on which a node that changed the live
// screen versions tells every node to reload them.
const ScreensTopic = "screens"

// RequireRole answers ErrForbidden unless the caller has one of the roles,
// for use cases that live outside the Service (chat/live's screen
// uploads).
func RequireRole(p Principal, roles ...Role) error { return requireRole(p, roles...) }

// RecordAudit writes one audit entry for an action the caller took outside
// the Service (see audit); an error means the action must not be reported
// as done.
func (s *Service) RecordAudit(ctx context.Context, p Principal, action, targetType, targetID string, details any) error {
	return s.audit(ctx, p, action, targetType, targetID, details)
}
