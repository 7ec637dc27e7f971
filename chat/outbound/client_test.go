package outbound_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/korobka/korobka/chat/outbound"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// site is a local HTTP server with a hit counter.
type site struct {
	*httptest.Server
	hits atomic.Int64
}

func newSite(t *testing.T, h http.HandlerFunc) *site {
	t.Helper()
	s := &site{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *site) hostPort() string { return strings.TrimPrefix(s.URL, "http://") }

func (s *site) port() string { _, p, _ := net.SplitHostPort(s.hostPort()); return p }

func html(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, body)
	}
}

// resolver answers from a table; a name with several answers gives them
// in turn, one per lookup, so tests can change the answer between lookups.
type resolver struct {
	mu      sync.Mutex
	answers map[string][]string
	n       map[string]int
}

func (r *resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	if r.n == nil {
		r.n = map[string]int{}
	}
	i := r.n[host]
	r.n[host]++
	if i >= len(a) {
		i = len(a) - 1
	}
	return []netip.Addr{netip.MustParseAddr(a[i])}, nil
}

var acceptHTML = []string{"text/html"}

// TestRefusedAddresses: URLs that name or resolve to a refused address are
// refused before any connection, and the server there is never reached.
func TestRefusedAddresses(t *testing.T) {
	forbidden := newSite(t, html("<title>secret</title>"))
	fixture := newSite(t, html("<title>ok</title>"))
	port := forbidden.port()
	res := &resolver{answers: map[string][]string{
		"evil.test":   {"127.0.0.1"},
		"mapped.test": {"::ffff:127.0.0.1"},
	}}
	c := outbound.New(outbound.Config{Allow: outbound.MustAllow(fixture.hostPort()), Resolver: res})
	for _, u := range []string{
		"http://127.0.0.1:" + port + "/",
		"http://[::1]:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
		"http://[::ffff:7f00:1]:" + port + "/",
		"http://[::127.0.0.1]:" + port + "/",
		"http://[64:ff9b::7f00:1]:" + port + "/",
		"http://[2002:7f00:1::]:" + port + "/",
		"http://10.1.2.3/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[fd00::1]/",
		"http://[fe80::1]/",
		"http://0.0.0.0:" + port + "/",
		"http://[::]:" + port + "/",
		"http://224.0.0.1/",
		"http://100.64.0.1/",
		"http://evil.test:" + port + "/",
		"http://mapped.test:" + port + "/",
	} {
		_, err := c.Get(context.Background(), outbound.Request{URL: u, Accept: acceptHTML})
		if !errors.Is(err, outbound.ErrRefused) {
			t.Errorf("%s: got %v, want ErrRefused", u, err)
		}
	}
	if n := forbidden.hits.Load(); n != 0 {
		t.Errorf("the forbidden server was reached %d times", n)
	}
}

func TestFixtureAllowed(t *testing.T) {
	fixture := newSite(t, html("<title>ok</title>"))
	c := outbound.New(outbound.Config{Allow: outbound.MustAllow(fixture.hostPort())})
	r, err := c.Get(context.Background(), outbound.Request{URL: fixture.URL + "/page", Accept: acceptHTML})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != "<title>ok</title>" || r.MediaType != "text/html" || r.Charset != "utf-8" {
		t.Errorf("got %q %q %q", r.Body, r.MediaType, r.Charset)
	}
	// Only that endpoint: another port on the same address stays refused.
	other := newSite(t, html("x"))
	if _, err := c.Get(context.Background(), outbound.Request{URL: other.URL, Accept: acceptHTML}); !errors.Is(err, outbound.ErrRefused) {
		t.Errorf("another port: got %v, want ErrRefused", err)
	}
	if other.hits.Load() != 0 {
		t.Error("the other port was reached")
	}
}

// TestRedirectToRefused: an allowed site that redirects to a refused
// address does not lead the fetch there.
func TestRedirectToRefused(t *testing.T) {
	forbidden := newSite(t, html("<title>secret</title>"))
	for _, target := range []string{
		forbidden.URL + "/",
		"http://[::ffff:127.0.0.1]:" + forbidden.port() + "/",
		"http://evil.test:" + forbidden.port() + "/",
		"http://169.254.169.254/",
	} {
		fixture := newSite(t, func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target, http.StatusFound)
		})
		res := &resolver{answers: map[string][]string{"evil.test": {"127.0.0.1"}}}
		c := outbound.New(outbound.Config{Allow: outbound.MustAllow(fixture.hostPort()), Resolver: res})
		_, err := c.Get(context.Background(), outbound.Request{URL: fixture.URL, Accept: acceptHTML})
		if !errors.Is(err, outbound.ErrRefused) {
			t.Errorf("redirect to %s: got %v, want ErrRefused", target, err)
		}
		if fixture.hits.Load() != 1 {
			t.Errorf("fixture hits %d, want 1", fixture.hits.Load())
		}
	}
	if n := forbidden.hits.Load(); n != 0 {
		t.Errorf("the forbidden server was reached %d times", n)
	}
}

