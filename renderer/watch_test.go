package renderer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeTree(t *testing.T, dir string) {
	t.Helper()
	for name, f := range shippedFS(t) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func waitReload(t *testing.T, ch <-chan Reload) Reload {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no reload within 5s")
	}
	return Reload{}
}

func TestWatcherKeepsLastGoodVersion(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir)
	w, d, err := NewWatcher(dir, nil)
	if err != nil {
		t.Fatalf("NewWatcher: %v %v", err, d)
	}
	ch, stop := w.Subscribe()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	// Give fsnotify a moment to register; a write before that would be missed,
	// so retry the first write until a reload is seen.
	first := w.Current()
	login := filepath.Join(dir, "login.yaml")
	orig, _ := os.ReadFile(login)

	hostile := map[string][]byte{
		"alias bomb":  []byte("a: &a [x, x]\nb: [*a, *a]\n"),
		"deep":        []byte("screen: login\nroot: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n"),
		"looping":     []byte("screen: login\nroot: { type: text, text: \"{{ map(1..1000000000, #) }}\" }\n"),
		"broken yaml": []byte("screen: [login\n"),
	}
	for name, data := range hostile {
		t.Run(name, func(t *testing.T) {
			var r Reload
			deadline := time.Now().Add(5 * time.Second)
			for {
				if err := os.WriteFile(login, data, 0o644); err != nil {
					t.Fatal(err)
				}
				select {
				case r = <-ch:
				case <-time.After(300 * time.Millisecond):
					if time.Now().After(deadline) {
						t.Fatal("no reload")
					}
					continue
				}
				break
			}
			if r.Applied || len(r.Diagnostics) == 0 {
				t.Errorf("hostile %s applied: %+v", name, r)
			}
			if w.Current() != first {
				t.Errorf("current engine changed after a failed reload")
			}
		})
	}
	fixed := strings.Replace(string(orig), "gap: l", "gap: xl", 1)
	if err := os.WriteFile(login, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	r := waitReload(t, ch)
	if !r.Applied || w.Current() == first || w.Current().Rev() == first.Rev() {
		t.Errorf("good file not applied: %+v", r.Diagnostics)
	}
}
