package httpx_test

import (
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

func mustCIDRs(t testing.TB, s ...string) []*net.IPNet {
	n, err := httpx.ParseCIDRs(s)
	require.NoError(t, err)
	return n
}

func TestAbuse_ClientIdentity_ClientIPTrustRule(t *testing.T) {
	t.Parallel()
	trusted := mustCIDRs(t, "10.0.0.0/8", "127.0.0.0/8")
	tests := []struct {
		name, peer string
		xff        []string
		trusted    bool
		want       string
	}{
		{"no proxies configured: the peer", "203.0.113.9:1", []string{"1.2.3.4"}, false, "203.0.113.9"},
		{"untrusted peer: headers ignored", "203.0.113.9:1", []string{"1.2.3.4"}, true, "203.0.113.9"},
		{"trusted peer, no header", "10.0.0.1:1", nil, true, "10.0.0.1"},
		{"right-most untrusted entry", "10.0.0.1:1", []string{"6.6.6.6, 203.0.113.7"}, true, "203.0.113.7"},
		{"trusted hops skipped from the right", "10.0.0.1:1", []string{"6.6.6.6, 203.0.113.7, 10.9.9.9, 127.0.0.1"}, true, "203.0.113.7"},
		{"several header lines are one list", "10.0.0.1:1", []string{"6.6.6.6", "203.0.113.7", "10.2.2.2"}, true, "203.0.113.7"},
		{"all trusted: the left-most", "10.0.0.1:1", []string{"127.0.0.1, 10.3.3.3"}, true, "127.0.0.1"},
		{"garbage stops at the last trusted hop", "10.0.0.1:1", []string{"1.1.1.1, evil, 10.4.4.4"}, true, "10.4.4.4"},
		{"IPv6 normalised", "[::1]:1", []string{"2001:DB8::1"}, false, "::1"},
		{"IPv6 client behind proxy", "10.0.0.1:1", []string{"2001:DB8:0::1"}, true, "2001:db8::1"},
	}
	for _, tc := range tests {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		var nets []*net.IPNet
		if tc.trusted {
			nets = trusted
		}
		require.Equal(t, tc.want, httpx.ClientIP(req, nets), tc.name)
	}
}

// FuzzClientIP checks the rule's invariants on any header: the answer is an
// IP; it is the peer unless the peer is trusted; and a client can only make
// it one of the entries a trusted hop vouches for, never an entry left of the
// first untrusted one from the right.
func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1", "1.2.3.4, 5.6.7.8")
	f.Add("203.0.113.9", "1.2.3.4")
	f.Add("10.0.0.1", "garbage,,10.0.0.2")
	f.Add("10.0.0.1", "")
	trusted := mustCIDRs(f, "10.0.0.0/8")
	f.Fuzz(func(t *testing.T, peer, xff string) {
		if net.ParseIP(peer) == nil {
			return
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = net.JoinHostPort(peer, "1")
		req.Header.Set("X-Forwarded-For", xff)
		got := httpx.ClientIP(req, trusted)
		ip := net.ParseIP(got)
		require.NotNil(t, ip, "ClientIP(%q, %q) = %q is not an IP", peer, xff, got)
		if !trusted[0].Contains(net.ParseIP(peer)) {
			require.Equal(t, net.ParseIP(peer).String(), got)
			return
		}
		// Walk the way a proxy chain builds the list: the answer is the first
		// untrusted entry from the right, or a trusted one.
		entries := strings.Split(xff, ",")
		for i := len(entries) - 1; i >= 0; i-- {
			e := net.ParseIP(strings.TrimSpace(entries[i]))
			if e == nil {
				break
			}
			if !trusted[0].Contains(e) {
				require.Equal(t, e.String(), got)
				return
			}
		}
		require.True(t, trusted[0].Contains(ip), "with no untrusted entry the answer is a trusted hop, got %q", got)
	})
}
