package memory

import (
	"testing"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
)

func TestBroker(t *testing.T) {
	chattest.TestBroker(t, func(t *testing.T) chat.Broker {
		b := NewBroker()
		t.Cleanup(func() { b.Close() })
		return b
	}, nil)
}

// TestBrokerReentrant checks that a handler may use the broker: handlers
// are called outside the lock.
func TestBrokerReentrant(t *testing.T) {
	b := NewBroker()
	defer b.Close()
	var got []string
	err := b.Subscribe(t.Context(), "a", func(p []byte) {
		got = append(got, string(p))
		if err := b.Unsubscribe(t.Context(), "a"); err != nil {
			t.Errorf("Unsubscribe inside a handler: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := b.Publish(t.Context(), chat.Publication{Topic: "a", Payload: []byte("1")}, chat.Publication{Topic: "a", Payload: []byte("2")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if len(got) != 1 || got[0] != "1" {
		t.Fatalf("received %q, want [\"1\"] (the handler unsubscribed itself)", got)
	}
}

func BenchmarkMemoryPublish(b *testing.B) {
	br := NewBroker()
	defer br.Close()
	n := 0
	if err := br.Subscribe(b.Context(), "u:1", func([]byte) { n++ }); err != nil {
		b.Fatal(err)
	}
	pub := chat.Publication{Topic: "u:1", Payload: []byte(`{"type":"typing","dialog_id":"17","user_id":"1"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if err := br.Publish(b.Context(), pub); err != nil {
			b.Fatal(err)
		}
	}
	if n != b.N {
		b.Fatalf("delivered %d, want %d", n, b.N)
	}
}
