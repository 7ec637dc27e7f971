package live

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/renderer"
)

// Uploaded serves the screens the server started with, overlaid with the
// versions admins uploaded (chat.ScreenStore), and carries out the admin's
// screen use cases. An upload is linted and rendered against every fixture
// together with all other screens (renderer.Load) before it is stored; a
// failure stores nothing and changes nothing live. Once stored, the node
// that took it tells every node through the broker (chat.ScreensTopic) and
// each rebuilds its engine from the store, so every node serves the new
// version. A rollback retires the live version, so the one before serves
// again.
type Uploaded struct {
	base   fs.FS
	baseE  *renderer.Engine // base alone
	store  chat.ScreenStore
	broker chat.Broker
	audit  Auditor
	log    *slog.Logger
	now    func() time.Time

	cur atomic.Pointer[renderer.Engine]
	// changing serialises uploads and rollbacks on this node, so each is
	// checked against the set the one before it left.
	changing sync.Mutex
	mu       sync.Mutex // serialises rebuilds
	live     map[string]chat.ScreenVersion
}

// Auditor writes audit entries; *chat.Service implements it.
type Auditor interface {
	RecordAudit(ctx context.Context, p chat.Principal, action, targetType, targetID string, details any) error
}

// MaxScreenSource bounds an uploaded screen's YAML, in bytes.
const MaxScreenSource = 256 << 10

// ScreenInfo is a screen as the admin API lists it: Version is the live
// uploaded version's id (0: the server's own).
type ScreenInfo struct {
	Name       string     `json:"name"`
	Version    int64      `json:"version"`
	UploadedAt *time.Time `json:"uploaded_at,omitempty"`
	UploadedBy string     `json:"uploaded_by,omitempty"`
}

// ScreenSource is a screen's live YAML.
type ScreenSource struct {
	ScreenInfo
	Source string `json:"source"`
}

// ErrScreenInvalid answers an upload that fails lint or its fixtures; the
// diagnostics say where.
type ErrScreenInvalid struct{ Diagnostics []Diagnostic }

func (e *ErrScreenInvalid) Error() string {
	return fmt.Sprintf("the screen fails lint or its fixtures: %d problems", len(e.Diagnostics))
}

// NewUploaded serves base (whose engine, renderer.Load(base), the caller
// has built) with the live uploaded versions. When that set fails (a
// deploy changed a fragment an uploaded screen uses) it serves base alone
// and logs why, so a server always starts.
func NewUploaded(ctx context.Context, base fs.FS, baseEngine *renderer.Engine, store chat.ScreenStore, broker chat.Broker, audit Auditor, log *slog.Logger) (*Uploaded, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	u := &Uploaded{base: base, baseE: baseEngine, store: store, broker: broker, audit: audit, log: log, now: time.Now, live: map[string]chat.ScreenVersion{}}
	u.cur.Store(baseEngine)
	if err := u.reload(ctx); err != nil {
		log.Error("uploaded screens not applied; serving the built-in ones", "err", err)
	}
	return u, nil
}

// Current returns the engine to render with.
func (u *Uploaded) Current() *renderer.Engine { return u.cur.Load() }

// Run reloads the live versions whenever a node says they changed, until
// ctx ends.
func (u *Uploaded) Run(ctx context.Context) error {
	kick := make(chan struct{}, 1)
	if err := u.broker.Subscribe(ctx, chat.ScreensTopic, func([]byte) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}); err != nil {
		return err
	}
	defer u.broker.Unsubscribe(context.WithoutCancel(ctx), chat.ScreensTopic)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-kick:
			if err := u.reload(ctx); err != nil && ctx.Err() == nil {
				u.log.ErrorContext(ctx, "uploaded screens not reloaded; the previous ones keep serving", "err", err)
			}
		}
	}
}

// reload rebuilds the engine from base and the store's live versions.
func (u *Uploaded) reload(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	vs, err := u.store.LiveScreenVersions(ctx)
	if err != nil {
		return err
	}
	live := map[string]chat.ScreenVersion{}
	for _, v := range vs {
		live[v.Name] = v
	}
	if len(live) == 0 {
		u.cur.Store(u.baseE)
		u.live = live
		return nil
	}
	e, diags, err := renderer.Load(u.overlay(live))
	if err != nil {
		if len(diags) > 0 {
			return fmt.Errorf("%w (%s)", err, diags[0])
		}
		return err
	}
	u.cur.Store(e)
	u.live = live
	return nil
}

// overlay is base with the versions' sources in place of their screens.
func (u *Uploaded) overlay(live map[string]chat.ScreenVersion) fs.FS {
	files := map[string][]byte{}
	for name, v := range live {
		files[name+".yaml"] = v.Source
	}
	return overlayFS{base: u.base, files: files}
}

// List answers every screen being served (admins).
func (u *Uploaded) List(ctx context.Context, p chat.Principal) ([]ScreenInfo, error) {
	if err := chat.RequireRole(p, chat.RoleAdmin); err != nil {
		return nil, err
	}
	u.mu.Lock()
	live := u.live
	u.mu.Unlock()
	names := u.Current().Screens()
	sort.Strings(names)
	out := make([]ScreenInfo, 0, len(names))
	for _, n := range names {
		out = append(out, infoOf(n, live[n]))
	}
	return out, nil
}

func infoOf(name string, v chat.ScreenVersion) ScreenInfo {
	in := ScreenInfo{Name: name, Version: v.ID}
	if v.ID != 0 {
		t := v.CreatedAt
		in.UploadedAt = &t
		in.UploadedBy = chat.FormatID(v.CreatedBy)
	}
	return in
}

