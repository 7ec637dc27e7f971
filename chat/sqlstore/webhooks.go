package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/korobka/korobka/chat"
)

var _ chat.WebhookStore = (*Store)(nil)

// CreateWebhook stores a webhook unless MaxWebhooks already work.
func (s *Store) CreateWebhook(ctx context.Context, w chat.Webhook) error {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return err
	}
	return s.write(ctx, "create webhook", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhooks WHERE disabled_at IS NULL`).Scan(&n); err != nil {
			return err
		}
		if n >= chat.MaxWebhooks {
			return chat.ErrTooManyWebhooks
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, url, events, secret, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			w.ID, w.URL, string(events), w.Secret, w.CreatedBy, s.ts(w.CreatedAt))
		return err
	})
}

const webhookCols = `id, url, events, secret, created_by, created_at, disabled_at`

func scanWebhook(r interface{ Scan(...any) error }) (chat.Webhook, error) {
	var w chat.Webhook
	var events []byte
	if err := r.Scan(&w.ID, &w.URL, &events, &w.Secret, &w.CreatedBy, timeCol{&w.CreatedAt}, timeCol{&w.DisabledAt}); err != nil {
		return w, err
	}
	return w, json.Unmarshal(events, &w.Events)
}

// Webhooks returns the working webhooks (at most MaxWebhooks).
func (s *Store) Webhooks(ctx context.Context) ([]chat.Webhook, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE disabled_at IS NULL ORDER BY created_at, id LIMIT 1000`)
	out, err := collect(rows, err, scanWebhook)
	if err != nil {
		return nil, s.fail("webhooks", err)
	}
	return out, nil
}

// Webhook returns one webhook.
func (s *Store) Webhook(ctx context.Context, id int64) (chat.Webhook, error) {
	w, err := scanWebhook(s.r.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = ?`, id))
	if err != nil {
		return chat.Webhook{}, s.fail("webhook", err)
	}
	return w, nil
}

// DisableWebhook stops a working webhook.
func (s *Store) DisableWebhook(ctx context.Context, id int64, now time.Time) error {
	return s.write(ctx, "disable webhook", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE webhooks SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL`, s.ts(now), id)
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

// CreateDeliveries stores new deliveries in one transaction.
func (s *Store) CreateDeliveries(ctx context.Context, ds []chat.WebhookDelivery) error {
	return s.write(ctx, "create deliveries", func(tx *sql.Tx) error {
		for _, d := range ds {
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, event, payload, state, attempts, last_status, last_error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				d.ID, d.WebhookID, d.Event, string(d.Payload), d.State, d.Attempts, d.LastStatus, d.LastError, s.ts(d.CreatedAt), s.ts(d.UpdatedAt)); err != nil {
				return err
			}
		}
		return nil
	})
}

const deliveryCols = `id, webhook_id, event, payload, state, attempts, last_status, last_error, created_at, updated_at`

func scanDelivery(r interface{ Scan(...any) error }) (chat.WebhookDelivery, error) {
	var d chat.WebhookDelivery
	var payload []byte
	err := r.Scan(&d.ID, &d.WebhookID, &d.Event, &payload, &d.State, &d.Attempts, &d.LastStatus, &d.LastError, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt})
	d.Payload = payload
	return d, err
}

// WebhookDelivery returns one delivery.
func (s *Store) WebhookDelivery(ctx context.Context, id int64) (chat.WebhookDelivery, error) {
	d, err := scanDelivery(s.r.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE id = ?`, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return chat.WebhookDelivery{}, chat.ErrNotFound
		}
		return chat.WebhookDelivery{}, s.fail("webhook delivery", err)
	}
	return d, nil
}

// UpdateDelivery records an attempt.
func (s *Store) UpdateDelivery(ctx context.Context, d chat.WebhookDelivery) error {
	return s.write(ctx, "update delivery", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET state = ?, attempts = ?, last_status = ?, last_error = ?, updated_at = ? WHERE id = ?`,
			d.State, d.Attempts, d.LastStatus, d.LastError, s.ts(d.UpdatedAt), d.ID)
		return err
	})
}

// WebhookDeliveries pages a webhook's deliveries, newest first.
func (s *Store) WebhookDeliveries(ctx context.Context, webhookID, before int64, limit int) ([]chat.WebhookDelivery, error) {
	q := `SELECT ` + deliveryCols + ` FROM webhook_deliveries WHERE webhook_id = ?`
	args := []any{webhookID}
	if before > 0 {
		// After the delivery before in (created_at, id) order: deliveries
		// made at the same time (one event's, a busy second's) are
		// neither skipped nor repeated.
		q += ` AND (created_at < (SELECT created_at FROM webhook_deliveries WHERE id = ?)
			OR (created_at = (SELECT created_at FROM webhook_deliveries WHERE id = ?) AND id < ?))`
		args = append(args, before, before, before)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	out, err := collect(rows, err, scanDelivery)
	if err != nil {
		return nil, s.fail("webhook deliveries", err)
	}
	return out, nil
}
