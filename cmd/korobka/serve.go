package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/apns"
	"github.com/korobka/korobka/chat/fcm"
	"github.com/korobka/korobka/chat/httpapi"
	"github.com/korobka/korobka/chat/live"
	"github.com/korobka/korobka/chat/media"
	"github.com/korobka/korobka/chat/memory"
	"github.com/korobka/korobka/chat/outbound"
	"github.com/korobka/korobka/chat/redis"
	"github.com/korobka/korobka/chat/sms"
	"github.com/korobka/korobka/chat/sqlstore"
	"github.com/korobka/korobka/chat/ws"
	"github.com/korobka/korobka/renderer"
	"github.com/korobka/korobka/screens"
)

// The HTTP server finds the platform routes' Service by a type assertion
// (httpapi.Deps.Service); a method whose signature drifts would switch
// them off silently, so the build checks it here.
var _ httpapi.Integrations = (*chat.Service)(nil)

// shutdownGrace bounds how long in-flight requests may finish after a
// signal.
const shutdownGrace = 15 * time.Second

// presenceTTL is how long a node's presence entries outlive it after a
// crash; nodes refresh theirs well within it.
const presenceTTL = 90 * time.Second

// serve runs the server until ctx ends, then shuts down in order: stop
// accepting, close the WebSockets, let requests finish, commit what is
// queued, close the dependencies.
func serve(ctx context.Context, cfg Config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	for _, w := range cfg.warnings() {
		log.Warn(w.setting+": "+w.why, "setting", w.setting)
	}
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	a.start()

	a.done = ctx.Done() // shutdown starts when ctx ends
	h, err := a.handler(cfg)
	if err != nil {
		return err
	}
	srv := newHTTPServer(h, log)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("KOROBKA_ADDR: %w", err)
	}
	log.Info("korobka listening", "addr", ln.Addr().String(), "storage", a.storage, "bus", a.bus,
		"sms", cfg.SMSProvider, "test_phones", cfg.TestPhones.Len(), "push", a.push)

	if cfg.DebugAddr != "" {
		dbg, err := serveDebug(cfg.DebugAddr, log)
		if err != nil {
			return err
		}
		defer dbg.Close()
	}
	if cfg.MetricsAddr != "" {
		m, err := serveMetrics(cfg.MetricsAddr, a.metrics, log)
		if err != nil {
			return err
		}
		defer m.Close()
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	// http.Server.Shutdown does not track hijacked connections: close the
	// WebSockets alongside it.
	var wg sync.WaitGroup
	wg.Go(func() { a.gateway.Shutdown(sctx) })
	err = srv.Shutdown(sctx)
	wg.Wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Limits of the public listener (docs/operations.md, "Security"): headers
// must arrive within ReadHeaderTimeout and fit in maxHeaderBytes (larger:
// 431); bodies have their own deadlines (httpapi.DefaultBodyTimeout and the
// upload rate); an idle keep-alive connection is closed after IdleTimeout.
const (
	headerTimeout  = 10 * time.Second
	maxHeaderBytes = 32 << 10
	idleTimeout    = 2 * time.Minute
)

// newHTTPServer is the public listener's server with those limits.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: headerTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// serveDebug serves the profiler on its own listener, away from the public
// surface, for operators chasing CPU or memory.
func serveDebug(addr string, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("KOROBKA_DEBUG_ADDR: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("profiler listening", "addr", ln.Addr().String())
	return srv, nil
}

// serveMetrics serves GET /metrics on its own listener, so that the public
// address need not expose it (KOROBKA_METRICS_ADDR).
func serveMetrics(addr string, reg *prometheus.Registry, log *slog.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", httpapi.MetricsHandler(reg))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("KOROBKA_METRICS_ADDR: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Info("metrics listening", "addr", ln.Addr().String())
	return srv, nil
}

// app is the set of dependencies the server runs on, built from Config.
type app struct {
	log      *slog.Logger
	svc      *chat.Service
	store    *sqlstore.Store
	media    *media.Store
	signer   *chat.MediaSigner
	redis    goredis.UniversalClient // nil in the embedded mode
	broker   chat.Broker
	gateway  *ws.Gateway
	patcher  *live.Patcher // live patches for the gateway
	sources  *live.Sources // the screens' data sources (fetches and topic patches)
	screens  live.Screens
	uploaded *live.Uploaded // screens with admin uploads (nil with KOROBKA_SCREENS)
	builtin  fs.FS          // the embedded screens of the brand (nil with KOROBKA_SCREENS)
	ready    map[string]func(context.Context) error
	metrics  *prometheus.Registry // every series, for /metrics
	queue    chat.Queue           // push jobs
	bcast    chat.Queue           // broadcast batches
	hooks    chat.Queue           // webhook deliveries
	storage  string
	bus      string
	push     string                        // which push senders are on
	loops    []func(context.Context) error // run by start until close
	stop     context.CancelFunc
	running  sync.WaitGroup
	closers  []func() error
	closeMu  sync.Mutex
	isClosed bool
	done     <-chan struct{} // closes when shutdown starts; ends event streams
}

// openApp builds the dependencies: SQLite or MySQL, memory or Redis, log or
// SMS provider. Each piece switches to production independently.
func openApp(ctx context.Context, cfg Config, log *slog.Logger) (*app, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &app{log: log, ready: map[string]func(context.Context) error{}, metrics: prometheus.NewRegistry()}
	ok := false
	defer func() {
		if !ok {
			a.close()
		}
	}()

	dialect, dsn := sqlstore.SQLite, filepath.Join(cfg.Data, "korobka.db")
	a.storage = "sqlite " + dsn
	if cfg.MySQLDSN != "" {
		dialect, dsn = sqlstore.MySQL, cfg.MySQLDSN
		a.storage = "mysql"
	}
	if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return nil, fmt.Errorf("KOROBKA_DATA: %w", err)
	}
	store, err := sqlstore.Open(ctx, dialect, dsn, log)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if cfg.CommitLanes > 0 {
		store.SetCommitParallelism(cfg.CommitLanes)
	}
	a.store = store
	a.closers = append(a.closers, store.Close)
	a.ready["database"] = store.Ping

	a.metrics = prometheus.NewRegistry()
	qt := pushQueueTimes{}
	if cfg.pushQueue != nil {
		cfg.pushQueue(&qt)
	}
	nodeID := nodeName()
	var (
		limiter    chat.Limiter
		presence   chat.Presence
		sockets    chat.SocketCounter
		foreground chat.Foreground
	)
	if cfg.RedisURL != "" {
		client, err := redis.Open(ctx, cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("KOROBKA_REDIS_URL: %w", err)
		}
		a.redis = client
		a.closers = append(a.closers, client.Close)
		a.ready["redis"] = func(ctx context.Context) error { return client.Ping(ctx).Err() }
		limiter = redis.NewLimiter(client, cfg.RedisPrefix)
		rb := redis.NewBroker(client, redis.BrokerConfig{
			Prefix: cfg.RedisPrefix + "bus:",
			Logger: log,
			// Publications were lost while Redis was away: make every
			// client reconnect and sync.
			OnReset: func() {
				if a.gateway != nil {
					a.gateway.Reset()
				}
			},
		})
		a.broker = rb
		rp := redis.NewPresence(client, cfg.RedisPrefix, nodeID, presenceTTL)
		a.loops = append(a.loops, rp.Run)
		presence = rp
		rs := redis.NewSocketCounter(client, cfg.RedisPrefix, presenceTTL)
		a.loops = append(a.loops, rs.Run)
		sockets = rs
		rf := redis.NewForeground(client, cfg.RedisPrefix, presenceTTL)
		a.loops = append(a.loops, rf.Run)
		foreground = rf
		a.queue = redis.NewQueue(client, redis.QueueConfig{Prefix: cfg.RedisPrefix + "push:",
			ClaimTimeout: qt.ClaimTimeout, Block: qt.Block, Policy: qt.Policy})
		a.bcast = redis.NewQueue(client, redis.QueueConfig{Prefix: cfg.RedisPrefix + "broadcast:", Block: qt.Block})
		a.hooks = redis.NewQueue(client, redis.QueueConfig{Prefix: cfg.RedisPrefix + "webhook:",
			ClaimTimeout: qt.ClaimTimeout, Block: qt.Block, Policy: qt.Policy})
		a.bus = "redis"
	} else {
		limiter = memory.NewLimiter(cfg.now)
		a.broker = memory.NewBroker()
		presence = memory.NewPresence()
		sockets = memory.NewSocketCounter()
		foreground = memory.NewForeground()
		a.queue = memory.NewQueue(memory.QueueConfig{ClaimTimeout: qt.ClaimTimeout, Block: qt.Block, Policy: qt.Policy})
		a.bcast = memory.NewQueue(memory.QueueConfig{Block: qt.Block})
		a.hooks = memory.NewQueue(memory.QueueConfig{ClaimTimeout: qt.ClaimTimeout, Block: qt.Block, Policy: qt.Policy})
		a.bus = "memory"
	}
	a.closers = append(a.closers, a.broker.Close)

	if err := a.openScreens(ctx, cfg); err != nil {
		return nil, err
	}

	ms, err := media.NewStore(filepath.Join(cfg.Data, "media"),
		media.Limits{MaxVideoBytes: cfg.MaxVideoBytes, FFmpeg: findFFmpeg(cfg.FFmpeg, log)})
	if err != nil {
		return nil, fmt.Errorf("KOROBKA_DATA: media: %w", err)
	}
	a.media = ms
	if a.signer, err = openMediaSigner(cfg, log, a.redis != nil || cfg.MySQLDSN != ""); err != nil {
		return nil, err
	}

	var sender chat.SMSSender = sms.NewLogSender(log)
	if cfg.SMSProvider == "smsru" {
		sender = sms.NewSMSRu(cfg.SMSRuAPIID, sms.WithBaseURL(cfg.SMSRuURL))
	}

	push, err := a.pushConfig(ctx, cfg, nodeID, qt)
	if err != nil {
		return nil, err
	}
	push.Queue, push.Foreground = a.queue, foreground

	syncCache := cfg.SyncCacheBytes
	if syncCache == 0 {
		syncCache = -1 // off
	}
	a.svc = chat.NewService(chat.Config{
		SyncCacheBytes: syncCache,
		Store:          store,
		Broker:         a.broker,
		Presence:       presence,
		Limiter:        limiter,
		SMS:            sender,
		Images:         ms,
		Files:          ms,
		MediaSigner:    a.signer,
		Now:            cfg.now,
		Logger:         log,
		Region:         cfg.Region,
		TestPhones:     cfg.TestPhones,
		AccessTTL:      cfg.AccessTTL,
		RefreshTTL:     cfg.RefreshTTL,
		SMSRegions:     cfg.SMSCountries,
		PresenceGrace:  cfg.PresenceGrace,

		LoopbackUnlimited: cfg.LoopbackUnlimited,
		Push:              push,
		Groups:            cfg.Groups,
		Previews:          previewConfig(cfg),
		Broadcasts:        a.bcast,
		Webhooks:          webhookConfig(cfg, a.hooks),
	})
	a.loops = append(a.loops, a.svc.Run)
	if a.builtin != nil {
		// The embedded screens, overlaid with what admins uploaded.
		up, err := live.NewUploaded(ctx, a.builtin, a.screens.Current(), store, a.broker, a.svc, log)
		if err != nil {
			return nil, fmt.Errorf("embedded screens: %w", err)
		}
		a.screens, a.uploaded = up, up
		a.loops = append(a.loops, up.Run)
	}
	if err := registerPreviewMetrics(a.metrics, a.svc); err != nil {
		return nil, err
	}
	if _, err := a.svc.SetupBusiness(ctx, cfg.BusinessName); err != nil {
		return nil, fmt.Errorf("business account: %w", err)
	}
	a.sources = live.NewSources(a.svc, a.store)
	a.patcher = live.NewPatcher(a.svc, a.screens, log).WithLocale(locale(cfg)).WithSources(a.sources)
	a.gateway = ws.New(a.svc, a.broker, ws.Config{
		Logger:            log,
		AllowedOrigins:    cfg.AllowedOrigins,
		TrustedProxies:    cfg.TrustedProxies,
		Limiter:           limiter,
		Sockets:           sockets,
		MaxSocketsPerUser: cfg.MaxSocketsPerUser,
		Rate:              cfg.WSRate,
		Burst:             cfg.WSBurst,
		HandshakesPerAddr: chat.Limit{Rate: cfg.HandshakesPerAddr, Period: time.Minute, Burst: cfg.HandshakesPerAddr / 3},
		LoopbackUnlimited: cfg.LoopbackUnlimited,
		ExpiryCheck:       cfg.expiryCheck,
		Now:               cfg.now,
		Patcher:           a.patcher,
	})
	// Content edits patch the screens open on this node's sockets.
	a.loops = append(a.loops, func(ctx context.Context) error {
		if err := a.gateway.WatchContent(ctx); err != nil {
			return fmt.Errorf("content changes: %w", err)
		}
		<-ctx.Done()
		return ctx.Err()
	})
	ok = true
	return a, nil
}

// locale is how screens render what a request does not say: the zone and
// the phone region of the configuration.
func locale(cfg Config) live.Locale {
	return live.Locale{TimeZone: cfg.TimeZone, Region: cfg.Region}
}

// mediaSecretFile is where a generated media secret is kept, in
// KOROBKA_DATA.
const mediaSecretFile = "media.secret"

// openMediaSigner signs attachment URLs with KOROBKA_MEDIA_SECRET or, when
// it is unset, with a secret generated on first start and kept in
// KOROBKA_DATA, so the embedded default needs no configuration and URLs
// survive restarts. Several nodes must share the secret: clustered says
// the configuration looks like several nodes, which a generated secret
// only serves when they share KOROBKA_DATA.
func openMediaSigner(cfg Config, log *slog.Logger, clustered bool) (*chat.MediaSigner, error) {
	if cfg.MediaSecret != "" {
		return chat.NewMediaSigner([]byte(cfg.MediaSecret))
	}
	name := filepath.Join(cfg.Data, mediaSecretFile)
	secret, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		secret = chat.NewMediaSecret()
		// O_EXCL: of two processes starting at once, one writes and the
		// other reads what it wrote.
		f, cerr := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case errors.Is(cerr, fs.ErrExist):
			secret, err = os.ReadFile(name)
		case cerr != nil:
			err = cerr
		default:
			_, err = f.Write(append(secret, '\n'))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("KOROBKA_DATA: media secret: %w", err)
	}
	if clustered {
		log.Warn("KOROBKA_MEDIA_SECRET is not set: attachment URLs are signed with the secret in KOROBKA_DATA/" + mediaSecretFile +
			"; nodes that do not share it reject each other's URLs")
	}
	signer, err := chat.NewMediaSigner(bytes.TrimSpace(secret))
	if err != nil {
		return nil, fmt.Errorf("KOROBKA_DATA/%s: %w", mediaSecretFile, err)
	}
	return signer, nil
}

