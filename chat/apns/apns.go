// Package apns sends push notifications through Apple's APNs provider API
// with github.com/sideshow/apns2: HTTP/2, token-based authentication with
// a .p8 signing key (key id and team id from the Apple Developer account),
// the topic being the app's bundle id.
package apns

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/payload"
	"github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"

	"github.com/korobka/korobka/chat"
)

var _ chat.Pusher = (*Sender)(nil)

// Config is what a Sender needs. Key (or KeyFile), KeyID, TeamID and Topic
// are required.
type Config struct {
	// Key is the PEM of the .p8 key; KeyFile is read when Key is empty.
	Key     []byte
	KeyFile string
	KeyID   string // 10 characters, from the key's page in the developer account
	TeamID  string // 10 characters, the account's team id
	// Topic is the app's bundle id, used for devices registered without
	// an app_id.
	Topic string
	// Production sends to api.push.apple.com (apps from the App Store and
	// TestFlight); otherwise to the sandbox (development builds).
	Production bool
	// Host replaces the APNs address (tests: a local fake).
	Host string
	// TLS replaces the TLS configuration (tests: trust the fake's
	// certificate). nil: the system's roots.
	TLS *tls.Config
}

// Sender is a chat.Pusher for APNs. It holds one HTTP/2 connection pool
// and a provider token that apns2 renews every 50 minutes; it is safe for
// concurrent use.
type Sender struct {
	client *apns2.Client
	topic  string
}

// New checks cfg, loads the key and returns a Sender. No connection is made
// until the first push.
func New(cfg Config) (*Sender, error) {
	keyPEM := cfg.Key
	if len(keyPEM) == 0 {
		if cfg.KeyFile == "" {
			return nil, errors.New("apns: no key: set the .p8 key file")
		}
		b, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("apns: read key: %w", err)
		}
		keyPEM = b
	}
	key, err := token.AuthKeyFromBytes(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("apns: key is not a .p8 (PKCS #8 PEM, P-256) key: %w", err)
	}
	if len(cfg.KeyID) != 10 || len(cfg.TeamID) != 10 {
		return nil, errors.New("apns: the key id and the team id are 10 characters each")
	}
	if cfg.Topic == "" {
		return nil, errors.New("apns: no topic: set the app's bundle id")
	}
	client := apns2.NewTokenClient(&token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID})
	if cfg.Production {
		client.Production()
	} else {
		client.Development()
	}
	if cfg.Host != "" {
		client.Host = cfg.Host
	}
	if cfg.TLS != nil {
		if t, ok := client.HTTPClient.Transport.(*http2.Transport); ok {
			t.TLSClientConfig = cfg.TLS.Clone()
		}
	}
	// Each push carries its own deadline; the client's overall timeout
	// (60 s in apns2) would only hide a stuck connection behind it.
	client.HTTPClient.Timeout = 0
	return &Sender{client: client, topic: cfg.Topic}, nil
}

// Push sends n to d: an alert with the badge, or a badge update that also
// wakes the app (content-available) for a silent push.
func (s *Sender) Push(ctx context.Context, d chat.Device, n chat.Notification) error {
	p := payload.NewPayload().Badge(int(n.Badge))
	if n.ThreadID != "" {
		p.ThreadID(n.ThreadID)
	}
	priority := apns2.PriorityHigh
	if n.Silent {
		// No alert: the badge changes and the app may drop the dialog's
		// notifications. Low priority, as Apple asks of such pushes.
		p.ContentAvailable()
		priority = apns2.PriorityLow
	} else {
		p.AlertTitle(n.Title).AlertBody(n.Body).Sound("default").MutableContent()
	}
	for k, v := range n.Data() {
		p.Custom(k, v)
	}
	topic := d.AppID
	if topic == "" {
		topic = s.topic
	}
	res, err := s.client.PushWithContext(ctx, &apns2.Notification{
		DeviceToken: d.Token,
		Topic:       topic,
		CollapseID:  chat.CollapseID(n.CollapseID),
		Expiration:  n.Expiration,
		Priority:    priority,
		PushType:    apns2.PushTypeAlert,
		Payload:     p,
	})
	if err != nil {
		// The network, a timeout, a connection APNs closed: try later.
		return &chat.PushError{Temporary: true, Reason: "network", Err: err}
	}
	return classify(res)
}

// classify turns an APNs answer into nil or a *chat.PushError, following
// Apple's table of status codes and reasons.
func classify(res *apns2.Response) error {
	switch {
	case res.Sent():
		return nil
	case res.StatusCode == http.StatusGone,
		res.StatusCode == http.StatusBadRequest && (res.Reason == apns2.ReasonBadDeviceToken || res.Reason == apns2.ReasonUnregistered):
		// 410: the app was removed or the token is no longer valid;
		// BadDeviceToken: not a token of this environment.
		return &chat.PushError{Gone: true, Reason: res.Reason}
	case res.StatusCode == http.StatusTooManyRequests, res.StatusCode >= 500:
		return &chat.PushError{Temporary: true, Reason: res.Reason}
	case res.StatusCode == http.StatusForbidden:
		// Provider token trouble (expired, refreshed too often, a key
		// being rotated): retry, and the operator sees it in the log.
		return &chat.PushError{Temporary: true, Reason: res.Reason}
	default:
		// 400 and 413: this notification or topic will never be taken.
		return &chat.PushError{Reason: fmt.Sprintf("%d %s", res.StatusCode, res.Reason)}
	}
}

// Close drops the idle connections.
func (s *Sender) Close() { s.client.CloseIdleConnections() }
