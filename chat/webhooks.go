package chat

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Webhooks: an admin registers a URL for some events; each event becomes a
// delivery (stored, so the admin API shows its log) and a job on the
// webhook Queue (memory, or Redis Streams shared by every node). A worker
// POSTs the delivery's JSON with
//
//	X-Korobka-Event: form.submitted
//	X-Korobka-Delivery: <delivery id>
//	X-Korobka-Timestamp: <unix seconds>
//	X-Korobka-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// through the SSRF-guarded client (loopback and private targets refused
// unless KOROBKA_OUTBOUND_ALLOW names them). A 2xx answer delivers it;
// anything else is retried with the queue's backoff, and dead after its
// attempts (docs/integrations.md, "Webhooks").

// Webhook events.
const (
	EventMessageCreated = "message.created"
	EventDialogCreated  = "dialog.created"
	EventUserRegistered = "user.registered"
	EventContentChanged = "content.changed"
	EventFormSubmitted  = "form.submitted"
)

// WebhookEvents are the events a webhook may subscribe to.
var WebhookEvents = []string{EventMessageCreated, EventDialogCreated, EventUserRegistered, EventContentChanged, EventFormSubmitted}

// Webhook limits.
const (
	MaxWebhooks      = 20
	MaxWebhookURLLen = 2048
	// WebhookCacheTTL is how long a node reuses its list of webhooks: a
	// new or removed webhook takes effect on every node within it.
	WebhookCacheTTL = 5 * time.Second
)

// JobWebhook is one delivery to run: DialogID carries the delivery's id.
const JobWebhook JobKind = "webhook"

// Delivery states.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
)

// Webhook is a registered URL and its events. Secret signs deliveries;
// the admin sees it once, when the webhook is created.
type Webhook struct {
	ID         int64
	URL        string
	Events     []string
	Secret     string
	CreatedBy  int64
	CreatedAt  time.Time
	DisabledAt time.Time
}

// WebhookView is a webhook in the admin API's wire form; Secret is set
// only in the answer that created it.
type WebhookView struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Secret    string    `json:"secret,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// View returns the webhook's wire form, without its secret.
func (w Webhook) View() WebhookView {
	return WebhookView{ID: FormatID(w.ID), URL: w.URL, Events: w.Events, CreatedBy: FormatID(w.CreatedBy), CreatedAt: w.CreatedAt.UTC()}
}

// WebhookDelivery is one event for one webhook and how sending it went.
type WebhookDelivery struct {
	ID         int64           `json:"id,string"`
	WebhookID  int64           `json:"webhook_id,string"`
	Event      string          `json:"event"`
	Payload    json.RawMessage `json:"payload"`
	State      string          `json:"state"`
	Attempts   int             `json:"attempts"`
	LastStatus int             `json:"last_status"`
	LastError  string          `json:"last_error"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// WebhookStore keeps webhooks and their delivery log.
type WebhookStore interface {
	// CreateWebhook stores a webhook; more than MaxWebhooks working ones
	// is ErrTooManyWebhooks.
	CreateWebhook(ctx context.Context, w Webhook) error
	// Webhooks returns the working webhooks, oldest first.
	Webhooks(ctx context.Context) ([]Webhook, error)
	// Webhook returns one webhook, disabled or not (ErrNotFound).
	Webhook(ctx context.Context, id int64) (Webhook, error)
	// DisableWebhook stops a working webhook (ErrNotFound for none).
	DisableWebhook(ctx context.Context, id int64, now time.Time) error
	// CreateDeliveries stores new deliveries.
	CreateDeliveries(ctx context.Context, ds []WebhookDelivery) error
	// WebhookDelivery returns one delivery (ErrNotFound).
	WebhookDelivery(ctx context.Context, id int64) (WebhookDelivery, error)
	// UpdateDelivery records an attempt: state, attempts, last status and
	// error, updated_at.
	UpdateDelivery(ctx context.Context, d WebhookDelivery) error
	// WebhookDeliveries pages a webhook's deliveries backwards from
	// before (0: the newest).
	WebhookDeliveries(ctx context.Context, webhookID, before int64, limit int) ([]WebhookDelivery, error)
}