// pushConfig builds the push senders (a platform without credentials logs
// instead) and the push metrics.
func (a *app) pushConfig(ctx context.Context, cfg Config, nodeID string, qt pushQueueTimes) (chat.PushConfig, error) {
	metrics, err := newPushMetrics(a.metrics)
	if err != nil {
		return chat.PushConfig{}, err
	}
	pc := chat.PushConfig{
		Pushers:      map[chat.Platform]chat.Pusher{},
		Metrics:      metrics,
		Consumer:     nodeID,
		Delay:        cfg.PushDelay,
		HidePreviews: !cfg.PushPreviews,
		MaxDevices:   cfg.PushMaxDevices,
		Workers:      cfg.PushWorkers,
		SendTimeout:  qt.SendTimeout,
	}
	a.push = "log"
	if cfg.APNSKeyFile != "" {
		s, err := apns.New(apns.Config{KeyFile: cfg.APNSKeyFile, KeyID: cfg.APNSKeyID, TeamID: cfg.APNSTeamID,
			Topic: cfg.APNSTopic, Production: cfg.APNSProduction, Host: cfg.APNSURL, TLS: cfg.apnsTLS})
		if err != nil {
			return chat.PushConfig{}, fmt.Errorf("KOROBKA_APNS_KEY_FILE: %w", err)
		}
		pc.Pushers[chat.PlatformAPNs] = s
		a.closers = append(a.closers, func() error { s.Close(); return nil })
		a.push = "apns"
	}
	if cfg.FCMCredentials != "" {
		endpoint := cfg.FCMURL
		if endpoint != "" {
			endpoint = strings.TrimSuffix(endpoint, "/") + "/v1"
		}
		s, err := fcm.New(ctx, fcm.Config{CredentialsFile: cfg.FCMCredentials, ProjectID: cfg.FCMProjectID, Endpoint: endpoint})
		if err != nil {
			return chat.PushConfig{}, fmt.Errorf("KOROBKA_FCM_CREDENTIALS: %w", err)
		}
		pc.Pushers[chat.PlatformFCM] = s
		if a.push == "log" {
			a.push = "fcm"
		} else {
			a.push += "+fcm"
		}
	}
	return pc, nil
}

