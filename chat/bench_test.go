package chat_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/korobka/korobka/chat"
)

// BenchmarkSend measures Service.Send end to end over SQLite with the
// committer running: 16 senders per CPU into 8 dialogs, as many
// connections would send, so that concurrent sends share commits. Sends
// come from a WebSocket connection (origin 1), which the Service does not
// rate-limit.
func BenchmarkSend(b *testing.B) {
	f := newTestService(b)
	const dialogs = 8
	type pair struct {
		p chat.Principal
		d int64
	}
	var pairs []pair
	for range dialogs {
		a, o := f.newUser(b, "A"), f.newUser(b, "B")
		pairs = append(pairs, pair{a.p, f.direct(b, a, o)})
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		w := next.Add(1)
		pr := pairs[int(w)%dialogs]
		for i := 0; pb.Next(); i++ {
			req := chat.SendRequest{DialogID: pr.d, ClientID: "w" + strconv.FormatInt(w, 10) + "-" + strconv.Itoa(i), Text: "benchmark message"}
			if _, _, err := f.svc.Send(ctx, pr.p, 1, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
