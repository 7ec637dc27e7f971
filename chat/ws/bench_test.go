package ws

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/memory"
)

// benchFrame is a typical message event.
func benchFrame(b *testing.B) []byte {
	m := chat.MessageView{
		ID: "7000000000000000001", DialogID: "42", Seq: 12345, SenderID: "2", ClientID: "c-5f1d",
		Text: "Hello, how are you doing today? See you at 7.", Attachments: json.RawMessage(`[]`),
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Status: chat.StatusSent,
	}
	frame, err := json.Marshal(messageFrame{Type: "message", Message: &m})
	if err != nil {
		b.Fatal(err)
	}
	return frame
}

// BenchmarkFanout publishes one message event to a user with four
// connections on this node. "hub" measures the broker handler alone (open
// the envelope, snapshot, queue on four outboxes); "sockets" measures the
// whole path to four real WebSocket clients, in windows smaller than the
// outbox so the clients keep up.
func BenchmarkFanout(b *testing.B) {
	const conns = 4
	payload := chat.Envelope(chat.EnvFrame, 0, benchFrame(b))
	pub := chat.Publication{Topic: chat.UserTopic(1), Payload: payload}

	b.Run("hub", func(b *testing.B) {
		br := memory.NewBroker()
		defer br.Close()
		g := New(newFakeService(br), br, Config{})
		defer g.Close()
		var cs []*conn
		for i := range conns {
			c := g.newConn(chat.Principal{UserID: 1, Family: int64(i)})
			u, err := g.register(context.Background(), c)
			if err != nil {
				b.Fatal(err)
			}
			g.wg.Done() // no handshake follows
			defer g.unregister(c, u)
			cs = append(cs, c)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if err := br.Publish(ctx, pub); err != nil {
				b.Fatal(err)
			}
			if i%64 == 63 {
				for _, c := range cs {
					c.mu.Lock()
					clear(c.queue)
					c.queue = c.queue[:0]
					c.mu.Unlock()
				}
			}
		}
	})

	b.Run("sockets", func(b *testing.B) {
		const window = 64
		e := newEnv(b, Config{})
		e.svc.tokens["tok-a4"] = chat.Principal{UserID: 1, SessionID: 14, Family: 104}
		got := make(chan struct{}, conns)
		for _, tok := range []string{"tok-a1", "tok-a2", "tok-a3", "tok-a4"} {
			ws, _, err := websocket.DefaultDialer.Dial(e.url, http.Header{"Authorization": {"Bearer " + tok}})
			if err != nil {
				b.Fatal(err)
			}
			defer ws.Close()
			go func() {
				for n := 1; ; n++ {
					if _, _, err := ws.NextReader(); err != nil {
						return
					}
					if n%window == 0 {
						got <- struct{}{}
					}
				}
			}()
		}
		ctx := context.Background()
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			if err := e.broker.Publish(ctx, pub); err != nil {
				b.Fatal(err)
			}
			if n++; n%window == 0 {
				for range conns {
					<-got
				}
			}
		}
		b.StopTimer()
		// Finish the last window so no reader is mid-frame at cleanup.
		if n%window != 0 {
			for ; n%window != 0; n++ {
				e.broker.Publish(ctx, pub)
			}
			for range conns {
				<-got
			}
		}
	})
}
