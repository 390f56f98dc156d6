package faults

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

// The backlog reading sums every series of the metric and no other metric
// sharing its prefix; a target without it is an error, not a 0.
func TestScrapeSum(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `# HELP tungsten_outbox_backlog rows
# TYPE tungsten_outbox_backlog gauge
tungsten_outbox_backlog{service="blog"} 3
tungsten_outbox_backlog{service="users"} 4
tungsten_outbox_backlog_seconds 100
other 7
`)
	}))
	defer srv.Close()
	v, err := scrapeSum(srv.URL, "tungsten_outbox_backlog")
	require.NoError(t, err)
	require.Equal(t, 7.0, v)
	_, err = scrapeSum(srv.URL, "tungsten_missing")
	require.Error(t, err)
}

// A 5xx counts as telling the client when to retry only with a Retry-After
// the client can read: delay-seconds or an HTTP date.
func TestValidRetryAfter(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{
		"1": true, "0": true, "120": true, "Wed, 21 Oct 2015 07:28:00 GMT": true,
		"": false, "-1": false, "soon": false, "1.5": false,
	} {
		require.Equal(t, want, validRetryAfter(v), "Retry-After %q", v)
	}
}

// Error answers are the RealWorld shape with at least one message.
func TestErrorShape(t *testing.T) {
	t.Parallel()
	require.True(t, errorShape([]byte(`{"errors":{"body":["the service is temporarily unavailable"]}}`)))
	for _, b := range []string{``, `Service Unavailable`, `{"errors":{"body":[]}}`, `{"error":"x"}`, `<html>`} {
		require.False(t, errorShape([]byte(b)), "%q", b)
	}
}