// WebhookPoster sends a delivery: chat/outbound's client, which refuses
// loopback and private addresses unless allowed.
type WebhookPoster interface {
	Post(ctx context.Context, url string, headers map[string]string, body []byte) (status int, err error)
}

// WebhookConfig turns webhooks on: without a Queue and a Poster none are
// sent (registering still works, and deliveries wait for a node that can).
type WebhookConfig struct {
	Queue  Queue
	Poster WebhookPoster
	// CheckURL refuses a target the Poster would refuse anyway (a literal
	// loopback or private address), at registration, so the admin learns
	// at once. nil: any http(s) URL.
	CheckURL func(rawURL string) error
	// Workers is how many deliveries a node sends at once (default 4).
	Workers int
}

// Webhook errors.
var (
	ErrInvalidWebhookURL = &Error{Kind: KindInvalid, Code: "invalid_url", Message: "A webhook URL is an absolute http or https URL of a public host, at most 2048 characters."}
	ErrInvalidEvents     = &Error{Kind: KindInvalid, Code: "invalid_events", Message: "Name one or more of the events message.created, dialog.created, user.registered, content.changed, form.submitted."}
	ErrTooManyWebhooks   = &Error{Kind: KindConflict, Code: "too_many_webhooks", Message: "Remove a webhook first: at most 20 work at once."}
)

// webhookCache is a node's recent list of working webhooks.
type webhookCache struct {
	mu    sync.Mutex
	at    time.Time
	hooks []Webhook
}

// CreateWebhook registers url for events (admins only) and returns it with
// its signing secret, shown this once. Audited as webhook.create.
func (s *Service) CreateWebhook(ctx context.Context, p Principal, rawURL string, events []string) (WebhookView, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return WebhookView{}, err
	}
	u, err := url.Parse(rawURL)
	if err != nil || len(rawURL) > MaxWebhookURLLen || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return WebhookView{}, ErrInvalidWebhookURL
	}
	if s.webhooks.CheckURL != nil {
		if err := s.webhooks.CheckURL(rawURL); err != nil {
			return WebhookView{}, &Error{Kind: KindInvalid, Code: "invalid_url", Message: ErrInvalidWebhookURL.Message, Err: err}
		}
	}
	if len(events) == 0 || len(events) > len(WebhookEvents) {
		return WebhookView{}, ErrInvalidEvents
	}
	seen := map[string]bool{}
	for _, e := range events {
		if !slices.Contains(WebhookEvents, e) || seen[e] {
			return WebhookView{}, ErrInvalidEvents
		}
		seen[e] = true
	}
	secret, _ := NewToken()
	w := Webhook{ID: NewID(), URL: rawURL, Events: events, Secret: "whsec_" + secret, CreatedBy: p.UserID,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	if err := s.audit(ctx, p, "webhook.create", "webhook", FormatID(w.ID), map[string]any{"url": u.Redacted(), "events": events}); err != nil {
		return WebhookView{}, err
	}
	if err := s.store.CreateWebhook(ctx, w); err != nil {
		return WebhookView{}, err
	}
	s.hookCache.mu.Lock()
	s.hookCache.at = time.Time{} // this node sees it at once
	s.hookCache.mu.Unlock()
	v := w.View()
	v.Secret = w.Secret
	return v, nil
}

// Webhooks lists the working webhooks without their secrets (admins).
func (s *Service) Webhooks(ctx context.Context, p Principal) ([]WebhookView, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return nil, err
	}
	hooks, err := s.store.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]WebhookView, len(hooks))
	for i, w := range hooks {
		out[i] = w.View()
	}
	return out, nil
}