// TestDNSChangesAnswer: a name that first resolves to an allowed address
// and then to a refused one is refused on the second fetch, and on a
// redirect to itself: each connection checks the address it dials.
func TestDNSChangesAnswer(t *testing.T) {
	fixture := newSite(t, html("<title>ok</title>"))
	forbidden := newSite(t, html("<title>secret</title>"))
	// The forbidden server listens on 127.0.0.1 like the fixture; the
	// name's second answer is the same address in a refused form.
	res := &resolver{answers: map[string][]string{"rebind.test": {"127.0.0.1", "127.0.0.2"}}}
	c := outbound.New(outbound.Config{Allow: outbound.MustAllow(fixture.hostPort()), Resolver: res})
	u := "http://rebind.test:" + fixture.port() + "/"
	if _, err := c.Get(context.Background(), outbound.Request{URL: u, Accept: acceptHTML}); err != nil {
		t.Fatalf("first answer (allowed): %v", err)
	}
	if _, err := c.Get(context.Background(), outbound.Request{URL: u, Accept: acceptHTML}); !errors.Is(err, outbound.ErrRefused) {
		t.Errorf("second answer (refused): got %v, want ErrRefused", err)
	}

	// Within one fetch: the page redirects to itself by name, and the
	// name's answer changes in between.
	var self string
	hop := newSite(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, self+"/next", http.StatusFound)
			return
		}
		html("<title>next</title>")(w, r)
	})
	res2 := &resolver{answers: map[string][]string{"hop.test": {"127.0.0.1", "10.0.0.1"}}}
	self = "http://hop.test:" + hop.port()
	c2 := outbound.New(outbound.Config{Allow: outbound.MustAllow(hop.hostPort()), Resolver: res2})
	if _, err := c2.Get(context.Background(), outbound.Request{URL: self + "/", Accept: acceptHTML}); !errors.Is(err, outbound.ErrRefused) {
		t.Errorf("changed answer on redirect: got %v, want ErrRefused", err)
	}
	if hop.hits.Load() != 1 || forbidden.hits.Load() != 0 {
		t.Errorf("hits: hop %d (want 1), forbidden %d (want 0)", hop.hits.Load(), forbidden.hits.Load())
	}
}

func TestRedirectLimit(t *testing.T) {
	var s *site
	s = newSite(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscanf(r.URL.Path, "/%d", &n)
		if n < 10 {
			http.Redirect(w, r, fmt.Sprintf("/%d", n+1), http.StatusFound)
			return
		}
		html("end")(w, r)
	})
	c := outbound.New(outbound.Config{Allow: outbound.MustAllow(s.hostPort())})
	if _, err := c.Get(context.Background(), outbound.Request{URL: s.URL + "/7", Accept: acceptHTML}); err != nil {
		t.Errorf("3 redirects: %v", err)
	}
	if _, err := c.Get(context.Background(), outbound.Request{URL: s.URL + "/6", Accept: acceptHTML}); !errors.Is(err, outbound.ErrRedirects) {
		t.Errorf("4 redirects: got %v, want ErrRedirects", err)
	}
}

