package chat

import (
	"context"
	"encoding/json"
	"time"
)

// AuditEntry is one admin or operator action in the audit log: who did
// what to which target, and when. Details is a JSON object of what the
// action changed (a new role, a block's reason); it never holds secrets.
type AuditEntry struct {
	ID         int64           `json:"id,string"`
	At         time.Time       `json:"at"`
	ActorID    int64           `json:"actor_id,string"`
	ActorRole  Role            `json:"actor_role"`
	Action     string          `json:"action"`      // dotted, e.g. "user.block", "dialog.view"
	TargetType string          `json:"target_type"` // "user", "dialog", "screen", ...
	TargetID   string          `json:"target_id"`
	Details    json.RawMessage `json:"details,omitempty"`
}

// AuditFilter selects audit entries: every field that is set must match.
// Before pages backwards: only entries with an id below it (0: the newest).
type AuditFilter struct {
	ActorID    int64
	Action     string
	TargetType string
	TargetID   string
	Before     int64
}

// AuditStore keeps the audit log. Entries are only ever added.
type AuditStore interface {
	// AppendAudit adds one entry and returns it with its id.
	AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error)
	// Audit returns up to limit entries that match f, newest first.
	Audit(ctx context.Context, f AuditFilter, limit int) ([]AuditEntry, error)
}

// audit writes one entry for an action the caller, an admin or an
// operator, took. An action that cannot be audited is not taken: callers
// write the entry before they report success, and an error here fails the
// request.
func (s *Service) audit(ctx context.Context, p Principal, action, targetType, targetID string, details any) error {
	e := AuditEntry{
		At:         s.now().UTC().Truncate(time.Microsecond),
		ActorID:    p.UserID,
		ActorRole:  p.Role,
		Action:     action,
		TargetType: targetType,
		TargetID:   targetID,
	}
	if details != nil {
		b, err := json.Marshal(details)
		if err != nil {
			return err
		}
		e.Details = b
	}
	_, err := s.store.AppendAudit(ctx, e)
	return err
}

// ErrForbidden answers a caller whose role does not allow the request.
var ErrForbidden = &Error{Kind: KindForbidden, Code: "forbidden", Message: "Your role does not allow this."}

// requireRole lets through callers with one of the roles.
func requireRole(p Principal, roles ...Role) error {
	for _, r := range roles {
		if p.Role == r {
			return nil
		}
	}
	return ErrForbidden
}

// AuditLog pages the audit log for an admin, newest first (limit: 1 to
// MaxPage, 0 for DefaultPage).
func (s *Service) AuditLog(ctx context.Context, p Principal, f AuditFilter, limit int) ([]AuditEntry, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	return s.store.Audit(ctx, f, limit)
}
