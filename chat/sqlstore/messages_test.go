package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
)

// BenchmarkCommit is group commit on the hot path: batches of new
// messages spread over 1,000 direct dialogs, each from one of the
// dialog's two members, one transaction per batch.
func BenchmarkCommit(b *testing.B) {
	for _, d := range dialects() {
		b.Run(string(d.name), func(b *testing.B) {
			s := openStore(b, d.name, d.freshDB(b))
			ctx := b.Context()
			now := time.Now()
			const nUsers, nDialogs = 100, 1000
			users := make([]int64, nUsers)
			for i := range users {
				u, _, err := s.UpsertUser(ctx, fmt.Sprintf("+7999400%04d", i), now)
				if err != nil {
					b.Fatal(err)
				}
				users[i] = u.ID
			}
			type pair struct{ dialog, a, b int64 }
			dialogs := make([]pair, nDialogs)
			for i := range dialogs {
				x, y := users[i%nUsers], users[(i/nUsers+i+1)%nUsers]
				dl, _, err := s.DirectDialog(ctx, x, y, strconv.Itoa(i), now)
				if err != nil {
					b.Fatal(err)
				}
				dialogs[i] = pair{dl.ID, x, y}
			}
			text := "Привет! A message of about a hundred bytes, as chats have: short, with some Cyrillic."
			seq := 0
			for _, n := range []int{1, 10, 100, 500} {
				b.Run(strconv.Itoa(n), func(b *testing.B) {
					b.ReportAllocs()
					rng := rand.New(rand.NewPCG(1, uint64(n)))
					batch := &chat.Batch{Appends: make([]chat.Append, n)}
					for b.Loop() {
						for i := range batch.Appends {
							p := dialogs[rng.IntN(nDialogs)]
							sender := p.a
							if rng.IntN(2) == 1 {
								sender = p.b
							}
							seq++
							batch.Appends[i] = chat.Append{Msg: chat.Message{DialogID: p.dialog, SenderID: sender,
								ClientID: "bench-" + strconv.Itoa(seq), Text: text, CreatedAt: now}}
						}
						if err := s.Commit(ctx, batch); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "msgs/s")
				})
			}
		})
	}
}