// DeleteWebhook stops a webhook (admins only); its pending deliveries are
// dropped when their turn comes. Audited as webhook.delete.
func (s *Service) DeleteWebhook(ctx context.Context, p Principal, id int64) error {
	if err := requireRole(p, RoleAdmin); err != nil {
		return err
	}
	if err := s.audit(ctx, p, "webhook.delete", "webhook", FormatID(id), nil); err != nil {
		return err
	}
	if err := s.store.DisableWebhook(ctx, id, s.now().UTC().Truncate(time.Microsecond)); err != nil {
		return err
	}
	s.hookCache.mu.Lock()
	s.hookCache.at = time.Time{}
	s.hookCache.mu.Unlock()
	return nil
}

// WebhookDeliveries pages a webhook's delivery log, newest first (admins).
func (s *Service) WebhookDeliveries(ctx context.Context, p Principal, id, before int64, limit int) ([]WebhookDelivery, error) {
	if err := requireRole(p, RoleAdmin); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPage {
		limit = DefaultPage
	}
	if _, err := s.store.Webhook(ctx, id); err != nil {
		return nil, err
	}
	return s.store.WebhookDeliveries(ctx, id, before, limit)
}

// subscribed returns the working webhooks of an event, from the node's
// list (read at most every WebhookCacheTTL).
func (s *Service) subscribed(ctx context.Context, event string) ([]Webhook, error) {
	s.hookCache.mu.Lock()
	defer s.hookCache.mu.Unlock()
	now := s.now()
	if s.hookCache.at.IsZero() || now.Sub(s.hookCache.at) > WebhookCacheTTL || now.Before(s.hookCache.at) {
		hooks, err := s.store.Webhooks(ctx)
		if err != nil {
			return nil, err
		}
		s.hookCache.hooks, s.hookCache.at = hooks, now
	}
	var out []Webhook
	for _, w := range s.hookCache.hooks {
		if slices.Contains(w.Events, event) {
			out = append(out, w)
		}
	}
	return out, nil
}

