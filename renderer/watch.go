package renderer

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Reload reports one reload attempt to subscribers (the designer preview).
type Reload struct {
	Engine      *Engine      // the engine now served: the new one, or the previous one when the new one failed
	Applied     bool         // false when the files failed lint and the previous engine stays
	Diagnostics []Diagnostic // why it failed
	Err         error
}

// Watcher serves screens from a folder and reloads them when a file
// changes, so a designer's saved file shows on the next request. A file
// that fails lint never replaces a working set: the previous Engine keeps
// serving and the failure goes to the log and to subscribers.
type Watcher struct {
	dir      string
	brand    string // themes/<brand>/theme.yaml instead of theme.yaml; "" for theme.yaml
	log      *slog.Logger
	debounce time.Duration
	cur      atomic.Pointer[Engine]

	mu   sync.Mutex
	subs map[chan Reload]struct{}
	last Reload
}

// NewWatcher loads dir once; it fails when that first load fails, because
// there is nothing to fall back to. log may be nil.
func NewWatcher(dir string, log *slog.Logger) (*Watcher, []Diagnostic, error) {
	return NewBrandWatcher(dir, "", log)
}

// NewBrandWatcher is NewWatcher with the folder's brand (BrandFS).
func NewBrandWatcher(dir, brand string, log *slog.Logger) (*Watcher, []Diagnostic, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{dir: dir, brand: brand, log: log, debounce: 50 * time.Millisecond, subs: map[chan Reload]struct{}{}}
	e, d, err := w.load()
	if err != nil {
		return nil, d, err
	}
	w.cur.Store(e)
	w.last = Reload{Engine: e, Applied: true}
	return w, nil, nil
}

func (w *Watcher) load() (*Engine, []Diagnostic, error) {
	fsys, err := BrandFS(os.DirFS(w.dir), w.brand)
	if err != nil {
		return nil, nil, err
	}
	return Load(fsys)
}

// Current returns the engine to render with; cheap, call it per request.
func (w *Watcher) Current() *Engine { return w.cur.Load() }

// Last returns the latest reload attempt, e.g. for a preview page that
// shows lint errors.
func (w *Watcher) Last() Reload {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Subscribe returns a channel that receives every reload attempt and a
// function to stop. A slow subscriber misses intermediate reloads rather
// than blocking the watcher (the channel holds the latest one).
func (w *Watcher) Subscribe() (<-chan Reload, func()) {
	ch := make(chan Reload, 1)
	w.mu.Lock()
	w.subs[ch] = struct{}{}
	w.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			w.mu.Lock()
			delete(w.subs, ch)
			w.mu.Unlock()
		})
	}
}

// Run watches until ctx ends. It returns nil on cancellation.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer fw.Close()
	if err := w.addDirs(fw); err != nil {
		return err
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return errors.New("renderer: watcher closed")
			}
			if ev.Has(fsnotify.Create) {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					_ = fw.Add(ev.Name)
				}
			}
			// Editors write files in several steps; reload once they settle.
			timer.Reset(w.debounce)
		case err, ok := <-fw.Errors:
			if !ok {
				return errors.New("renderer: watcher closed")
			}
			w.log.Warn("screens watcher", "err", err)
		case <-timer.C:
			w.reload()
		}
	}
}

func (w *Watcher) addDirs(fw *fsnotify.Watcher) error {
	return filepath.WalkDir(w.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return fw.Add(p)
		}
		return nil
	})
}

func (w *Watcher) reload() {
	e, d, err := w.load()
	r := Reload{Engine: e, Applied: err == nil, Diagnostics: d, Err: err}
	if err == nil {
		w.cur.Store(e)
		w.log.Info("screens reloaded", "rev", e.Rev())
	} else {
		r.Engine = w.cur.Load()
		w.log.Warn("screens failed lint; serving the previous version", "rev", r.Engine.Rev(), "problems", len(d), "err", err)
	}
	w.mu.Lock()
	w.last = r
	for ch := range w.subs {
		select {
		case <-ch: // drop the stale one
		default:
		}
		select {
		case ch <- r:
		default:
		}
	}
	w.mu.Unlock()
}
