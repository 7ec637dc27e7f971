package chat

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Config holds a Service's dependencies and policy. Zero durations and an
// empty region mean the defaults below.
type Config struct {
	Store Store
	// SyncCacheBytes bounds the node's cache of recent changes that serves
	// short syncs from memory (chat/recent.go): 0 is
	// DefaultSyncCacheBytes, negative turns it off.
	SyncCacheBytes int
	Broker         Broker
	Presence       Presence
	Limiter        Limiter
	SMS            SMSSender
	Images         ImageStore
	Files          FileStore
	Logger         *slog.Logger
	Now            func() time.Time // nil: time.Now
	// MediaSigner signs attachment URLs; every node must share its
	// secret. nil: a signer with a random secret, for one node and one run.
	MediaSigner *MediaSigner
	// UploadGCInterval is how often Run collects uploads (CollectUploads);
	// 0: DefaultUploadGCInterval.
	UploadGCInterval time.Duration

	// LastSeenInterval is how long disconnects gather before their last
	// seen times are written together; default DefaultLastSeenInterval.
	LastSeenInterval time.Duration
	// PresenceGrace is the reconnect grace: how long the offline step of
	// a user whose last connection on this node closed waits for them to
	// reconnect here (Disconnected). 0 (the zero Config): none, the step
	// runs at once; korobka serve uses DefaultPresenceGrace.
	PresenceGrace time.Duration

	// Groups is the group policy (limits); zero values are the defaults.
	Groups GroupConfig

	// Push configures push notifications (push.go); without a Queue
	// nothing is pushed.
	Push PushConfig

	// Previews configures link previews (preview.go); without an
	// Unfurler there are none.
	Previews PreviewConfig
	// Broadcasts carries the batches of admin broadcasts (broadcast.go),
	// shared by every node; nil: broadcasts answer unavailable.
	Broadcasts Queue
	// Webhooks sends the webhooks admins register (webhooks.go).
	Webhooks WebhookConfig

	Region     string     // region for numbers typed without a country code; default "RU"
	TestPhones TestPhones // numbers with fixed codes and no SMS
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	CodeTTL    time.Duration

	// SMSRegions are the ISO 3166 regions whose mobile numbers may be sent
	// login codes; empty means Region's alone.
	SMSRegions []string
	// LoopbackUnlimited exempts loopback clients from the per-address login
	// limits, for load tests run on the server's host (korobka bench).
	// Per-number limits and code tries are counted as always. Never set it
	// where clients can reach the server through a proxy on the same host.
	LoopbackUnlimited bool
}

// Defaults for Config.
const (
	DefaultRegion     = "RU"
	DefaultAccessTTL  = 15 * time.Minute
	DefaultRefreshTTL = 60 * 24 * time.Hour
	DefaultCodeTTL    = 5 * time.Minute
)

// Cache sizes: a few MB at most, enough for the active dialogs of a node.
const (
	memberCacheSize = 100_000
	typingCacheSize = 10_000
)

// Limits the Service enforces per user. The login limits are in auth.go.
var (
	limitSyncPerUser   = Limit{Rate: 30, Period: time.Hour, Burst: 10}
	limitAvatarPerUser = Limit{Rate: 30, Period: time.Hour, Burst: 10}
	// REST sends get the WebSocket's per-connection budget, per user.
	limitRESTSendPerUser = Limit{Rate: 50, Period: time.Second, Burst: 200}
	limitDialogsPerUser  = Limit{Rate: 100, Period: time.Hour, Burst: 30}
	limitProfilePerUser  = Limit{Rate: 120, Period: time.Hour, Burst: 30}
)

// Service carries out the messenger's use cases. Transports (HTTP, the
// WebSocket gateway) authenticate the caller, decode input and hand both to
// a Service method; every method checks what the caller may do.
type Service struct {
	store Store
	// recent serves short syncs from memory (nil: off); syncSlots bounds
	// the syncs running at once on this node.
	recent    *recentCache
	syncSlots chan struct{}
	// syncCached and syncRead count sync windows served from recent and
	// read from the store (SyncCacheStats).
	syncCached, syncRead atomic.Int64
	broker               Broker
	presence             Presence
	commits              *committer
	push                 *pushes
	previews             *previews // nil: link previews off
	stats                *dailyStats
	// broadcasts carries broadcast batches (broadcast.go).
	broadcasts Queue
	webhooks   WebhookConfig
	hookCache  webhookCache
	members    *Membership
	seen       *lastSeen
	grace      *presenceGrace
	announce   *announcer
	// typing remembers the last typing event per (user, dialog).
	typing *lru.Cache[[2]int64, time.Time]
	// zones remembers the last time zone stored per user (NoteTimeZone).
	zones *lru.Cache[int64, string]
	// schemas caches compiled collection schemas (collections.go).
	schemas schemaCache
	// business is the business account's id (business.go).
	business atomic.Int64
	limiter  Limiter
	sms      SMSSender
	images   ImageStore
	files    FileStore
	media    *MediaSigner
	log      *slog.Logger
	now      func() time.Time

	uploadGCInterval time.Duration
	groups           GroupConfig

	region     string
	testPhones TestPhones
	accessTTL  time.Duration
	refreshTTL time.Duration
	codeTTL    time.Duration

	smsRegions        []string
	loopbackUnlimited bool
}

