package chat_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/apns"
	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/chat/memory"
	"github.com/korobka/korobka/chat/redis"
)

// Push benchmarks: the whole pipeline of one node (queue, the workers'
// batched decisions over SQLite, the real APNs client over HTTP/2 and TLS)
// against the local fake APNs, on the Redis queue and on the memory one.
//
// Throughput drains a backlog of b.N jobs: pushes/s is the rate the fake
// received them. Latency paces jobs in at a fixed rate below saturation
// and reports the time from Enqueue to the fake's receipt, p50 and p99.

// pushBench is a running node with recipients that each have a device.
type pushBench struct {
	f      *fixture
	apns   *chattest.FakeAPNs
	queue  chat.Queue
	jobs   []chat.Job // templates, one per recipient
	tokens []string
}

func newPushBench(b *testing.B, queue string) *pushBench {
	b.Helper()
	pb := &pushBench{apns: chattest.NewFakeAPNs(b)}
	sender, err := apns.New(apns.Config{Key: pb.apns.KeyPEM, KeyID: pb.apns.KeyID, TeamID: pb.apns.TeamID,
		Topic: "com.example.korobka", Host: pb.apns.URL, TLS: pb.apns.TLS})
	if err != nil {
		b.Fatal(err)
	}
	pb.f = newTestService(b, func(f *fixture, cfg *chat.Config) {
		switch queue {
		case "redis":
			client, err := redis.Open(context.Background(), chattest.RedisURL(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { client.Close() })
			pb.queue = redis.NewQueue(client, redis.QueueConfig{Prefix: chattest.RedisPrefix(b) + "push:", Block: 50 * time.Millisecond})
		default:
			pb.queue = memory.NewQueue(memory.QueueConfig{Block: 50 * time.Millisecond})
		}
		cfg.Push = chat.PushConfig{
			Queue:   pb.queue,
			Pushers: map[chat.Platform]chat.Pusher{chat.PlatformAPNs: sender},
			Delay:   -1,
		}
	})
	// 50 recipients, each with a phone and a message from the sender.
	sender0 := pb.f.newUser(b, "Anna")
	ctx := context.Background()
	for i := range 50 {
		u := pb.f.newUser(b, "R")
		tok := fmt.Sprintf("%064x", i+1)
		if _, err := pb.f.svc.RegisterDevice(ctx, u.p, chat.DeviceRequest{Platform: chat.PlatformAPNs, Token: tok, Locale: "ru"}); err != nil {
			b.Fatal(err)
		}
		d := pb.f.direct(b, u, sender0) // the recipient opens it: the sender's dialog limit stays untouched
		m := pb.f.send(b, sender0, d, "bench-"+strconv.Itoa(i), "Привет! Это сообщение для замера пушей.")
		pb.jobs = append(pb.jobs, chat.Job{Kind: chat.JobMessage, UserID: u.id, DialogID: d, Seq: m.Seq})
		pb.tokens = append(pb.tokens, tok)
	}
	// The sends above queued their own jobs: wait them out.
	waitFor(b, "the setup's pushes", func() bool { return len(pb.apns.Pushes()) == len(pb.jobs) })
	return pb
}

// job returns the i-th job of a run: unique key, a recipient in turn.
func (pb *pushBench) job(run string, i int) chat.Job {
	j := pb.jobs[i%len(pb.jobs)]
	j.Key = "bench:" + run + ":" + strconv.Itoa(i)
	j.EnqueuedAt = time.Now()
	return j
}

func BenchmarkPushThroughput(b *testing.B) {
	for _, q := range []string{"redis", "memory"} {
		b.Run(q, func(b *testing.B) {
			pb := newPushBench(b, q)
			before := len(pb.apns.Pushes())
			run := strconv.FormatInt(time.Now().UnixNano(), 36)
			ctx := context.Background()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			for i := 0; i < b.N; {
				n := min(b.N-i, 500)
				batch := make([]chat.Job, n)
				for k := range batch {
					batch[k] = pb.job(run, i+k)
				}
				if _, err := pb.queue.Enqueue(ctx, batch...); err != nil {
					b.Fatal(err)
				}
				i += n
			}
			waitDrained(b, pb.apns, before+b.N)
			elapsed := time.Since(start)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "pushes/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/push")
		})
	}
}

func BenchmarkPushLatency(b *testing.B) {
	for _, q := range []string{"redis", "memory"} {
		for _, rate := range []int{500, 2000} { // pushes/s, below saturation
			b.Run(fmt.Sprintf("%s/%d", q, rate), func(b *testing.B) { benchLatency(b, q, rate) })
		}
	}
}

func benchLatency(b *testing.B, q string, rate int) {
	{
		{
			pb := newPushBench(b, q)
			before := len(pb.apns.Pushes())
			run := strconv.FormatInt(time.Now().UnixNano(), 36)
			ctx := context.Background()
			var mu sync.Mutex
			enqueued := make(map[string]time.Time, b.N)
			b.ResetTimer()
			// 10 jobs at a time, rate/10 times a second.
			tick := time.NewTicker(time.Second / time.Duration(rate/10))
			for i := 0; i < b.N; i += 10 {
				<-tick.C
				n := min(b.N-i, 10)
				batch := make([]chat.Job, n)
				mu.Lock()
				for k := range batch {
					batch[k] = pb.job(run, i+k)
					enqueued[batch[k].Key] = batch[k].EnqueuedAt
				}
				mu.Unlock()
				if _, err := pb.queue.Enqueue(ctx, batch...); err != nil {
					b.Fatal(err)
				}
			}
			tick.Stop()
			waitDrained(b, pb.apns, before+b.N)
			b.StopTimer()
			var lat []time.Duration
			for _, p := range pb.apns.Pushes()[before:] {
				if at, ok := enqueued[p.CollapseID]; ok {
					lat = append(lat, p.At.Sub(at))
				}
			}
			slices.Sort(lat)
			if len(lat) != b.N {
				b.Fatalf("matched %d pushes to their jobs, want %d", len(lat), b.N)
			}
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		}
	}
}

// waitDrained waits until the fake has n pushes, for as long as they keep
// coming (a slow machine is not a failure; a stall is).
func waitDrained(b *testing.B, f *chattest.FakeAPNs, n int) {
	b.Helper()
	last, lastAt := 0, time.Now()
	for {
		got := f.Count()
		if got >= n {
			return
		}
		if got != last {
			last, lastAt = got, time.Now()
		} else if time.Since(lastAt) > 10*time.Second {
			b.Fatalf("pushes stalled at %d of %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// cpuTime is the process's user and system CPU time so far: the fake, the
// client and the pipeline all run in it, so CPU per push does not depend
// on what else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
