package httpapi

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/korobka/korobka/chat/live"
	"github.com/korobka/korobka/renderer"
	"github.com/korobka/korobka/screens"
)

// TestEventsEndAtShutdown: an open event stream must not hold
// http.Server.Shutdown until its deadline.
func TestEventsEndAtShutdown(t *testing.T) {
	eng, _, err := renderer.Load(screens.FS)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	h, err := NewServer(Deps{Preview: live.NewPreview(live.Fixed{Engine: eng}, screens.FS), Dev: true, Done: done})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/preview/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("events: got %d, want 200", res.StatusCode)
	}
	lines := make(chan string)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	select {
	case <-lines: // subscribed: the first line arrived
	case <-time.After(10 * time.Second):
		t.Fatal("events: no first line within 10s")
	}
	close(done)
	for {
		select {
		case <-lines:
		case <-ended:
			return
		case <-time.After(10 * time.Second):
			t.Fatal("the event stream outlived the shutdown signal")
		}
	}
}
