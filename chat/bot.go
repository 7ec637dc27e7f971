package chat

import (
	"context"
	"errors"
	"strings"
	"time"
)

// APIKey is a bot API key as stored: its hash, never the key itself. The
// key is shown once, when an admin creates it; Prefix (its first
// characters) lets the admin page tell keys apart.
type APIKey struct {
	ID        int64
	Name      string
	Prefix    string
	Hash      []byte
	CreatedBy int64
	CreatedAt time.Time
	RevokedAt time.Time // zero while the key works
}

// APIKeyView is a key in the admin API's wire form; Key is set only in
// the answer that created it.
type APIKeyView struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	Key       string     `json:"key,omitempty"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// View returns the key's wire form, without the key.
func (k APIKey) View() APIKeyView {
	v := APIKeyView{ID: FormatID(k.ID), Name: k.Name, Prefix: k.Prefix, CreatedBy: FormatID(k.CreatedBy), CreatedAt: k.CreatedAt.UTC()}
	if !k.RevokedAt.IsZero() {
		t := k.RevokedAt.UTC()
		v.RevokedAt = &t
	}
	return v
}

// APIKeyStore keeps bot API keys.
type APIKeyStore interface {
	// CreateAPIKey stores a key; more than MaxAPIKeys working keys is
	// ErrTooManyAPIKeys.
	CreateAPIKey(ctx context.Context, k APIKey) error
	// APIKeyByHash returns the working (not revoked) key with the hash, or
	// ErrNotFound.
	APIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	// APIKeys returns every key, newest first.
	APIKeys(ctx context.Context) ([]APIKey, error)
	// RevokeAPIKey stops a key from working; ErrNotFound when there is no
	// working key of that id.
	RevokeAPIKey(ctx context.Context, id int64, now time.Time) error
}

// APIKeyPrefix starts every bot API key, so that a leaked key is
// recognisable (secret scanners) and never taken for a session token.
const APIKeyPrefix = "kbk_"

// Bot API limits.
const (
	MaxAPIKeys       = 100
	MaxAPIKeyNameLen = 100
)

// Bot API errors.
var (
	ErrInvalidAPIKey  = &Error{Kind: KindUnauthorized, Code: "invalid_token", Message: "This API key is not valid or was revoked."}
	ErrTooManyAPIKeys = &Error{Kind: KindConflict, Code: "too_many_api_keys", Message: "Revoke a key first: at most 100 keys work at once."}
	ErrInvalidKeyName = &Error{Kind: KindInvalid, Code: "invalid_name", Message: "A key's name is 1 to 100 characters of visible text."}
)

// CreateAPIKey makes a new bot API key (admins only) and returns it with
// the key, which is shown this once: only its SHA-256 is stored.
func (s *Service) CreateAPIKey(ctx context.Context, p Principal, name string) (APIKeyView, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return APIKeyView{}, err
	}
	name, err := CleanText(name, TextRule{MaxChars: MaxAPIKeyNameLen, MaxRunes: 4 * MaxAPIKeyNameLen})
	if err != nil {
		return APIKeyView{}, textError(ErrInvalidKeyName, err)
	}
	token, _ := NewToken()
	key := APIKeyPrefix + token
	k := APIKey{ID: NewID(), Name: name, Prefix: key[:len(APIKeyPrefix)+6], Hash: HashToken(key),
		CreatedBy: p.UserID, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	if err := s.audit(ctx, p, "bot_key.create", "bot_key", FormatID(k.ID), map[string]any{"name": name, "prefix": k.Prefix}); err != nil {
		return APIKeyView{}, err
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return APIKeyView{}, err
	}
	v := k.View()
	v.Key = key
	return v, nil
}

// APIKeys lists the keys, revoked ones included, without the keys (admins
// only).
func (s *Service) APIKeys(ctx context.Context, p Principal) ([]APIKeyView, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return nil, err
	}
	keys, err := s.store.APIKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]APIKeyView, len(keys))
	for i, k := range keys {
		out[i] = k.View()
	}
	return out, nil
}

// RevokeAPIKey stops a key from working at once, on every node: each bot
// request looks its key up (admins only).
func (s *Service) RevokeAPIKey(ctx context.Context, p Principal, id int64) error {
	if err := requireRole(p, RoleAdmin); err != nil {
		return err
	}
	if err := s.audit(ctx, p, "bot_key.revoke", "bot_key", FormatID(id), nil); err != nil {
		return err
	}
	return s.store.RevokeAPIKey(ctx, id, s.now().UTC().Truncate(time.Microsecond))
}

// AuthenticateBot resolves a bot API key to the business account, as
// which the bot acts: it reads the business's dialogs and sends in them.
// The principal's role is user: a key never opens admin routes.
func (s *Service) AuthenticateBot(ctx context.Context, key string) (Principal, error) {
	if !strings.HasPrefix(key, APIKeyPrefix) || len(key) > 128 {
		return Principal{}, ErrInvalidAPIKey
	}
	if _, err := s.store.APIKeyByHash(ctx, HashToken(key)); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Principal{}, ErrInvalidAPIKey
		}
		return Principal{}, err
	}
	id, err := s.businessID()
	if err != nil {
		return Principal{}, err
	}
	return Principal{UserID: id, Role: RoleUser}, nil
}
