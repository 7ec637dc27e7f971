// Package outbound fetches URLs that users supplied (link previews, later
// webhooks) without letting them reach into the server's own network: the
// address every connection is actually made to is checked when it is
// dialled, after name resolution, on every redirect and on every new
// connection, so a redirect or a DNS answer that changes between lookups
// cannot lead a fetch to loopback, private, link-local, multicast or other
// special-purpose addresses (Public). A fetch is bounded: a total deadline,
// at most MaxRedirects redirects, a capped body and an allow-list of
// content types per request.
package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Defaults of Config.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultMaxBody      = 1 << 20 // bytes (1 MiB)
	DefaultMaxRedirects = 3
	// MaxAddresses is how many of a name's addresses a dial tries.
	MaxAddresses = 4
)

// Errors a fetch returns, wrapped with the URL; test with errors.Is.
var (
	// ErrRefused: the URL names, resolves to or redirects to an address
	// that is not Public and not allowed.
	ErrRefused = errors.New("outbound: address refused")
	// ErrURL: not an absolute http or https URL, or one with credentials.
	ErrURL = errors.New("outbound: not an http(s) URL")
	// ErrRedirects: more than MaxRedirects redirects.
	ErrRedirects = errors.New("outbound: too many redirects")
	// ErrStatus: the final answer is not 200.
	ErrStatus = errors.New("outbound: unexpected status")
	// ErrContentType: the body's media type is not one the request accepts.
	ErrContentType = errors.New("outbound: content type not accepted")
	// ErrTooLarge: the body is longer than the cap (and the request does
	// not take a partial body).
	ErrTooLarge = errors.New("outbound: body too large")
)

// Resolver looks up the addresses of a host name; *net.Resolver is one.
// Tests give their own to make a name resolve to loopback or change its
// answer between lookups.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Client; the zero value is the production default.
type Config struct {
	// Allow lets connections reach addresses that are not Public
	// (KOROBKA_OUTBOUND_ALLOW): for tests and one internal host only.
	Allow Allow
	// Resolver resolves host names; nil is net.DefaultResolver.
	Resolver Resolver
	// Timeout bounds a whole fetch, redirects and body included
	// (default DefaultTimeout).
	Timeout time.Duration
	// MaxBody caps the bytes of a body read (default DefaultMaxBody).
	MaxBody int64
	// MaxRedirects caps redirects followed (default DefaultMaxRedirects;
	// negative: none).
	MaxRedirects int
	// UserAgent is sent with every request (default "korobka").
	UserAgent string
}

// Client fetches untrusted URLs. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	} else if cfg.MaxRedirects < 0 {
		cfg.MaxRedirects = 0
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "korobka"
	}
	c := &Client{cfg: cfg}
	tr := &http.Transport{
		// Never a proxy from the environment: it would dial for us,
		// past the address check.
		Proxy:                  nil,
		DialContext:            c.dial,
		DisableKeepAlives:      true,
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      true,
	}
	c.http = &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > cfg.MaxRedirects {
				return ErrRedirects
			}
			return checkURL(req.URL)
		},
	}
	return c
}

// Request is one fetch.
type Request struct {
	// URL is an absolute http or https URL.
	URL string
	// Accept lists the media types the body may have ("text/html",
	// "image/jpeg"); parameters such as charset are ignored. Required.
	Accept []string
	// Partial takes a body longer than the cap cut at the cap (an HTML
	// page whose head is what matters); otherwise such a body is
	// ErrTooLarge.
	Partial bool
}

// Response is a fetched body.
type Response struct {
	// URL is where the body came from, after redirects.
	URL *url.URL
	// MediaType is the body's media type, lower case, without parameters.
	MediaType string
	// Charset is the charset parameter of the Content-Type, if any.
	Charset string
	Body    []byte
	// Truncated: the body was longer than the cap and was cut (Partial).
	Truncated bool
}

// Get fetches r.URL within the Client's deadline. Errors wrap one of the
// Err values above, or a network error.
func (c *Client) Get(ctx context.Context, r Request) (*Response, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrURL, err)
	}
	if err := checkURL(u); err != nil {
		return nil, err
	}
	if len(r.Accept) == 0 {
		return nil, fmt.Errorf("%w: the request accepts nothing", ErrContentType)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrURL, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", strings.Join(r.Accept, ", "))
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error keeps the wrapped cause for errors.Is.
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %d from %s", ErrStatus, resp.StatusCode, resp.Request.URL.Redacted())
	}
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(r.Accept, strings.ToLower(mt)) {
		return nil, fmt.Errorf("%w: %q from %s", ErrContentType, resp.Header.Get("Content-Type"), resp.Request.URL.Redacted())
	}
	if resp.ContentLength > c.cfg.MaxBody && !r.Partial {
		return nil, fmt.Errorf("%w: %d bytes from %s", ErrTooLarge, resp.ContentLength, resp.Request.URL.Redacted())
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBody+1))
	if err != nil {
		return nil, err
	}
	out := &Response{URL: resp.Request.URL, MediaType: strings.ToLower(mt), Charset: params["charset"], Body: body}
	if int64(len(body)) > c.cfg.MaxBody {
		if !r.Partial {
			return nil, fmt.Errorf("%w: over %d bytes from %s", ErrTooLarge, c.cfg.MaxBody, resp.Request.URL.Redacted())
		}
		out.Body, out.Truncated = body[:c.cfg.MaxBody], true
	}
	return out, nil
}

// checkURL admits absolute http and https URLs with a host and no
// credentials.
func checkURL(u *url.URL) error {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: %s", ErrURL, u.Redacted())
	}
	if u.User != nil {
		return fmt.Errorf("%w: credentials in %s", ErrURL, u.Redacted())
	}
	return nil
}

// dial resolves address itself and connects only to permitted addresses;
// the dialer's Control checks again the address the socket is about to
// connect to, so nothing between the lookup and the connect can change
// where it goes.
func (c *Client) dial(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	pn, err := net.LookupPort(network, port)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		addrs, err = c.cfg.Resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, err
		}
	}
	if len(addrs) > MaxAddresses {
		addrs = addrs[:MaxAddresses]
	}
	// A name with any refused address is refused as a whole: a public
	// site has no business resolving into a private network.
	for _, ip := range addrs {
		if !c.cfg.Allow.Permits(netip.AddrPortFrom(ip, uint16(pn))) {
			return nil, fmt.Errorf("%w: %s resolves to %s", ErrRefused, host, ip)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("outbound: %s has no address", host)
	}
	d := net.Dialer{Control: c.control}
	var first error
	for _, ip := range addrs {
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(pn)).String())
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// control runs just before a socket connects, with the address it
// connects to.
func (c *Client) control(network, address string, _ syscall.RawConn) error {
	if !c.cfg.Allow.permitsAddress(address) {
		return fmt.Errorf("%w: %s", ErrRefused, address)
	}
	return nil
}

// Post sends body to rawURL with the headers, under the same address
// checks as Get (every dial, every redirect) and deadline, and returns
// the answer's status; the answer's body is read up to the cap and
// dropped. It is for webhooks: the caller decides what a status means.
func (c *Client) Post(ctx context.Context, rawURL string, headers map[string]string, body []byte) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrURL, err)
	}
	if err := checkURL(u); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrURL, err)
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, c.cfg.MaxBody))
	return resp.StatusCode, nil
}
