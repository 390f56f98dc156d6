package admin

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tungsten-blog/tungsten/internal/doctor"
)

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets(" users=http://127.0.0.1:9092/, http://127.0.0.1:9093 ,,")
	require.NoError(t, err)
	want := []Target{{Name: "users", URL: "http://127.0.0.1:9092"}, {URL: "http://127.0.0.1:9093"}}
	require.Equal(t, want, got, "ParseTargets")
	for _, bad := range []string{"127.0.0.1:9090", "users=ftp://x"} {
		_, err := ParseTargets(bad)
		assert.Error(t, err, "ParseTargets(%q): no error", bad)
	}
}

func TestCollect(t *testing.T) {
	serve := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/readyz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ready := serve(http.StatusOK, `{"status":"ready","modules":["blog"]}`)
	notReady := serve(http.StatusServiceUnavailable, `{"status":"not ready","reason":"postgres: dial tcp: connection refused","modules":["users"]}`)
	garbage := serve(http.StatusOK, `<html>`)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + l.Addr().String()
	l.Close()

	s := &Source{HTTP: &http.Client{Timeout: 2 * time.Second}, Targets: []Target{
		{URL: ready}, {URL: notReady}, {URL: garbage}, {Name: "auth", URL: dead},
	}}
	var snap doctor.Snapshot
	s.Collect(context.Background(), &snap)
	require.Len(t, snap.Processes, 4, "processes")
	check := func(i int, comps []string, healthy, ready bool) {
		t.Helper()
		p := snap.Processes[i]
		assert.True(t, slices.Equal(p.Components, comps) && p.Healthy == healthy && p.Ready == ready && p.Detail != "",
			"process %d = %+v, want components %v healthy %v ready %v and a detail", i, p, comps, healthy, ready)
	}
	check(0, []string{"blog"}, true, true)
	check(1, []string{"users"}, true, false)
	check(2, nil, false, false)
	check(3, []string{"auth"}, false, false)

	d := doctor.Diagnose(snap)
	require.Contains(t, []string{"users", "auth"}, d.Verdict.Component, "verdict %+v: want a failing process named", d.Verdict)
}

func FuzzDecodeReady(f *testing.F) {
	f.Add(`{"status":"ready","modules":["gateway","auth"]}`)
	f.Add(`{"status":"not ready","reason":"x"}`)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := DecodeReady([]byte(s))
		require.False(t, err == nil && r.Status == "", "decoded without a status")
	})
}
