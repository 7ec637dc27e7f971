package wire

import (
	"net/http"
	"testing"
)

// TestClientAddrTakesOnlyTrustedHops: the client address is the rightmost
// hop that is not a trusted proxy; whatever a client writes itself
// (X-Real-IP, its own X-Forwarded-For header line, entries left of the
// proxy's) does not move it, and with no trusted proxy every header is
// ignored.
func TestClientAddrTakesOnlyTrustedHops(t *testing.T) {
	proxies, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	type hdr = map[string][]string
	tests := []struct {
		name    string
		proxies Proxies
		remote  string
		header  hdr
		want    string
	}{
		{"no proxy configured: headers ignored", Proxies{}, "198.51.100.1:5000",
			hdr{"X-Forwarded-For": {"203.0.113.9"}, "X-Real-Ip": {"203.0.113.8"}}, "198.51.100.1"},
		{"untrusted peer: headers ignored", proxies, "198.51.100.1:5000",
			hdr{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.1"},
		{"trusted proxy appends the client", proxies, "10.1.2.3:5000",
			hdr{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"X-Real-IP is never believed", proxies, "10.1.2.3:5000",
			hdr{"X-Real-Ip": {"203.0.113.8"}}, "10.1.2.3"},
		{"X-Real-IP beside X-Forwarded-For", proxies, "10.1.2.3:5000",
			hdr{"X-Real-Ip": {"203.0.113.8"}, "X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"left entries are the client's", proxies, "10.1.2.3:5000",
			hdr{"X-Forwarded-For": {"6.6.6.6, 7.7.7.7, 203.0.113.9"}}, "203.0.113.9"},
		{"the client's own header line, then the proxy's", proxies, "10.1.2.3:5000",
			hdr{"X-Forwarded-For": {"6.6.6.6", "203.0.113.9"}}, "203.0.113.9"},
		{"a chain of trusted proxies", proxies, "10.1.2.3:5000",
			hdr{"X-Forwarded-For": {"6.6.6.6, 203.0.113.9, 192.0.2.7, 10.9.9.9"}}, "203.0.113.9"},
		{"a client naming a trusted proxy left of itself", proxies, "10.1.2.3:5000",
			hdr{"X-Forwarded-For": {"10.0.0.1, 203.0.113.9"}}, "203.0.113.9"},
		{"garbage stops at the last trusted hop", proxies, "10.1.2.3:5000",
			hdr{"X-Forwarded-For": {"6.6.6.6, unknown"}}, "10.1.2.3"},
		{"an entry with a port", proxies, "10.1.2.3:5000",
			hdr{"X-Forwarded-For": {"203.0.113.9:4711"}}, "203.0.113.9"},
		{"every hop trusted", proxies, "10.1.2.3:5000",
			hdr{"X-Forwarded-For": {"10.0.0.5"}}, "10.0.0.5"},
		{"IPv6 client through the proxy", proxies, "[2001:db8:ffff::1]:443",
			hdr{"X-Forwarded-For": {"2001:db8:1:2:3:4:5:6"}}, "2001:db8:1:2:3:4:5:6"},
		{"IPv4-mapped peer", proxies, "[::ffff:10.1.2.3]:443",
			hdr{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"no header", proxies, "10.1.2.3:5000", nil, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
			for k, vs := range tt.header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := tt.proxies.ClientAddr(r); got.String() != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseProxies(t *testing.T) {
	if _, err := ParseProxies([]string{"10.0.0.0/8", " 192.0.2.1 ", "::1"}); err != nil {
		t.Errorf("valid list: %v", err)
	}
	if _, err := ParseProxies([]string{"proxy.example"}); err == nil {
		t.Error("a host name was accepted")
	}
}