// Source answers a screen's live YAML (admins).
func (u *Uploaded) Source(ctx context.Context, p chat.Principal, name string) (ScreenSource, error) {
	if err := chat.RequireRole(p, chat.RoleAdmin); err != nil {
		return ScreenSource{}, err
	}
	if _, ok := u.Current().Screen(name); !ok || !screenName.MatchString(name) {
		return ScreenSource{}, ErrUnknownScreen
	}
	u.mu.Lock()
	v, ok := u.live[name]
	u.mu.Unlock()
	if ok {
		return ScreenSource{ScreenInfo: infoOf(name, v), Source: string(v.Source)}, nil
	}
	data, err := fs.ReadFile(u.base, name+".yaml")
	if err != nil {
		return ScreenSource{}, err
	}
	return ScreenSource{ScreenInfo: infoOf(name, v), Source: string(data)}, nil
}

// Upload checks source as the new version of a served screen together
// with everything else, and only then stores it and makes it live on every
// node (admins). A screen that fails lint or its fixtures answers
// *ErrScreenInvalid and changes nothing.
func (u *Uploaded) Upload(ctx context.Context, p chat.Principal, name string, source []byte) (ScreenInfo, error) {
	if err := chat.RequireRole(p, chat.RoleAdmin); err != nil {
		return ScreenInfo{}, err
	}
	if _, ok := u.Current().Screen(name); !ok || !screenName.MatchString(name) {
		return ScreenInfo{}, ErrUnknownScreen
	}
	if len(source) > MaxScreenSource {
		return ScreenInfo{}, chat.Errorf(chat.KindTooLarge, "body_too_large", "A screen is at most %d KiB of YAML.", MaxScreenSource>>10)
	}
	u.changing.Lock()
	defer u.changing.Unlock()
	u.mu.Lock()
	live := map[string]chat.ScreenVersion{}
	for k, v := range u.live {
		live[k] = v
	}
	u.mu.Unlock()
	live[name] = chat.ScreenVersion{Name: name, Source: source}
	if _, diags, err := renderer.Load(u.overlay(live)); err != nil {
		inv := &ErrScreenInvalid{}
		for _, d := range diags {
			inv.Diagnostics = append(inv.Diagnostics, Diagnostic{File: d.File, Line: d.Line, Col: d.Col, Message: d.Message})
		}
		if len(inv.Diagnostics) == 0 {
			inv.Diagnostics = []Diagnostic{{File: name + ".yaml", Line: 1, Col: 1, Message: err.Error()}}
		}
		return ScreenInfo{}, inv
	}
	v, err := u.store.AddScreenVersion(ctx, chat.ScreenVersion{Name: name, Source: source, CreatedBy: p.UserID,
		CreatedAt: u.now().UTC().Truncate(time.Microsecond)})
	if err != nil {
		return ScreenInfo{}, err
	}
	if err := u.audit.RecordAudit(ctx, p, "screen.upload", "screen", name, map[string]any{"version": v.ID, "bytes": len(source)}); err != nil {
		return ScreenInfo{}, err
	}
	if err := u.changed(ctx); err != nil {
		return ScreenInfo{}, err
	}
	return infoOf(name, v), nil
}

// Rollback retires a screen's live uploaded version, so the version before
// it (or the server's own) serves again on every node (admins). A screen
// with no uploaded version answers 404 no_version.
func (u *Uploaded) Rollback(ctx context.Context, p chat.Principal, name string) (ScreenInfo, error) {
	if err := chat.RequireRole(p, chat.RoleAdmin); err != nil {
		return ScreenInfo{}, err
	}
	if _, ok := u.Current().Screen(name); !ok || !screenName.MatchString(name) {
		return ScreenInfo{}, ErrUnknownScreen
	}
	u.changing.Lock()
	defer u.changing.Unlock()
	old, err := u.store.RetireScreenVersion(ctx, name, u.now())
	if errors.Is(err, chat.ErrNotFound) {
		return ScreenInfo{}, chat.Errorf(chat.KindNotFound, "no_version", "The screen has no uploaded version to roll back.")
	}
	if err != nil {
		return ScreenInfo{}, err
	}
	if err := u.audit.RecordAudit(ctx, p, "screen.rollback", "screen", name, map[string]any{"retired": old.ID}); err != nil {
		return ScreenInfo{}, err
	}
	if err := u.changed(ctx); err != nil {
		return ScreenInfo{}, err
	}
	u.mu.Lock()
	v := u.live[name]
	u.mu.Unlock()
	return infoOf(name, v), nil
}

// changed rebuilds this node's engine at once and tells the others.
func (u *Uploaded) changed(ctx context.Context) error {
	if err := u.reload(ctx); err != nil {
		return err
	}
	if err := u.broker.Publish(context.WithoutCancel(ctx), chat.Publication{Topic: chat.ScreensTopic, Payload: []byte("reload")}); err != nil {
		u.log.WarnContext(ctx, "screen change not published; other nodes reload at their restart", "err", err)
	}
	return nil
}

// overlayFS is base with some files' contents replaced.
type overlayFS struct {
	base  fs.FS
	files map[string][]byte
}

func (o overlayFS) Open(name string) (fs.File, error) {
	if data, ok := o.files[name]; ok {
		f, err := o.base.Open(name)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		f.Close()
		if err != nil {
			return nil, err
		}
		return &memFile{Reader: bytes.NewReader(data), info: memInfo{FileInfo: st, size: int64(len(data))}}, nil
	}
	return o.base.Open(name)
}

func (o overlayFS) ReadDir(name string) ([]fs.DirEntry, error) { return fs.ReadDir(o.base, name) }

type memFile struct {
	*bytes.Reader
	info memInfo
}

func (f *memFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *memFile) Close() error               { return nil }

var _ io.Reader = (*memFile)(nil)

type memInfo struct {
	fs.FileInfo
	size int64
}

func (i memInfo) Size() int64 { return i.size }
