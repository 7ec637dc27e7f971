package outbound

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// refused are the ranges an outbound fetch never connects to: each is
// local to a host or a network, reserved, or a documentation or benchmark
// range (IANA IPv4 and IPv6 Special-Purpose
// Address Registries, RFC 6890 and its updates). IPv6 forms that embed an
// IPv4 address (mapped, compatible, NAT64, 6to4) are judged by the IPv4
// address they carry, in Check.
var refused = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",          // "this network" (RFC 791)
		"100.64.0.0/10",      // shared address space, carrier-grade NAT (RFC 6598)
		"192.0.0.0/24",       // IETF protocol assignments (RFC 6890)
		"192.0.2.0/24",       // documentation TEST-NET-1 (RFC 5737)
		"192.88.99.0/24",     // 6to4 relay anycast, deprecated (RFC 7526)
		"198.18.0.0/15",      // benchmarking (RFC 2544)
		"198.51.100.0/24",    // documentation TEST-NET-2
		"203.0.113.0/24",     // documentation TEST-NET-3
		"240.0.0.0/4",        // reserved, and 255.255.255.255 broadcast
		"100::/64",           // discard-only (RFC 6666)
		"64:ff9b:1::/48",     // local-use NAT64 (RFC 8215)
		"2001::/23",          // IETF protocol assignments, Teredo included (RFC 2928, 4380)
		"2001:db8::/32",      // documentation (RFC 3849)
		"3fff::/20",          // documentation (RFC 9637)
		"5f00::/16",          // segment routing SIDs (RFC 9602)
		"fec0::/10",          // site-local, deprecated (RFC 3879)
		"::/96",              // IPv4-compatible, deprecated (RFC 4291); :: and ::1 included
		"ff00::/8",           // multicast
		"fc00::/7",           // unique local (RFC 4193)
		"fe80::/10",          // link-local
		"169.254.0.0/16",     // link-local, cloud metadata services among them
		"127.0.0.0/8",        // loopback
		"10.0.0.0/8",         // private (RFC 1918)
		"172.16.0.0/12",      // private
		"192.168.0.0/16",     // private
		"224.0.0.0/4",        // multicast
		"255.255.255.255/32", // broadcast
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

var (
	mapped     = netip.MustParsePrefix("::ffff:0:0/96")   // IPv4-mapped (RFC 4291)
	nat64      = netip.MustParsePrefix("64:ff9b::/96")    // well-known NAT64 prefix (RFC 6052)
	sixTo4     = netip.MustParsePrefix("2002::/16")       // 6to4 (RFC 3056): bytes 2–5 are IPv4
	translated = netip.MustParsePrefix("::ffff:0:0:0/96") // SIIT IPv4-translated (RFC 2765)
)

// Public reports whether a is an address an outbound fetch may connect to:
// a global unicast address outside every special-purpose range, judging an
// IPv6 address that embeds an IPv4 one (IPv4-mapped, IPv4-translated,
// NAT64 64:ff9b::/96, 6to4 2002::/16) by the IPv4 address it carries. A
// zoned address (fe80::1%eth0) is never public.
func Public(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case mapped.Contains(a), translated.Contains(a), nat64.Contains(a):
			return Public(netip.AddrFrom4([4]byte(b[12:16])))
		case sixTo4.Contains(a):
			return Public(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || a.IsInterfaceLocalMulticast() || !a.IsGlobalUnicast() {
		return false
	}
	for _, p := range refused {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// Allow is a set of addresses an outbound fetch may connect to although
// they are not Public: whole networks (CIDRs) or single endpoints
// (address and port). It exists for tests (a fixture site on 127.0.0.1)
// and for an operator who must reach one internal host; every entry opens
// a way into the server's network to anyone who can post a link.
type Allow struct {
	prefixes  []netip.Prefix
	endpoints []netip.AddrPort
}

// ParseAllow reads comma-separated entries, each a CIDR (10.1.2.0/24,
// fd00::/64), a single address (10.1.2.3) or an endpoint
// (127.0.0.1:8080, [::1]:8080). Host names are refused: the entry must say
// which address it opens. IPv4-mapped forms are stored as IPv4.
func ParseAllow(s string) (Allow, error) {
	var a Allow
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			if p.Addr().Is4In6() {
				// ::ffff:10.0.0.0/104 is 10.0.0.0/8.
				if p.Bits() < 96 {
					return Allow{}, fmt.Errorf("%q: an IPv4-mapped network must be at least /96", e)
				}
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			a.prefixes = append(a.prefixes, p.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(e); err == nil && ip.Zone() == "" {
			a.prefixes = append(a.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if ap, err := netip.ParseAddrPort(e); err == nil && ap.Addr().Zone() == "" && ap.Port() != 0 {
			a.endpoints = append(a.endpoints, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
			continue
		}
		return Allow{}, fmt.Errorf("%q is not a CIDR, an address or address:port (for example 127.0.0.1:8081)", e)
	}
	return a, nil
}

// MustAllow is ParseAllow for tests and constants; it panics on an error.
func MustAllow(s string) Allow {
	a, err := ParseAllow(s)
	if err != nil {
		panic(err)
	}
	return a
}

// Empty reports whether a allows nothing beyond the public addresses.
func (a Allow) Empty() bool { return len(a.prefixes) == 0 && len(a.endpoints) == 0 }

// String lists the entries, comma-separated, as ParseAllow reads them.
func (a Allow) String() string {
	var s []string
	for _, p := range a.prefixes {
		s = append(s, p.String())
	}
	for _, e := range a.endpoints {
		s = append(s, e.String())
	}
	return strings.Join(s, ",")
}

// Permits reports whether a connection to ap may be made: ap's address is
// Public, or a allows it. IPv4-mapped addresses are judged as IPv4.
func (a Allow) Permits(ap netip.AddrPort) bool {
	ip := ap.Addr()
	if Public(ip) {
		return true
	}
	if ip.Zone() != "" {
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	for _, e := range a.endpoints {
		if e.Addr() == ip && e.Port() == ap.Port() {
			return true
		}
	}
	return false
}

// permitsAddress is Permits for the "host:port" a dialer's Control sees.
func (a Allow) permitsAddress(address string) bool {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(host, port))
	if err != nil {
		return false
	}
	return a.Permits(ap)
}
