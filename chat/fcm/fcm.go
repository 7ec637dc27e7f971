// Package fcm sends push notifications through Firebase Cloud Messaging
// (the HTTP v1 API) with firebase.google.com/go/v4, authenticated by a
// service account's JSON key.
package fcm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/korobka/korobka/chat"
)

var _ chat.Pusher = (*Sender)(nil)

// Config is what a Sender needs: a service account key (Credentials, or
// CredentialsFile to read it from).
type Config struct {
	Credentials     []byte
	CredentialsFile string
	// ProjectID is the Firebase project; "" takes the key's project_id.
	ProjectID string
	// Endpoint replaces the FCM API root (tests: a local fake, as
	// "http://127.0.0.1:port/v1").
	Endpoint string
}

// Sender is a chat.Pusher for FCM, safe for concurrent use.
type Sender struct {
	client *messaging.Client
}

// New checks the key and returns a Sender. The key is exchanged for an
// access token on the first push.
func New(ctx context.Context, cfg Config) (*Sender, error) {
	creds := cfg.Credentials
	if len(creds) == 0 {
		if cfg.CredentialsFile == "" {
			return nil, errors.New("fcm: no service account key")
		}
		b, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("fcm: read service account key: %w", err)
		}
		creds = b
	}
	// Only a service account key is accepted: the option would take any
	// credential configuration, some of which make the library run
	// commands or fetch URLs named in the file.
	var key struct {
		Type        string `json:"type"`
		ProjectID   string `json:"project_id"`
		PrivateKey  string `json:"private_key"`
		ClientEmail string `json:"client_email"`
	}
	if err := json.Unmarshal(creds, &key); err != nil {
		return nil, fmt.Errorf("fcm: service account key is not JSON: %w", err)
	}
	if key.Type != "service_account" || key.PrivateKey == "" || key.ClientEmail == "" {
		return nil, errors.New(`fcm: the key is not a service account key (want "type": "service_account" with private_key and client_email)`)
	}
	project := cfg.ProjectID
	if project == "" {
		project = key.ProjectID
	}
	if project == "" {
		return nil, errors.New("fcm: no project id in the key; set it")
	}
	opts := []option.ClientOption{option.WithCredentialsJSON(creds)}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: project}, opts...)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	return &Sender{client: client}, nil
}

// Push sends n to d: a notification message (shown by the system when the
// app is in the background) or, for a silent push, a data message that
// only wakes the app. The same payload carries an APNs section for iOS
// apps that receive through FCM.
func (s *Sender) Push(ctx context.Context, d chat.Device, n chat.Notification) error {
	data := n.Data()
	data["badge"] = strconv.FormatInt(n.Badge, 10)
	ttl := time.Until(n.Expiration)
	if n.Expiration.IsZero() || ttl < 0 {
		ttl = 0
	}
	badge := int(n.Badge)
	m := &messaging.Message{
		Token: d.Token,
		Data:  data,
		Android: &messaging.AndroidConfig{
			// One pending message per dialog while the device is
			// offline: the newest carries the preview and the badge.
			CollapseKey: n.ThreadID,
			Priority:    "high",
			TTL:         &ttl,
		},
		APNS: &messaging.APNSConfig{
			Headers: map[string]string{"apns-priority": "10", "apns-push-type": "alert"},
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{Badge: &badge, ThreadID: n.ThreadID}},
		},
	}
	if n.CollapseID != "" {
		m.APNS.Headers["apns-collapse-id"] = chat.CollapseID(n.CollapseID)
	}
	if n.Silent {
		m.Android.Priority = "normal"
		m.APNS.Headers["apns-priority"] = "5"
		m.APNS.Payload.Aps.ContentAvailable = true
	} else {
		m.Notification = &messaging.Notification{Title: n.Title, Body: n.Body}
		// The tag replaces a shown notification with the same one, so
		// a job sent twice shows once.
		m.Android.Notification = &messaging.AndroidNotification{Tag: n.CollapseID}
		m.APNS.Payload.Aps.Sound = "default"
	}
	if _, err := s.client.Send(ctx, m); err != nil {
		return classify(err)
	}
	return nil
}

// classify turns an FCM error into a *chat.PushError, following the FCM
// v1 error codes.
func classify(err error) error {
	pe := &chat.PushError{Reason: "error", Err: err}
	if res := errorutils.HTTPResponse(err); res != nil {
		pe.Reason = strconv.Itoa(res.StatusCode)
		if s, perr := strconv.Atoi(res.Header.Get("Retry-After")); perr == nil && s > 0 {
			pe.RetryAfter = time.Duration(s) * time.Second
		}
	}
	switch {
	case messaging.IsUnregistered(err):
		// The app was uninstalled or the token expired.
		pe.Gone, pe.Reason = true, "UNREGISTERED"
	case messaging.IsQuotaExceeded(err):
		pe.Temporary, pe.Reason = true, "QUOTA_EXCEEDED"
	case messaging.IsUnavailable(err):
		pe.Temporary, pe.Reason = true, "UNAVAILABLE"
	case messaging.IsInternal(err):
		pe.Temporary, pe.Reason = true, "INTERNAL"
	case messaging.IsThirdPartyAuthError(err):
		// The APNs key in the Firebase console: retry while it is fixed.
		pe.Temporary, pe.Reason = true, "THIRD_PARTY_AUTH_ERROR"
	case messaging.IsSenderIDMismatch(err):
		pe.Reason = "SENDER_ID_MISMATCH"
	case messaging.IsInvalidArgument(err):
		pe.Reason = "INVALID_ARGUMENT"
	case errorutils.IsUnauthenticated(err), errorutils.IsPermissionDenied(err):
		// Our service account: retry while the operator fixes it.
		pe.Temporary = true
	case errorutils.HTTPResponse(err) == nil || errorutils.IsDeadlineExceeded(err) || errorutils.IsUnavailable(err) || errorutils.IsInternal(err):
		// No HTTP answer (network, timeout) or a server-side failure.
		pe.Temporary = true
	}
	return pe
}
