package chat_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/renderer"
)

// gateUnfurler answers a page once the test lets it, or gives up with its
// context.
type gateUnfurler struct {
	entered chan string
	release chan struct{}
}

func newGate() *gateUnfurler {
	return &gateUnfurler{entered: make(chan string, 16), release: make(chan struct{})}
}

func (g *gateUnfurler) Unfurl(ctx context.Context, url string) (chat.Unfurled, error) {
	g.entered <- url
	select {
	case <-g.release:
		return chat.Unfurled{SiteName: "example.com", Title: "Title of " + url}, nil
	case <-ctx.Done():
		return chat.Unfurled{}, ctx.Err()
	}
}

func withPreviews(u chat.Unfurler, workers, queue int) func(*chat.Config) {
	return func(c *chat.Config) {
		c.Previews = chat.PreviewConfig{Unfurler: u, FindURL: renderer.FirstURL, Workers: workers, Queue: queue}
	}
}

// TestPreviewAfterSend: the send is answered while the page is still
// being fetched; the card then arrives as a change of the message.
func TestPreviewAfterSend(t *testing.T) {
	g := newGate()
	f, _ := newTestServiceWith(t, withPreviews(g, 1, 4))
	a, b := f.newUser(t, "Anna"), f.newUser(t, "Boris")
	d := f.direct(t, a, b)
	sent := f.send(t, a, d, "c1", "see https://example.com/x")
	if sent.Preview != nil {
		t.Fatal("the send answered with a preview")
	}
	if got := <-g.entered; got != "https://example.com/x" {
		t.Fatalf("fetched %q", got)
	}
	// The fetch is under way and the send has been answered.
	close(g.release)
	var m chat.MessageView
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms, err := f.svc.History(context.Background(), b.p, d, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if m = ms[0]; m.Preview != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if m.Preview == nil || m.Preview.Title != "Title of https://example.com/x" || m.Change <= sent.Change {
		t.Fatalf("got %+v, want the card as a later change than %d", m, sent.Change)
	}
}

// TestPreviewShutdownDropsCleanly: stopping the service abandons the fetch
// under way and drops what is queued, storing nothing of either, and a
// full queue drops new jobs without blocking the send.
func TestPreviewShutdownDropsCleanly(t *testing.T) {
	g := newGate()
	f, stop := newTestServiceWith(t, withPreviews(g, 1, 2))
	a, b := f.newUser(t, "Anna"), f.newUser(t, "Boris")
	d := f.direct(t, a, b)
	f.send(t, a, d, "c1", "https://example.com/1")
	<-g.entered // the one worker is busy with it
	for i, u := range []string{"https://example.com/2", "https://example.com/3", "https://example.com/4"} {
		f.send(t, a, d, "c"+string(rune('2'+i)), u) // two queued, the last one dropped
	}
	f.send(t, a, d, "c5", "no link here")
	if st := f.svc.PreviewStats(); st.Dropped != 1 || st.Handled != 0 {
		t.Fatalf("before stop: %+v, want one dropped", st)
	}
	stop()
	if st := f.svc.PreviewStats(); st.Dropped != 3 || st.Handled != 1 {
		t.Fatalf("after stop: %+v, want 1 handled (abandoned) and 3 dropped", st)
	}
	ms, err := f.store.Messages(context.Background(), d, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if len(m.Preview) != 0 {
			t.Errorf("message %d has a preview: %s", m.Seq, m.Preview)
		}
	}
	if _, err := f.store.CachedPreview(context.Background(), "https://example.com/1", time.Now()); !errors.Is(err, chat.ErrNotFound) {
		t.Errorf("the abandoned fetch left a cache entry: %v", err)
	}
}
