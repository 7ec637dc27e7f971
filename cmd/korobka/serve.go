package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/media"
	"github.com/korobka/korobka/chat/memory"
	"github.com/korobka/korobka/chat/redis"
	"github.com/korobka/korobka/chat/sms"
	"github.com/korobka/korobka/chat/sqlstore"
)

// shutdownGrace bounds how long in-flight requests may finish after a
// signal.
const shutdownGrace = 15 * time.Second

// serve runs the server until ctx ends, then shuts down in order: stop
// accepting, let requests finish, close the dependencies.
func serve(ctx context.Context, cfg Config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	app, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.close()

	h, err := NewServer(Deps{
		Service:        app.svc,
		Logger:         log,
		Media:          app.media.Handler(),
		Ready:          app.ready,
		TrustedProxies: cfg.TrustedProxies,
	})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("KOROBKA_ADDR: %w", err)
	}
	log.Info("korobka listening", "addr", ln.Addr().String(), "storage", app.storage, "limits", app.limits,
		"sms", cfg.SMSProvider, "test_phones", cfg.TestPhones.Len())

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
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// app is the set of dependencies the server runs on, built from Config.
type app struct {
	svc     *chat.Service
	store   *sqlstore.Store
	media   *media.Store
	redis   goredis.UniversalClient // nil in the embedded mode
	ready   map[string]func(context.Context) error
	storage string
	limits  string
	closers []func() error
}

// openApp builds the dependencies: SQLite or MySQL, memory or Redis, log or
// SMS provider. Each piece switches to production independently.
func openApp(ctx context.Context, cfg Config, log *slog.Logger) (*app, error) {
	a := &app{ready: map[string]func(context.Context) error{}}
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
	a.store = store
	a.closers = append(a.closers, store.Close)
	a.ready["database"] = store.Ping

	var limiter chat.Limiter
	if cfg.RedisURL != "" {
		client, err := redis.Open(ctx, cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("KOROBKA_REDIS_URL: %w", err)
		}
		a.redis = client
		a.closers = append(a.closers, client.Close)
		a.ready["redis"] = func(ctx context.Context) error { return client.Ping(ctx).Err() }
		limiter = redis.NewLimiter(client, cfg.RedisPrefix+"rl:")
		a.limits = "redis"
	} else {
		limiter = memory.NewLimiter(nil)
		a.limits = "memory"
	}

	ms, err := media.NewStore(filepath.Join(cfg.Data, "media"), media.Limits{})
	if err != nil {
		return nil, fmt.Errorf("KOROBKA_DATA: media: %w", err)
	}
	a.media = ms

	var sender chat.SMSSender = sms.NewLogSender(log)
	if cfg.SMSProvider == "smsru" {
		sender = sms.NewSMSRu(cfg.SMSRuAPIID, sms.WithBaseURL(cfg.SMSRuURL))
	}

	a.svc = chat.NewService(chat.Config{
		Store:      store,
		Limiter:    limiter,
		SMS:        sender,
		Images:     ms,
		Logger:     log,
		Region:     cfg.Region,
		TestPhones: cfg.TestPhones,
		AccessTTL:  cfg.AccessTTL,
		RefreshTTL: cfg.RefreshTTL,
	})
	ok = true
	return a, nil
}

// close releases the dependencies in reverse order of opening. It is safe
// to call more than once.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
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
