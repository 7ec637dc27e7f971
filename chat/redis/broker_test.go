package redis_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/korobka/korobka/chat"
	"github.com/korobka/korobka/chat/chattest"
	"github.com/korobka/korobka/chat/redis"
)

// sharedClient connects to the shared test server, skipping without one.
func sharedClient(t testing.TB) goredis.UniversalClient {
	t.Helper()
	client, err := redis.Open(t.Context(), chattest.RedisURL(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// prefixes gives every subtest one prefix, shared by its broker and its
// peer so that they hear each other and no other subtest.
type prefixes struct {
	mu sync.Mutex
	m  map[*testing.T]string
}

func (p *prefixes) of(t *testing.T) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[*testing.T]string)
	}
	if _, ok := p.m[t]; !ok {
		p.m[t] = chattest.RedisPrefix(t)
	}
	return p.m[t]
}

func TestBroker(t *testing.T) {
	client := sharedClient(t)
	var ps prefixes
	newBroker := func(t *testing.T) chat.Broker {
		b := redis.NewBroker(client, redis.BrokerConfig{Prefix: ps.of(t)})
		t.Cleanup(func() { b.Close() })
		return b
	}
	chattest.TestBroker(t, newBroker, newBroker)
}

// TestBrokerManyTopics checks that one node's connection carries many
// thousands of subscriptions made at once, as a node after a restart does
// when its clients reconnect.
func TestBrokerManyTopics(t *testing.T) {
	client := sharedClient(t)
	b := redis.NewBroker(client, redis.BrokerConfig{Prefix: chattest.RedisPrefix(t)})
	t.Cleanup(func() { b.Close() })
	const n = 10_000
	var mu sync.Mutex
	got := make(map[string]int)
	all := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := time.Now()
	for i := range n {
		topic := chat.UserTopic(int64(i))
		wg.Go(func() {
			err := b.Subscribe(t.Context(), topic, func(p []byte) {
				mu.Lock()
				defer mu.Unlock()
				got[topic]++
				if len(got) == n {
					close(all)
				}
			})
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Subscribe: %v", err)
	}
	t.Logf("%d concurrent subscriptions in %v", n, time.Since(start))
	pubs := make([]chat.Publication, 0, 1000)
	for i := range n {
		pubs = append(pubs, chat.Publication{Topic: chat.UserTopic(int64(i)), Payload: []byte("x")})
		if len(pubs) == cap(pubs) {
			if err := b.Publish(t.Context(), pubs...); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			pubs = pubs[:0]
		}
	}
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("topics that received a publication: got %d, want %d", len(got), n)
	}
}

// TestBrokerRestart kills and restarts a private Redis server under a
// subscribed broker: calls while it is down fail instead of hanging,
// OnReset is called once, and delivery resumes on its own.
func TestBrokerRestart(t *testing.T) {
	srv := startPrivateRedis(t)
	client := goredis.NewClient(&goredis.Options{Addr: srv.addr})
	t.Cleanup(func() { client.Close() })
	resets := make(chan struct{}, 10)
	b := redis.NewBroker(client, redis.BrokerConfig{
		Prefix:  "restart:",
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
		OnReset: func() { resets <- struct{}{} },
	})
	t.Cleanup(func() { b.Close() })

	got := make(chan string, 1000)
	handler := func(p []byte) {
		select {
		case got <- string(p):
		default:
		}
	}
	if err := b.Subscribe(t.Context(), "a", handler); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	if err := b.Publish(t.Context(), chat.Publication{Topic: "a", Payload: []byte("before")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if p := receive(t, got); p != "before" {
		t.Fatalf("received %q, want \"before\"", p)
	}

	srv.kill(t)
	// Each call gets ample time; the point is that they return an error
	// rather than run into the deadline.
	for name, call := range map[string]func(context.Context) error{
		"Subscribe": func(ctx context.Context) error { return b.Subscribe(ctx, "b", func([]byte) {}) },
		"Publish": func(ctx context.Context) error {
			return b.Publish(ctx, chat.Publication{Topic: "a", Payload: []byte("lost")})
		},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		start := time.Now()
		err := call(ctx)
		cancel()
		if err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s while Redis is down: got %v after %v, want a prompt error", name, err, time.Since(start))
		}
		t.Logf("%s while Redis is down: %v after %v", name, err, time.Since(start).Round(time.Millisecond))
	}
	// A cancelled context is honoured too.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	err := b.Subscribe(ctx, "c", func([]byte) {})
	cancel()
	if err == nil {
		t.Fatal("Subscribe with a short deadline while Redis is down: got nil, want an error")
	}

	srv.start(t)
	select {
	case <-resets:
	case <-time.After(30 * time.Second):
		t.Fatal("OnReset not called within 30s of the restart")
	}
	// Delivery resumes: publish until one arrives.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatal("no publication delivered within 30s of the restart")
		}
		pctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		b.Publish(pctx, chat.Publication{Topic: "a", Payload: []byte("after")})
		cancel()
		select {
		case p := <-got:
			if p != "after" {
				t.Fatalf("received %q after the restart, want \"after\"", p)
			}
		case <-time.After(100 * time.Millisecond):
			continue
		}
		break
	}
	// New subscriptions work again, and the reset was reported once.
	got2 := make(chan string, 10)
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := b.Subscribe(ctx, "b", func(p []byte) { got2 <- string(p) }); err != nil {
		t.Fatalf("Subscribe after the restart: %v", err)
	}
	if err := b.Publish(ctx, chat.Publication{Topic: "b", Payload: []byte("b")}); err != nil {
		t.Fatalf("Publish after the restart: %v", err)
	}
	if p := receive(t, got2); p != "b" {
		t.Fatalf("received %q, want \"b\"", p)
	}
	if n := len(resets); n != 0 {
		t.Fatalf("OnReset calls for one restart: got %d, want 1", n+1)
	}
}

