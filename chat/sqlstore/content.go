package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/korobka/korobka/chat"
)

// SeedContent stores docs as the collection when it has no documents yet.
// Each doc is stored under collection whatever its Collection field says; a
// zero UpdatedAt becomes now. Two nodes seeding the same collection at once
// collide on the primary key; the loser reports false, as if it had found
// the collection seeded, which by then it is.
func (s *Store) SeedContent(ctx context.Context, collection string, docs []chat.ContentDoc) (bool, error) {
	if len(docs) == 0 {
		return false, nil
	}
	seen := make(map[string]bool, len(docs))
	for _, d := range docs {
		if seen[d.ID] {
			return false, fmt.Errorf("sqlstore: seed content %s: document %q given twice", collection, d.ID)
		}
		seen[d.ID] = true
	}
	now := s.now()
	var seeded bool
	err := s.write(ctx, "seed content", func(tx *sql.Tx) error {
		seeded = false
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM content WHERE collection = ? LIMIT 1`, collection).Scan(&one)
		switch {
		case err == nil:
			return nil // already has documents: admin edits win
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		for _, d := range docs {
			updated := d.UpdatedAt
			if updated.IsZero() {
				updated = now
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO content (collection, id, position, published, data, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				collection, d.ID, d.Position, d.Published, string(d.Data), s.ts(updated)); err != nil {
				return err
			}
		}
		seeded = true
		return nil
	})
	if errors.Is(err, chat.ErrConflict) {
		return false, nil
	}
	return seeded, err
}

// Content returns the collection by position (then id, so that equal
// positions still come back in a stable order). An unknown collection is
// empty, not an error: a screen bound to it shows nothing.
func (s *Store) Content(ctx context.Context, collection string, publishedOnly bool) ([]chat.ContentDoc, error) {
	q := `SELECT collection, id, position, published, data, updated_at FROM content WHERE collection = ?`
	if publishedOnly {
		q += ` AND published = TRUE`
	}
	q += ` ORDER BY position, id`
	rows, err := s.r.QueryContext(ctx, q, collection)
	if err != nil {
		return nil, s.fail("content", err)
	}
	defer rows.Close()
	docs := []chat.ContentDoc{}
	for rows.Next() {
		var d chat.ContentDoc
		var data []byte
		if err := rows.Scan(&d.Collection, &d.ID, &d.Position, &d.Published, &data, timeCol{&d.UpdatedAt}); err != nil {
			return nil, s.fail("content", err)
		}
		d.Data = data
		docs = append(docs, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("content", err)
	}
	return docs, nil
}