// nodeName names this process among the nodes sharing Redis: the host
// name, for people reading the queue's consumers, and a random suffix, as
// a restarted node must not inherit a dead one's claims by name.
func nodeName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return host + "-" + chat.FormatID(chat.NewID())
}

// openScreens loads the screens (embedded, or a watched folder) and seeds
// the content collections they read from on first start.
func (a *app) openScreens(ctx context.Context, cfg Config) error {
	if cfg.Screens != "" {
		w, diags, err := renderer.NewBrandWatcher(cfg.Screens, cfg.Brand, a.log)
		if err != nil {
			for _, d := range diags {
				a.log.Error("screen lint", "at", d.String())
			}
			return fmt.Errorf("KOROBKA_SCREENS: %w", err)
		}
		a.screens = w
		a.loops = append(a.loops, w.Run)
	} else {
		fsys, err := renderer.BrandFS(screens.FS, cfg.Brand)
		if err != nil {
			return fmt.Errorf("KOROBKA_BRAND: %w", err)
		}
		e, _, err := renderer.Load(fsys)
		if err != nil {
			return fmt.Errorf("embedded screens: %w", err)
		}
		a.screens = live.Fixed{Engine: e}
		a.builtin = fsys
	}
	if err := a.seedCollections(ctx, screenFiles(cfg)); err != nil {
		return err
	}
	// The seeds of the folder served (a folder without content/ has none).
	seeds, err := renderer.LoadContentSeeds(screenFiles(cfg))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("content seeds: %w", err)
	}
	for name, docs := range seeds {
		rows := make([]chat.ContentDoc, len(docs))
		for i, d := range docs {
			// Content is text people see: the one text policy applies (lint
			// reports the same, so a seed that breaks it never ships).
			clean, err := chat.CleanContent(d.Data)
			if err != nil {
				return fmt.Errorf("content seed %s, item %q: %w", name, d.ID, err)
			}
			data, err := json.Marshal(clean)
			if err != nil {
				return err
			}
			rows[i] = chat.ContentDoc{Collection: name, ID: d.ID, Position: d.Position, Published: d.Published, Data: data}
		}
		if _, err := a.store.SeedContent(ctx, name, rows); err != nil {
			return fmt.Errorf("seed content %s: %w", name, err)
		}
	}
	return nil
}

