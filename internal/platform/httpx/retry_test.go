package httpx_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// refusedAddr returns a loopback address nothing listens on (a killed replica's).
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// flakyDialer dials dead for the first `refuse` dials, then the real address, as a
// Service does while kube-proxy still lists a killed pod.
func flakyDialer(dead, live string, refuse int64, dials *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		if dials.Add(1) <= refuse {
			return d.DialContext(ctx, network, dead)
		}
		return d.DialContext(ctx, network, live)
	}
}

func TestDialRetry(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(r.Method + " " + string(b))
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	live := strings.TrimPrefix(srv.URL, "http://")
	dead := refusedAddr(t)

	tests := []struct {
		name     string
		refuse   int64 // dials refused before the live one
		attempts int
		wantErr  bool
		wantDial int64
	}{
		{name: "a refused dial is retried, the POST arrives once with its body", refuse: 1, attempts: 3, wantDial: 2},
		{name: "two refused dials, third attempt succeeds", refuse: 2, attempts: 3, wantDial: 3},
		{name: "bounded: every dial refused fails after Attempts", refuse: 100, attempts: 3, wantErr: true, wantDial: 3},
		{name: "Attempts 1 does not retry", refuse: 1, attempts: 1, wantErr: true, wantDial: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got.Store("")
			var dials atomic.Int64
			tr := &httpx.DialRetry{Attempts: tc.attempts, Backoff: time.Millisecond, Next: &http.Transport{
				DialContext: flakyDialer(dead, live, tc.refuse, &dials), DisableKeepAlives: true,
			}}
			// The body is a plain reader (no GetBody), as a reverse proxy's outgoing request is.
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/articles", io.NopCloser(strings.NewReader(`{"a":1}`)))
			require.NoError(t, err)
			res, err := tr.RoundTrip(req)
			require.Equal(t, tc.wantDial, dials.Load(), "dials")
			if tc.wantErr {
				require.Error(t, err)
				require.Contains(t, err.Error(), "refused")
				require.Equal(t, "", got.Load())
				return
			}
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusCreated, res.StatusCode)
			require.Equal(t, `POST {"a":1}`, got.Load())
		})
	}
}

// A request that reached a server which then dropped the connection is not resent: the
// server may have acted on it.
func TestDialRetryDoesNotResendAfterConnecting(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.ReadAll(r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close() // killed before answering
		}
	}))
	defer srv.Close()
	tr := &httpx.DialRetry{Attempts: 3, Backoff: time.Millisecond, Next: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest(http.MethodPost, srv.URL, io.NopCloser(strings.NewReader("x")))
	require.NoError(t, err)
	_, err = tr.RoundTrip(req)
	require.Error(t, err)
	require.Equal(t, int64(1), hits.Load(), "sent once")
}