// NewService returns a Service over cfg's dependencies.
func NewService(cfg Config) *Service {
	s := &Service{
		store:      cfg.Store,
		broker:     cfg.Broker,
		presence:   cfg.Presence,
		limiter:    cfg.Limiter,
		sms:        cfg.SMS,
		images:     cfg.Images,
		files:      cfg.Files,
		media:      cfg.MediaSigner,
		log:        cfg.Logger,
		now:        cfg.Now,
		region:     cfg.Region,
		testPhones: cfg.TestPhones,
		accessTTL:  cfg.AccessTTL,
		refreshTTL: cfg.RefreshTTL,
		codeTTL:    cfg.CodeTTL,

		smsRegions:        cfg.SMSRegions,
		loopbackUnlimited: cfg.LoopbackUnlimited,
		uploadGCInterval:  cfg.UploadGCInterval,
		groups:            cfg.Groups,
		broadcasts:        cfg.Broadcasts,
		webhooks:          cfg.Webhooks,
	}
	if s.groups.MaxMembers <= 0 {
		s.groups.MaxMembers = DefaultGroupMaxMembers
	}
	if s.groups.MaxPerUser <= 0 {
		s.groups.MaxPerUser = DefaultGroupMaxPerUser
	}
	if s.media == nil {
		s.media, _ = NewMediaSigner(NewMediaSecret())
	}
	if s.uploadGCInterval <= 0 {
		s.uploadGCInterval = DefaultUploadGCInterval
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.region == "" {
		s.region = DefaultRegion
	}
	if len(s.smsRegions) == 0 {
		s.smsRegions = []string{s.region}
	}
	if s.accessTTL <= 0 {
		s.accessTTL = DefaultAccessTTL
	}
	if s.refreshTTL <= 0 {
		s.refreshTTL = DefaultRefreshTTL
	}
	if s.codeTTL <= 0 {
		s.codeTTL = DefaultCodeTTL
	}
	if cfg.SyncCacheBytes == 0 {
		cfg.SyncCacheBytes = DefaultSyncCacheBytes
	}
	if s.recent = newRecentCache(cfg.SyncCacheBytes); s.recent != nil {
		s.store = &recentStore{Store: s.store, rc: s.recent}
	}
	s.syncSlots = make(chan struct{}, syncSlots)
	s.commits = newCommitter(s.store, s.broker, s.log)
	s.commits.view = s.view
	node := cfg.Push.Consumer
	if node == "" {
		node = "node-" + FormatID(NewID())
	}
	s.stats = newDailyStats(s.store, node, s.log, s.now)
	pc := cfg.Push
	if pc.Metrics == nil {
		pc.Metrics = NopPushMetrics{}
	}
	pc.Metrics = statsPushMetrics{PushMetrics: pc.Metrics, stats: s.stats}
	s.push = newPushes(pc, s.store, s.log, s.now)
	s.commits.committed = func(jobs []*job) {
		var n int64
		for _, j := range jobs {
			if j.app != nil && !j.app.Dup {
				n++
			}
		}
		s.stats.add(CounterMessages, n)
		s.push.committed(jobs)
	}
	s.previews = newPreviews(cfg.Previews)
	s.members = NewMembership(s.store, s.broker, memberCacheSize)
	s.seen = newLastSeen(s.store, s.log, cfg.LastSeenInterval)
	s.grace = newPresenceGrace(cfg.PresenceGrace, s.goOffline)
	s.announce = newAnnouncer(s.store, s.broker, s.log)
	s.typing, _ = lru.New[[2]int64, time.Time](typingCacheSize)
	s.zones, _ = lru.New[int64, string](timeZoneCacheSize)
	return s
}

// Ping checks the store, for readiness probes.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// allow counts one event against a limit and turns a refusal into a 429.
func (s *Service) allow(ctx context.Context, key string, l Limit) error {
	ok, retry, err := s.limiter.Allow(ctx, key, l)
	if err != nil {
		return &Error{Kind: KindUnavailable, Code: "unavailable", Message: "Try again later.", Err: err}
	}
	if !ok {
		return &Error{Kind: KindRateLimited, Code: "rate_limited", Message: "Too many requests; try again later.", RetryAfter: retry}
	}
	return nil
}
