package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/gateway"
	"github.com/tungsten-blog/tungsten/internal/platform/config"
)

// Behind a load balancer the gateway trusts, a client that writes its own
// X-Forwarded-For must still be counted as the address the balancer saw:
// rotating the spoofed left-most entry must not buy a fresh per-IP budget.
func TestAbuse_ClientIdentity_SpoofedForwardedForDoesNotBypassTheIPLimit(t *testing.T) {
	t.Parallel()
	f := newGateway(t, func(c *gateway.Config) {
		c.RateLimit = 3
		c.TrustedProxies = config.StringList{"10.0.0.0/8"}
	})
	statuses := map[int]int{}
	for i := range 10 {
		req := httptest.NewRequest("GET", "/api/tags", nil)
		req.RemoteAddr = "10.1.2.3:4444" // the load balancer
		// What the client wrote, then what the balancer appended (the real peer).
		req.Header.Set("X-Forwarded-For", "198.51.100."+string(rune('0'+i))+", 203.0.113.7")
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		statuses[rec.Code]++
		if rec.Code == 200 {
			require.Equal(t, "203.0.113.7", rec.Header().Get("X-Saw-Forwarded-For"), "backends see the client the balancer saw")
		}
	}
	require.Equal(t, map[int]int{200: 3, 429: 7}, statuses)
}

// Without configured trusted proxies nothing a client sends is believed,
// and what backends receive is what the gateway decided.
func TestAbuse_ClientIdentity_UntrustedPeerForwardedHeadersAreReplaced(t *testing.T) {
	t.Parallel()
	f := newGateway(t, nil)
	rec := f.do("GET", "/api/tags", "", map[string]string{
		"X-Forwarded-For": "1.2.3.4", "X-Real-Ip": "1.2.3.4", "X-Forwarded-Proto": "https",
	})
	require.Equal(t, "203.0.113.9", rec.Header().Get("X-Saw-Forwarded-For"))
	require.Empty(t, rec.Header().Get("X-Saw-Real-Ip"))
	require.Equal(t, "http", rec.Header().Get("X-Saw-Forwarded-Proto"))
	require.Empty(t, rec.Header().Get("Strict-Transport-Security"), "no HSTS over plain HTTP")
}

// HSTS is sent when the client came over TLS per a trusted proxy, not
// when a client merely claims it.
func TestAbuse_SecureDefaults_HSTSOnlyBehindTrustedTLS(t *testing.T) {
	t.Parallel()
	f := newGateway(t, func(c *gateway.Config) {
		c.TrustedProxies = config.StringList{"10.0.0.0/8"}
		c.HSTS = 365 * 24 * 3600 * 1e9
	})
	for _, tc := range []struct {
		peer string
		want string
	}{{"10.0.0.5:1", "max-age=31536000"}, {"203.0.113.9:1", ""}} {
		req := httptest.NewRequest("GET", "/api/tags", nil)
		req.RemoteAddr = tc.peer
		req.Header.Set("X-Forwarded-Proto", "https")
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, tc.want, rec.Header().Get("Strict-Transport-Security"), tc.peer)
	}
}