// emitWebhook records an event for every webhook subscribed to it and
// queues the deliveries. It never fails the action that caused the
// event: what cannot be recorded is logged.
func (s *Service) emitWebhook(ctx context.Context, event string, data any) {
	if s.webhooks.Queue == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	hooks, err := s.subscribed(ctx, event)
	if err != nil {
		s.log.WarnContext(ctx, "webhooks not read; event not sent", "event", event, "err", err)
		return
	}
	if len(hooks) == 0 {
		return
	}
	raw, err := json.Marshal(data)
	if err != nil {
		s.log.ErrorContext(ctx, "webhook payload", "event", event, "err", err)
		return
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	ds := make([]WebhookDelivery, len(hooks))
	jobs := make([]Job, len(hooks))
	for i, w := range hooks {
		id := NewID()
		payload, _ := json.Marshal(struct {
			ID        string          `json:"id"`
			Event     string          `json:"event"`
			CreatedAt time.Time       `json:"created_at"`
			Data      json.RawMessage `json:"data"`
		}{FormatID(id), event, now, raw})
		ds[i] = WebhookDelivery{ID: id, WebhookID: w.ID, Event: event, Payload: payload, State: WebhookPending, CreatedAt: now, UpdatedAt: now}
		jobs[i] = Job{Key: "webhook:" + FormatID(id), Kind: JobWebhook, DialogID: id, EnqueuedAt: now}
	}
	if err := s.store.CreateDeliveries(ctx, ds); err != nil {
		s.log.WarnContext(ctx, "webhook deliveries not stored", "event", event, "err", err)
		return
	}
	if _, err := s.webhooks.Queue.Enqueue(ctx, jobs...); err != nil {
		s.log.WarnContext(ctx, "webhook deliveries not queued", "event", event, "err", err)
	}
}

// SignWebhook is the X-Korobka-Signature of a delivery: "v1=" and the hex
// HMAC-SHA256 under the webhook's secret of the timestamp (unix seconds,
// as in X-Korobka-Timestamp), a dot and the body. Receivers compute the
// same, compare in constant time, and refuse timestamps more than a few
// minutes old (replays).
func SignWebhook(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// runWebhooks sends deliveries until ctx ends, Workers at a time.
func (s *Service) runWebhooks(ctx context.Context) {
	if s.webhooks.Queue == nil || s.webhooks.Poster == nil {
		return
	}
	n := s.webhooks.Workers
	if n <= 0 {
		n = 4
	}
	var wg sync.WaitGroup
	for i := range n {
		consumer := "webhook-" + FormatID(NewID()) + "-" + strconv.Itoa(i)
		wg.Go(func() {
			for ctx.Err() == nil {
				ds, err := s.webhooks.Queue.Claim(ctx, consumer, 1)
				if err != nil {
					if ctx.Err() == nil {
						s.log.WarnContext(ctx, "webhook queue", "err", err)
						select {
						case <-ctx.Done():
						case <-time.After(time.Second):
						}
					}
					continue
				}
				for _, d := range ds {
					s.deliverWebhook(ctx, d)
				}
			}
		})
	}
	wg.Wait()
}

// deliverWebhook makes one attempt of a delivery and records it.
func (s *Service) deliverWebhook(ctx context.Context, qd Delivery) {
	q := s.webhooks.Queue
	bg := context.WithoutCancel(ctx)
	d, err := s.store.WebhookDelivery(bg, qd.Job.DialogID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			q.Ack(bg, qd)
			return
		}
		q.Retry(bg, qd, nextAttempt(qd.Job, err.Error()), false)
		return
	}
	w, err := s.store.Webhook(bg, d.WebhookID)
	if err != nil || !w.DisabledAt.IsZero() {
		// Removed meanwhile: the delivery is dropped as failed.
		d.State, d.LastError, d.UpdatedAt = WebhookFailed, "webhook removed", s.now().UTC().Truncate(time.Microsecond)
		s.store.UpdateDelivery(bg, d)
		q.Ack(bg, qd)
		return
	}
	ts := s.now().Unix()
	headers := map[string]string{
		"Content-Type":        "application/json",
		"X-Korobka-Event":     d.Event,
		"X-Korobka-Delivery":  FormatID(d.ID),
		"X-Korobka-Timestamp": strconv.FormatInt(ts, 10),
		"X-Korobka-Signature": SignWebhook(w.Secret, ts, d.Payload),
	}
	status, err := s.webhooks.Poster.Post(ctx, w.URL, headers, d.Payload)
	d.Attempts++
	d.LastStatus = status
	d.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	if err == nil && status >= 200 && status < 300 {
		d.State, d.LastError = WebhookDelivered, ""
		if err := s.store.UpdateDelivery(bg, d); err != nil {
			s.log.WarnContext(bg, "webhook delivery not recorded", "delivery", d.ID, "err", err)
		}
		q.Ack(bg, qd)
		return
	}
	reason := fmt.Sprintf("status %d", status)
	if err != nil {
		reason = err.Error()
		if len(reason) > 500 {
			reason = reason[:500]
		}
	}
	d.LastError = reason
	dead, rerr := q.Retry(bg, qd, nextAttempt(qd.Job, reason), false)
	if rerr != nil {
		s.log.WarnContext(bg, "webhook retry not queued", "delivery", d.ID, "err", rerr)
	}
	if dead {
		d.State = WebhookFailed
	}
	if err := s.store.UpdateDelivery(bg, d); err != nil {
		s.log.WarnContext(bg, "webhook delivery not recorded", "delivery", d.ID, "err", err)
	}
}

func nextAttempt(j Job, reason string) Job {
	j.Attempt++
	j.LastError = reason
	j.NotBefore = time.Time{}
	return j
}

// emitBusinessMessage sends message.created for a new message in a dialog
// the business account is in: the webhooks of the business's backend hear
// its conversations, never other users' private ones.
func (s *Service) emitBusinessMessage(ctx context.Context, members []int64, m MessageView) {
	b := s.BusinessID()
	if b == 0 || s.webhooks.Queue == nil || !slices.Contains(members, b) {
		return
	}
	s.emitWebhook(ctx, EventMessageCreated, map[string]any{"message": m})
}