func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received within 10s")
		return ""
	}
}

// privateRedis is a redis-server process of the test's own, so that
// killing it disturbs no other test.
type privateRedis struct {
	addr string
	port string
	dir  string
	cmd  *exec.Cmd
}

const redisServerBin = "/usr/bin/redis-server"

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := os.Stat(redisServerBin); err != nil {
		if os.Getenv("KOROBKA_TEST_REQUIRE_SERVICES") != "" {
			t.Fatalf("KOROBKA_TEST_REQUIRE_SERVICES is set but %s is missing: %v", redisServerBin, err)
		}
		t.Skipf("%s not installed: skipping the Redis restart test", redisServerBin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	s := &privateRedis{addr: "127.0.0.1:" + port, port: port, dir: t.TempDir()}
	s.start(t)
	t.Cleanup(func() { s.kill(t) })
	return s
}

func (s *privateRedis) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(redisServerBin, "--port", s.port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: s.addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(t.Context()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s not answering within 10s", s.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *privateRedis) kill(t *testing.T) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

func BenchmarkRedisPublish(b *testing.B) {
	client := sharedClient(b)
	br := redis.NewBroker(client, redis.BrokerConfig{Prefix: chattest.RedisPrefix(b)})
	b.Cleanup(func() { br.Close() })
	payload := []byte(`{"type":"message","message":{"id":"m1","dialog_id":"17","seq":42,"text":"hello"}}`)
	for _, size := range []int{1, 100} {
		b.Run("batch="+strconv.Itoa(size), func(b *testing.B) {
			pubs := make([]chat.Publication, size)
			for i := range pubs {
				pubs[i] = chat.Publication{Topic: chat.UserTopic(int64(i)), Payload: payload}
			}
			b.ReportAllocs()
			start := time.Now()
			for b.Loop() {
				if err := br.Publish(b.Context(), pubs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "publications/s")
		})
	}
}
