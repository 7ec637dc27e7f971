package wire

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies whose X-Forwarded-For is believed
// (KOROBKA_TRUSTED_PROXIES). The zero value trusts none: the client is
// the connection's peer.
type Proxies struct {
	prefixes []netip.Prefix
}

// ParseProxies reads addresses ("10.0.0.7", "2001:db8::1") and CIDRs
// ("10.0.0.0/8") into Proxies. An address is a prefix of its full length.
func ParseProxies(list []string) (Proxies, error) {
	var p Proxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if pfx, err := netip.ParsePrefix(s); err == nil {
			p.prefixes = append(p.prefixes, pfx.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Proxies{}, fmt.Errorf("%q is not an address or CIDR", s)
		}
		a = a.Unmap()
		p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return p, nil
}

// trusted reports whether a is one of the proxies.
func (p Proxies) trusted(a netip.Addr) bool {
	for _, pfx := range p.prefixes {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr decides who sent r, for per-address limits and logs: the one
// function both transports use (the REST surface and the WebSocket
// handshake).
//
// It starts at the connection's peer. While that hop is a trusted proxy,
// it steps left through X-Forwarded-For (every header line, in order, as
// RFC 9110 5.3 joins them), and stops at the first hop that is not a
// trusted proxy: the rightmost untrusted hop. Entries left of it were
// written by the client and are ignored, so a client cannot choose its
// address by sending X-Forwarded-For itself. An entry that is not an
// address ends the walk at the last hop that was trusted. X-Real-IP and
// Forwarded are never read: a proxy that does not append to
// X-Forwarded-For passes them on from the client unchanged.
//
// The zero Addr means the peer's address is unreadable (never the case
// for a TCP listener).
func (p Proxies) ClientAddr(r *http.Request) netip.Addr {
	client := peerAddr(r.RemoteAddr)
	if !client.IsValid() || !p.trusted(client) {
		return client
	}
	hops := forwardedFor(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := hopAddr(hops[i])
		if !ok {
			// Not an address (a port, an obfuscated name, garbage): what
			// lies left of it cannot be attributed. The last trusted hop
			// is the best that is known.
			return client
		}
		client = a.Unmap().WithZone("")
		if !p.trusted(client) {
			return client
		}
	}
	return client
}

// forwardedFor returns the X-Forwarded-For entries of every header line,
// left to right.
func forwardedFor(h http.Header) []string {
	var hops []string
	for _, line := range h.Values("X-Forwarded-For") {
		for _, e := range strings.Split(line, ",") {
			if e = strings.TrimSpace(e); e != "" {
				hops = append(hops, e)
			}
		}
	}
	return hops
}

// hopAddr parses one X-Forwarded-For entry: an address, or an address
// with a port as some proxies write it ("1.2.3.4:5678", "[2001:db8::1]:80").
func hopAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}

// peerAddr parses a RemoteAddr ("1.2.3.4:5678", "[::1]:5678").
func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(strings.TrimSpace(remote))
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}