// seedCollections defines the collections of the screens' content/ folder
// on first start (each <name>.schema.json is collection <name>, titled by
// the schema's title, a form when it says "x-korobka-form": true, with the
// content tags of "x-korobka-tags"). A definition an admin changed is
// kept.
func (a *app) seedCollections(ctx context.Context, fsys fs.FS) error {
	names, err := fs.Glob(fsys, "content/*.schema.json")
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, file := range names {
		raw, err := fs.ReadFile(fsys, file)
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(path.Base(file), ".schema.json")
		if _, err := chat.CompileCollectionSchema(raw); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		var head struct {
			Title string   `json:"title"`
			Form  bool     `json:"x-korobka-form"`
			Tags  []string `json:"x-korobka-tags"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, tag := range head.Tags {
			if !chat.ValidTag(tag) {
				return fmt.Errorf("%s: x-korobka-tags: %q is not a tag (1 to 32 of a-z, 0-9, _ and -)", file, tag)
			}
		}
		c := chat.Collection{Name: name, Title: head.Title, Schema: compact.Bytes(), Form: head.Form, Tags: head.Tags, CreatedAt: now, UpdatedAt: now}
		if _, err := a.store.SeedCollection(ctx, c); err != nil {
			return fmt.Errorf("seed collection %s: %w", name, err)
		}
	}
	return nil
}

// start runs the background loops (the message writer, the Redis
// subscriber and presence refresher) until close.
func (a *app) start() {
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	for _, loop := range a.loops {
		a.running.Go(func() {
			if err := loop(ctx); err != nil && !errors.Is(err, context.Canceled) {
				a.log.Error("background loop failed", "err", err)
			}
		})
	}
}

// handler is the HTTP surface over the app.
func (a *app) handler(cfg Config) (http.Handler, error) {
	return httpapi.NewServer(httpapi.Deps{
		Service:          a.svc,
		Logger:           a.log,
		Media:            a.media.GatedHandler(a.signer, cfg.now, a.svc),
		WebSocket:        a.gateway,
		Screens:          live.NewRenderer(a.screens, a.sources).WithLocale(locale(cfg)),
		Preview:          live.NewPreview(a.screens, screenFiles(cfg)),
		Images:           screenImages(cfg),
		Ready:            a.ready,
		Registry:         a.metrics,
		MetricsElsewhere: cfg.MetricsAddr != "",
		TrustedProxies:   cfg.TrustedProxies,
		Dev:              cfg.Dev,
		BodyTimeout:      cfg.bodyTimeout,
		UploadMinRate:    cfg.uploadMinRate,
		UploadGrace:      cfg.uploadGrace,
		MaxUploadBytes:   max(cfg.MaxVideoBytes, chat.MaxUploadFileSize),
		Done:             a.done,
		ScreenAdmin:      a.screenAdmin(),
	})
}

// screenAdmin is the screen uploads, or nil when screens come from a
// KOROBKA_SCREENS folder.
func (a *app) screenAdmin() httpapi.ScreenAdmin {
	if a.uploaded == nil {
		return nil
	}
	return a.uploaded
}

// screenFiles is the folder the screens load from, for the preview's
// sources and fixtures.
func screenFiles(cfg Config) fs.FS {
	if cfg.Screens != "" {
		return os.DirFS(cfg.Screens)
	}
	return screens.FS
}

// screenImages is the images/ folder of the screens served, at /assets/.
func screenImages(cfg Config) fs.FS {
	sub, err := fs.Sub(screenFiles(cfg), "images")
	if err != nil {
		return nil
	}
	return sub
}

// close stops the loops (the writer commits what is queued first), then
// releases the dependencies in reverse order of opening. It is safe to call
// more than once.
func (a *app) close() {
	a.closeMu.Lock()
	defer a.closeMu.Unlock()
	if a.isClosed {
		return
	}
	a.isClosed = true
	if a.gateway != nil {
		a.gateway.Close()
	}
	if a.stop != nil {
		a.stop()
		a.running.Wait()
	}
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](); err != nil {
			a.log.Warn("close failed", "err", err)
		}
	}
}

// migrate applies the migrations of the configured database and exits.
func migrate(ctx context.Context, cfg Config, stdout io.Writer) error {
	dialect, dsn := sqlstore.SQLite, filepath.Join(cfg.Data, "korobka.db")
	if cfg.MySQLDSN != "" {
		dialect, dsn = sqlstore.MySQL, cfg.MySQLDSN
	} else if err := os.MkdirAll(cfg.Data, 0o755); err != nil {
		return fmt.Errorf("KOROBKA_DATA: %w", err)
	}
	applied, err := sqlstore.Migrate(ctx, dialect, dsn)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database is up to date")
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	return nil
}

// newLogger builds the process's logger: text on a terminal, JSON
// elsewhere, unless the configuration says.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	format := cfg.LogFormat
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				format = "text"
			}
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// previewConfig turns link previews on with KOROBKA_LINK_PREVIEWS: pages
// are fetched through the guarded outbound client (KOROBKA_OUTBOUND_ALLOW
// opens addresses for tests), the link is the one bubbles make tappable.
func previewConfig(cfg Config) chat.PreviewConfig {
	if !cfg.LinkPreviews {
		return chat.PreviewConfig{}
	}
	c := outbound.New(outbound.Config{Allow: cfg.OutboundAllow, Resolver: cfg.outboundResolver, UserAgent: "korobka (link preview)"})
	return chat.PreviewConfig{Unfurler: outbound.NewUnfurler(c), FindURL: renderer.FirstURL}
}

// findFFmpeg resolves the configured ffmpeg (a name on PATH or a path)
// and checks that ffprobe is beside it. "" turns video probing off: "off",
// or either tool missing, which is logged, since videos then get generic
// posters and no duration or dimensions.
func findFFmpeg(name string, log *slog.Logger) string {
	if name == "" || name == "off" {
		log.Info("video probing off: videos get generic posters", "KOROBKA_FFMPEG", name)
		return ""
	}
	path, err := exec.LookPath(name)
	if err == nil {
		_, err = exec.LookPath(filepath.Join(filepath.Dir(path), "ffprobe"))
	}
	if err != nil {
		log.Warn("ffmpeg or ffprobe not found: videos get generic posters and no duration or dimensions (apt-get install ffmpeg)",
			"KOROBKA_FFMPEG", name, "err", err)
		return ""
	}
	return path
}

// registerPreviewMetrics exports the link preview workers' counters and
// the sync cache's.
func registerPreviewMetrics(reg prometheus.Registerer, svc *chat.Service) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "korobka_link_previews_handled_total",
			Help: "Link preview jobs handled by this node's workers, with a card or without.",
		}, func() float64 { return float64(svc.PreviewStats().Handled) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "korobka_link_previews_dropped_total",
			Help: "Link preview jobs dropped: the queue was full, or the node stopped.",
		}, func() float64 { return float64(svc.PreviewStats().Dropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "korobka_sync_windows_cached_total",
			Help: "Sync windows (one dialog of one sync page) this node served from its recent-changes cache, without reading the database.",
		}, func() float64 { h, _ := svc.SyncCacheStats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "korobka_sync_windows_read_total",
			Help: "Sync windows this node read from the database (the cache is off, did not stand at the dialog's counters or did not reach back far enough).",
		}, func() float64 { _, m := svc.SyncCacheStats(); return float64(m) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "korobka_presence_watcher_queries_total",
			Help: "Queries this node made to read the watchers of presence changes (one per batch of up to 256 users).",
		}, func() float64 { q, _, _ := svc.PresenceAnnouncements(); return float64(q) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "korobka_presence_announced_total",
			Help: "Presence changes (a user came online or went offline) this node announced.",
		}, func() float64 { _, u, _ := svc.PresenceAnnouncements(); return float64(u) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "korobka_presence_inline_total",
			Help: "Presence changes announced outside a batch because the announcer's queue was full.",
		}, func() float64 { _, _, i := svc.PresenceAnnouncements(); return float64(i) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// webhookConfig sends webhooks through the SSRF-guarded client: targets on
// loopback or private addresses are refused, at registration when the URL
// names one and at every dial, unless KOROBKA_OUTBOUND_ALLOW allows them.
// Webhooks follow no redirects.
func webhookConfig(cfg Config, q chat.Queue) chat.WebhookConfig {
	c := outbound.New(outbound.Config{Allow: cfg.OutboundAllow, Resolver: cfg.outboundResolver, MaxRedirects: -1, UserAgent: "korobka (webhook)"})
	return chat.WebhookConfig{Queue: q, Poster: c, CheckURL: func(raw string) error {
		u, err := url.Parse(raw)
		if err != nil {
			return err
		}
		host := u.Hostname()
		if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
			host = "127.0.0.1"
		}
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return nil // a name: checked at every dial
		}
		port := u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
		}
		p, _ := strconv.Atoi(port)
		if !cfg.OutboundAllow.Permits(netip.AddrPortFrom(ip, uint16(p))) {
			return outbound.ErrRefused
		}
		return nil
	}}
}
