package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/korobka/korobka/chat"
)

// Backfills recompute columns that Go computes (a migration cannot run
// Go). Each is keyed on a version in the backfills table: a start whose
// code has a newer version walks the rows in batches, rewrites those
// whose value differs, and then records the version, so later starts cost
// one read. Nodes starting together may both walk; the work is
// idempotent. A crash midway leaves the version old, and the next start
// walks again.

// backfillBatch is how many rows one backfill transaction reads and
// rewrites: short transactions, so serving nodes are not held up.
const backfillBatch = 500

// backfillSearchName is the backfills row of users.search_name.
const backfillSearchName = "users.search_name"

// backfill runs every backfill whose version is behind the code's.
func backfill(ctx context.Context, s *Store, logger *slog.Logger) error {
	v, err := s.backfillVersion(ctx, backfillSearchName)
	if err != nil {
		return err
	}
	if v >= chat.SearchKeyVersion {
		return nil
	}
	n, err := s.backfillSearchNames(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: backfill %s: %w", backfillSearchName, err)
	}
	logger.InfoContext(ctx, "sqlstore: backfilled", "column", backfillSearchName, "version", chat.SearchKeyVersion, "rows", n)
	return s.setBackfillVersion(ctx, backfillSearchName, chat.SearchKeyVersion)
}

func (s *Store) backfillVersion(ctx context.Context, name string) (int, error) {
	var v int
	err := s.w.QueryRowContext(ctx, `SELECT version FROM backfills WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.fail("backfill version", err)
	}
	return v, nil
}

func (s *Store) setBackfillVersion(ctx context.Context, name string, v int) error {
	return s.write(ctx, "set backfill version", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM backfills WHERE name = ?`, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO backfills (name, version) VALUES (?, ?)`, name, v)
		return err
	})
}

// backfillSearchNames recomputes users.search_name by id order, one batch
// per transaction, and returns how many rows it rewrote. A row is
// rewritten only while its names are the ones the key was computed from,
// so a rename that commits in between keeps its own, newer key.
func (s *Store) backfillSearchNames(ctx context.Context) (int, error) {
	type row struct {
		id                int64
		first, last, name string
	}
	var after int64
	total := 0
	for {
		var batch []row
		err := s.write(ctx, "backfill search names", func(tx *sql.Tx) error {
			q, err := tx.QueryContext(ctx,
				`SELECT id, first_name, last_name, search_name FROM users WHERE id > ? ORDER BY id LIMIT ?`,
				after, backfillBatch)
			rows, err := collect(q, err, func(r interface{ Scan(...any) error }) (row, error) {
				var x row
				return x, r.Scan(&x.id, &x.first, &x.last, &x.name)
			})
			if err != nil {
				return err
			}
			batch = rows
			for _, x := range rows {
				key := searchName(x.first, x.last)
				if key == x.name {
					continue
				}
				if _, err := tx.ExecContext(ctx,
					`UPDATE users SET search_name = ? WHERE id = ? AND first_name = ? AND last_name = ?`,
					key, x.id, x.first, x.last); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		for _, x := range batch {
			if searchName(x.first, x.last) != x.name {
				total++
			}
		}
		if len(batch) < backfillBatch {
			return total, nil
		}
		after = batch[len(batch)-1].id
	}
}