func TestBodyAndTypeLimits(t *testing.T) {
	big := strings.Repeat("a", 300)
	s := newSite(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			html(big)(w, r)
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, "{}")
		case "/none":
			w.Header()["Content-Type"] = nil
			fmt.Fprint(w, "\x00\x01")
		case "/missing":
			http.NotFound(w, r)
		}
	})
	c := outbound.New(outbound.Config{Allow: outbound.MustAllow(s.hostPort()), MaxBody: 100})
	ctx := context.Background()
	if _, err := c.Get(ctx, outbound.Request{URL: s.URL + "/big", Accept: acceptHTML}); !errors.Is(err, outbound.ErrTooLarge) {
		t.Errorf("big: got %v, want ErrTooLarge", err)
	}
	r, err := c.Get(ctx, outbound.Request{URL: s.URL + "/big", Accept: acceptHTML, Partial: true})
	if err != nil || len(r.Body) != 100 || !r.Truncated {
		t.Errorf("big, partial: got %v, %d bytes, truncated %v; want 100 bytes cut", err, len(r.Body), r != nil && r.Truncated)
	}
	for _, p := range []string{"/json", "/none"} {
		if _, err := c.Get(ctx, outbound.Request{URL: s.URL + p, Accept: acceptHTML}); !errors.Is(err, outbound.ErrContentType) {
			t.Errorf("%s: got %v, want ErrContentType", p, err)
		}
	}
	if _, err := c.Get(ctx, outbound.Request{URL: s.URL + "/missing", Accept: acceptHTML}); !errors.Is(err, outbound.ErrStatus) {
		t.Errorf("404: got %v, want ErrStatus", err)
	}
	for _, u := range []string{"ftp://example.com/", "file:///etc/passwd", "http://user:pw@" + s.hostPort() + "/", "/relative", "http:///x"} {
		if _, err := c.Get(ctx, outbound.Request{URL: u, Accept: acceptHTML}); !errors.Is(err, outbound.ErrURL) {
			t.Errorf("%s: got %v, want ErrURL", u, err)
		}
	}
}

// TestDeadline: a server that never answers is given up on at the
// client's deadline.
func TestDeadline(t *testing.T) {
	release := make(chan struct{})
	s := newSite(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c := outbound.New(outbound.Config{Allow: outbound.MustAllow(s.hostPort()), Timeout: 50_000_000})
	if _, err := c.Get(context.Background(), outbound.Request{URL: s.URL, Accept: acceptHTML}); err == nil {
		t.Fatal("a server that never answers: got no error")
	}
}

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"93.184.215.14", true},
		{"2606:2800:21f:cb07:6820:80da:af6b:8b2c", true},
		{"::ffff:93.184.215.14", true},
		{"64:ff9b::5db8:d70e", true}, // NAT64 of a public address
		{"127.0.0.1", false}, {"127.8.9.10", false}, {"::1", false}, {"::ffff:127.0.0.1", false},
		{"::ffff:0:7f00:1", false}, {"::127.0.0.1", false}, {"64:ff9b::a00:1", false}, {"64:ff9b:1::1", false},
		{"2002:a00:1::", false}, {"2001:0:4136:e378:8000:63bf:3fff:fdd2", false},
		{"10.0.0.1", false}, {"172.16.5.4", false}, {"192.168.1.1", false}, {"100.64.0.1", false},
		{"169.254.169.254", false}, {"fe80::1", false}, {"fe80::1%eth0", false}, {"fd00::1", false}, {"fc00::1", false},
		{"fec0::1", false}, {"ff02::1", false}, {"224.0.0.1", false}, {"239.255.255.250", false},
		{"0.0.0.0", false}, {"0.1.2.3", false}, {"::", false}, {"255.255.255.255", false}, {"240.0.0.1", false},
		{"192.0.2.1", false}, {"198.18.0.1", false}, {"2001:db8::1", false}, {"192.0.0.170", false},
	} {
		if got := outbound.Public(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Public(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestParseAllow(t *testing.T) {
	a, err := outbound.ParseAllow(" 127.0.0.1:8081, 10.1.0.0/16 ,[::1]:9000,fd00::5,::ffff:192.168.0.0/112")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ap   string
		want bool
	}{
		{"127.0.0.1:8081", true}, {"127.0.0.1:8082", false}, {"[::ffff:127.0.0.1]:8081", true},
		{"10.1.200.3:80", true}, {"10.2.0.1:80", false}, {"[::1]:9000", true}, {"[::1]:9001", false},
		{"[fd00::5]:1", true}, {"[fd00::6]:1", false}, {"192.168.7.7:80", true}, {"192.169.0.1:80", true}, // public
		{"192.167.255.255:80", true}, {"172.16.0.1:80", false},
	} {
		if got := a.Permits(netip.MustParseAddrPort(tc.ap)); got != tc.want {
			t.Errorf("Permits(%s) = %v, want %v", tc.ap, got, tc.want)
		}
	}
	for _, bad := range []string{"localhost:8080", "example.com", "10.0.0.0/33", "127.0.0.1:0", "fe80::1%eth0"} {
		if _, err := outbound.ParseAllow(bad); err == nil {
			t.Errorf("ParseAllow(%q): got no error", bad)
		}
	}
}
