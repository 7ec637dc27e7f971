package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/korobka/korobka/chat"
)

var _ chat.PreviewStore = (*Store)(nil)

const previewCols = `url, found, site_name, title, description, image_key, image_size, image_w, image_h, fetched_at, expires_at`

// CachedPreview reads the cache entry of a URL by its hash.
func (s *Store) CachedPreview(ctx context.Context, url string, now time.Time) (chat.CachedPreview, error) {
	var p chat.CachedPreview
	err := s.r.QueryRowContext(ctx, `SELECT `+previewCols+` FROM link_previews WHERE url_hash = ? AND expires_at > ?`,
		chat.URLHash(url), s.ts(now)).Scan(&p.URL, &p.Found, &p.SiteName, &p.Title, &p.Description, &p.ImageKey,
		&p.ImageSize, &p.ImageWidth, &p.ImageHeight, timeCol{&p.FetchedAt}, timeCol{&p.ExpiresAt})
	if err != nil {
		return chat.CachedPreview{}, s.fail("cached preview", err)
	}
	if p.URL != url {
		return chat.CachedPreview{}, chat.ErrNotFound // a hash collision: treat as a miss
	}
	return p, nil
}

// PutCachedPreview replaces the entry of p.URL (delete, then insert, under
// the row's lock where there is one).
func (s *Store) PutCachedPreview(ctx context.Context, p chat.CachedPreview) (string, error) {
	var old string
	h := chat.URLHash(p.URL)
	err := s.write(ctx, "put cached preview", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT image_key FROM link_previews WHERE url_hash = ?`+s.forUpdate(), h).Scan(&old)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM link_previews WHERE url_hash = ?`, h); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO link_previews (url_hash, `+previewCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			h, p.URL, p.Found, p.SiteName, p.Title, p.Description, p.ImageKey, p.ImageSize, p.ImageWidth, p.ImageHeight,
			s.ts(p.FetchedAt), s.ts(p.ExpiresAt))
		return err
	})
	return old, err
}

// ExpireCachedPreviews deletes the oldest expired entries, along the
// expiry index.
func (s *Store) ExpireCachedPreviews(ctx context.Context, now time.Time, limit int) (int, []string, error) {
	if limit <= 0 {
		return 0, nil, nil
	}
	var keys []string
	n := 0
	err := s.write(ctx, "expire cached previews", func(tx *sql.Tx) error {
		keys, n = nil, 0
		rows, err := tx.QueryContext(ctx, `SELECT url_hash, image_key FROM link_previews WHERE expires_at <= ? ORDER BY expires_at LIMIT ?`+s.forUpdate(),
			s.ts(now), limit)
		if err != nil {
			return err
		}
		var hashes []any
		for rows.Next() {
			var h, k string
			if err := rows.Scan(&h, &k); err != nil {
				rows.Close()
				return err
			}
			hashes = append(hashes, h)
			if k != "" {
				keys = append(keys, k)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(hashes) == 0 {
			return err
		}
		n = len(hashes)
		_, err = tx.ExecContext(ctx, `DELETE FROM link_previews WHERE url_hash IN (`+placeholders(len(hashes))+`)`, hashes...)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return n, keys, nil
}

// SetMessagePreview stores a message's preview as a change of the dialog,
// like an edit, with the image's upload row in the same transaction.
func (s *Store) SetMessagePreview(ctx context.Context, dialogID, seq int64, preview json.RawMessage, image *chat.Upload) (chat.Message, error) {
	var m chat.Message
	err := s.write(ctx, "set message preview", func(tx *sql.Tx) error {
		change, lastSeq, err := s.nextChange(ctx, tx, dialogID)
		if err != nil {
			return err
		}
		m, err = scanMessage(tx.QueryRowContext(ctx,
			`SELECT `+messageCols+` FROM messages WHERE dialog_id = ? AND seq = ?`+s.forUpdate(), dialogID, seq))
		if err != nil {
			return err
		}
		if !m.DeletedAt.IsZero() || len(m.Preview) > 0 {
			return chat.ErrNotFound
		}
		if image != nil {
			if err := s.insertUpload(ctx, tx, *image, chat.UploadAttached, image.DialogID, image.ClientID); err != nil {
				return err
			}
		}
		m.Preview, m.Change = preview, change
		if _, err = tx.ExecContext(ctx, `UPDATE messages SET preview = ?, change_seq = ? WHERE dialog_id = ? AND seq = ?`,
			nullJSON(preview), change, dialogID, seq); err != nil {
			return err
		}
		return s.addChange(ctx, tx, dialogID, change, seq, lastSeq)
	})
	return m, err
}
