package sqlstore

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
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
					cpu0 := cpuTime()
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
					// The process's CPU per message moves far less than
					// wall time on a shared machine.
					b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*n), "cpu-µs/msg")
				})
			}
		})
	}
}

// cpuTime is the CPU (user and system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSecureDelete measures what zeroing freed bytes costs SQLite
// (PRAGMA secure_delete, docs/operations.md): 100-message commits and
// deletes of 500-character messages, under each setting. The writer is one
// connection, so the pragmas set on it hold for the run; synchronous=OFF
// takes the fsync, whose latency on a shared disk dwarfs and blurs the
// rest, out of the measure.
func BenchmarkSecureDelete(b *testing.B) {
	for _, mode := range []string{"OFF", "FAST", "ON"} {
		b.Run(mode, func(b *testing.B) {
			s := openStore(b, SQLite, b.TempDir()+"/k.db")
			ctx := b.Context()
			for _, p := range []string{"secure_delete = " + mode, "synchronous = OFF"} {
				if _, err := s.w.ExecContext(ctx, "PRAGMA "+p); err != nil {
					b.Fatal(err)
				}
			}
			now := time.Now()
			x, _, _ := s.UpsertUser(ctx, "+79994000001", now)
			y, _, _ := s.UpsertUser(ctx, "+79994000002", now)
			d, _, err := s.DirectDialog(ctx, x.ID, y.ID, "", now)
			if err != nil {
				b.Fatal(err)
			}
			text := strings.Repeat("Привет, мир! ", 40) // 520 characters, 960 bytes
			n := 0
			commit := func() {
				batch := &chat.Batch{Appends: make([]chat.Append, 100)}
				for i := range batch.Appends {
					n++
					batch.Appends[i] = chat.Append{Msg: chat.Message{DialogID: d.ID, SenderID: x.ID,
						ClientID: "c" + strconv.Itoa(n), Text: text, CreatedAt: now}}
				}
				if err := s.Commit(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("commit100", func(b *testing.B) {
				for b.Loop() {
					commit()
				}
				b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "msgs/s")
			})
			b.Run("delete", func(b *testing.B) {
				for n < b.N+1 {
					commit()
				}
				seq := int64(0)
				for b.Loop() {
					seq++
					if _, err := s.DeleteMessage(ctx, d.ID, seq, x.ID, now); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
