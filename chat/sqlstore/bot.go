package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/korobka/korobka/chat"
)

var _ chat.APIKeyStore = (*Store)(nil)

// CreateAPIKey stores a key unless MaxAPIKeys keys already work.
func (s *Store) CreateAPIKey(ctx context.Context, k chat.APIKey) error {
	return s.write(ctx, "create api key", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL`).Scan(&n); err != nil {
			return err
		}
		if n >= chat.MaxAPIKeys {
			return chat.ErrTooManyAPIKeys
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, name, prefix, hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.Prefix, k.Hash, k.CreatedBy, s.ts(k.CreatedAt))
		return err
	})
}

const apiKeyCols = `id, name, prefix, hash, created_by, created_at, revoked_at`

func scanAPIKey(r interface{ Scan(...any) error }) (chat.APIKey, error) {
	var k chat.APIKey
	err := r.Scan(&k.ID, &k.Name, &k.Prefix, &k.Hash, &k.CreatedBy, timeCol{&k.CreatedAt}, timeCol{&k.RevokedAt})
	return k, err
}

// APIKeyByHash returns the working key with the hash.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (chat.APIKey, error) {
	k, err := scanAPIKey(s.r.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = ? AND revoked_at IS NULL`, hash))
	if err != nil {
		return chat.APIKey{}, s.fail("api key", err)
	}
	return k, nil
}

// APIKeys returns every key, newest first (working ones are at most
// MaxAPIKeys; revoked ones are few, as admins revoke by hand).
func (s *Store) APIKeys(ctx context.Context) ([]chat.APIKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY created_at DESC, id DESC LIMIT 1000`)
	out, err := collect(rows, err, scanAPIKey)
	if err != nil {
		return nil, s.fail("api keys", err)
	}
	return out, nil
}

// RevokeAPIKey marks a working key revoked.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64, now time.Time) error {
	return s.write(ctx, "revoke api key", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, s.ts(now), id)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = chat.ErrNotFound
		}
		return err
	})
}
