package chat

import "net/netip"

// AddressKey is the key per-address limits count a client address under:
// an IPv4 address as it is, an IPv6 address by its /64, the smallest block
// one subscriber is normally given (RFC 6177), so that a client cannot
// escape a limit by walking its own prefix. IPv4-mapped IPv6 addresses are
// read as IPv4. Input that is not an address is used as it is, cut to 64
// bytes, so the key stays bounded.
func AddressKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip[:min(len(ip), 64)]
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}

// isLoopback reports whether ip is a loopback address (127.0.0.0/8, ::1).
func isLoopback(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && a.Unmap().IsLoopback()
}
