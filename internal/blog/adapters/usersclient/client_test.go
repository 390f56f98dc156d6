package usersclient_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tungsten-blog/tungsten/internal/blog/adapters/usersclient"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

func newClient(url string) *usersclient.Client {
	return usersclient.New(httpx.NewClient(httpx.ClientConfig{Service: "users", BaseURL: url, Timeout: time.Second,
		Tracer: noop.NewTracerProvider().Tracer("t"), Propagator: propagation.TraceContext{}}))
}

func TestLookup(t *testing.T) {
	t.Parallel()
	var queries []map[string][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != usersclient.ProfilesPath || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		queries = append(queries, r.URL.Query())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"profiles":[
			{"id":1,"username":"jake","bio":"b","image":null,"updatedAt":1700000000123},
			{"id":2,"username":"amy","bio":null,"image":"i.png","updatedAt":"2024-01-02T03:04:05.006Z"}]}`))
	}))
	defer srv.Close()
	ids := make([]int64, 150)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	ps, err := newClient(srv.URL).Lookup(t.Context(), ids, []string{"jake", "a&b=c"})
	require.NoError(t, err)
	require.Len(t, queries, 2, "queries %v", queries)
	require.Len(t, queries[0]["id"], 100, "first batch")
	require.Len(t, queries[1]["id"], 50, "second batch")
	require.Equal(t, []string{"jake", "a&b=c"}, queries[1]["username"], "usernames, escaped")
	require.Len(t, ps, 4, "profiles %+v", ps)
	require.Equal(t, int64(1), ps[0].ID)
	require.Equal(t, int64(1700000000123), ps[0].Version)
	require.Equal(t, "b", *ps[0].Bio)
	require.Nil(t, ps[0].Image)
	require.Nil(t, ps[1].Bio)
	require.Equal(t, "i.png", *ps[1].Image)
	require.Equal(t, time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC).UnixMilli(), ps[1].Version, "a version given as a time")
	ps, err = newClient(srv.URL).Lookup(t.Context(), nil, nil)
	require.NoError(t, err)
	require.Empty(t, ps)
	require.Len(t, queries, 2, "empty lookup called users")
}

func TestLookupFailures(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("username") {
		case "boom":
			w.WriteHeader(http.StatusInternalServerError)
		case "garbage":
			_, _ = w.Write([]byte(`{"profiles":[{"id":"x"}]}`))
		default:
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(httpx.NewErrorBody("no"))
		}
	}))
	c := newClient(srv.URL)
	for name, kind := range map[string]errs.Kind{"boom": errs.KindUnavailable, "garbage": errs.KindUnavailable, "x": errs.KindForbidden} {
		_, err := c.Lookup(t.Context(), nil, []string{name})
		assert.True(t, errs.Is(err, kind), "%s: %v, want %v", name, err, kind)
	}
	srv.Close()
	_, err := c.Lookup(t.Context(), []int64{1}, nil)
	require.True(t, errs.Is(err, errs.KindUnavailable), "closed server: %v", err)
}
