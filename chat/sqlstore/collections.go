package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/korobka/korobka/chat"
)

var _ chat.CollectionStore = (*Store)(nil)

// PutCollection creates or replaces a collection's definition. The count
// of collections is read in the same transaction; two admins creating the
// last allowed one at once may both succeed, which overshoots the cap by
// one at most per racing admin.
func (s *Store) PutCollection(ctx context.Context, c chat.Collection) (bool, error) {
	var created bool
	err := s.write(ctx, "put collection", func(tx *sql.Tx) error {
		created = false
		var createdAt time.Time
		err := tx.QueryRowContext(ctx, `SELECT created_at FROM content_collections WHERE name = ?`+s.forUpdate(), c.Name).Scan(timeCol{&createdAt})
		switch {
		case err == nil:
			_, err = tx.ExecContext(ctx, `UPDATE content_collections SET title = ?, json_schema = ?, form = ?, tags = ?, updated_at = ? WHERE name = ?`,
				c.Title, string(c.Schema), c.Form, tagsJSON(c.Tags), s.ts(c.UpdatedAt), c.Name)
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM content_collections`).Scan(&n); err != nil {
			return err
		}
		if n >= chat.MaxCollections {
			return chat.ErrTooManyCollections
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO content_collections (name, title, json_schema, form, tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			c.Name, c.Title, string(c.Schema), c.Form, tagsJSON(c.Tags), s.ts(c.CreatedAt), s.ts(c.UpdatedAt)); err != nil {
			return err
		}
		created = true
		return nil
	})
	return created, err
}

// SeedCollection stores c unless a collection of its name exists.
func (s *Store) SeedCollection(ctx context.Context, c chat.Collection) (bool, error) {
	var seeded bool
	err := s.write(ctx, "seed collection", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO content_collections (name, title, json_schema, form, tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`+s.onConflictDoNothing("name"),
			c.Name, c.Title, string(c.Schema), c.Form, tagsJSON(c.Tags), s.ts(c.CreatedAt), s.ts(c.UpdatedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		seeded = n == 1
		return err
	})
	return seeded, err
}

const collectionCols = `name, title, json_schema, form, tags, created_at, updated_at`

func scanCollection(r interface{ Scan(...any) error }) (chat.Collection, error) {
	var c chat.Collection
	var schema, tags []byte
	err := r.Scan(&c.Name, &c.Title, &schema, &c.Form, &tags, timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	c.Schema = schema
	if err == nil {
		err = json.Unmarshal(tags, &c.Tags)
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	return c, err
}

// tagsJSON is the tags column's value: a JSON array, never null.
func tagsJSON(tags []string) string {
	if len(tags) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(tags)
	return string(b)
}

// Collection returns one definition.
func (s *Store) Collection(ctx context.Context, name string) (chat.Collection, error) {
	c, err := scanCollection(s.r.QueryRowContext(ctx, `SELECT `+collectionCols+` FROM content_collections WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Collection{}, chat.ErrNoCollection
	}
	if err != nil {
		return chat.Collection{}, s.fail("collection", err)
	}
	return c, nil
}

// Collections returns every definition by name (at most MaxCollections
// and a few racing ones).
func (s *Store) Collections(ctx context.Context) ([]chat.Collection, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+collectionCols+` FROM content_collections ORDER BY name`)
	out, err := collect(rows, err, scanCollection)
	if err != nil {
		return nil, s.fail("collections", err)
	}
	return out, nil
}

// PutContentDoc creates or replaces a document; a negative position puts
// it after the last.
func (s *Store) PutContentDoc(ctx context.Context, d chat.ContentDoc) (chat.ContentDoc, bool, error) {
	var created bool
	out := d
	err := s.write(ctx, "put content", func(tx *sql.Tx) error {
		out, created = d, false
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM content WHERE collection = ? AND id = ?`+s.forUpdate(), d.Collection, d.ID).Scan(&one)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if !exists || out.Position < 0 {
			var n int
			var last sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), MAX(position) FROM content WHERE collection = ?`, d.Collection).Scan(&n, &last); err != nil {
				return err
			}
			if !exists && n >= chat.MaxDocsPerCollection {
				return chat.ErrCollectionFull
			}
			if out.Position < 0 {
				out.Position = 0
				if last.Valid {
					out.Position = int(last.Int64) + 1
				}
			}
		}
		if exists {
			_, err = tx.ExecContext(ctx, `UPDATE content SET position = ?, published = ?, data = ?, updated_at = ? WHERE collection = ? AND id = ?`,
				out.Position, out.Published, string(out.Data), s.ts(out.UpdatedAt), out.Collection, out.ID)
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO content (collection, id, position, published, data, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
			out.Collection, out.ID, out.Position, out.Published, string(out.Data), s.ts(out.UpdatedAt))
		created = err == nil
		return err
	})
	if err != nil {
		return chat.ContentDoc{}, false, err
	}
	stored, err := s.ContentDoc(ctx, d.Collection, d.ID)
	return stored, created, err
}

// ContentDoc returns one document.
func (s *Store) ContentDoc(ctx context.Context, collection, id string) (chat.ContentDoc, error) {
	var d chat.ContentDoc
	var data []byte
	err := s.r.QueryRowContext(ctx, `SELECT collection, id, position, published, data, updated_at FROM content WHERE collection = ? AND id = ?`, collection, id).
		Scan(&d.Collection, &d.ID, &d.Position, &d.Published, &data, timeCol{&d.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return chat.ContentDoc{}, chat.ErrNoDocument
	}
	if err != nil {
		return chat.ContentDoc{}, s.fail("content doc", err)
	}
	d.Data = data
	return d, nil
}

// DeleteContentDoc removes a document.
func (s *Store) DeleteContentDoc(ctx context.Context, collection, id string) error {
	return s.write(ctx, "delete content", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM content WHERE collection = ? AND id = ?`, collection, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = chat.ErrNoDocument
			}
			return err
		}
		return nil
	})
}

// ReorderContent sets positions 0, 1, 2, ... in the order of ids, which
// must name every document of the collection once.
func (s *Store) ReorderContent(ctx context.Context, collection string, ids []string, now time.Time) error {
	return s.write(ctx, "reorder content", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id FROM content WHERE collection = ?`+s.forUpdate(), collection)
		have, err := collect(rows, err, func(r interface{ Scan(...any) error }) (string, error) {
			var id string
			return id, r.Scan(&id)
		})
		if err != nil {
			return err
		}
		if len(have) != len(ids) {
			return chat.ErrInvalidOrder
		}
		known := make(map[string]bool, len(have))
		for _, id := range have {
			known[id] = true
		}
		for _, id := range ids {
			if !known[id] {
				return chat.ErrInvalidOrder
			}
			delete(known, id) // a repeated id is then unknown
		}
		for i, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE content SET position = ?, updated_at = ? WHERE collection = ? AND id = ?`,
				i, s.ts(now), collection, id); err != nil {
				return err
			}
		}
		return nil
	})
}
