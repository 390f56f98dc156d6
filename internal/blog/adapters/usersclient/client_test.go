package usersclient_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

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
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) != 2 || len(queries[0]["id"]) != 100 || len(queries[1]["id"]) != 50 ||
		len(queries[1]["username"]) != 2 || queries[1]["username"][1] != "a&b=c" {
		t.Fatalf("queries %v", queries)
	}
	if len(ps) != 4 || ps[0].ID != 1 || ps[0].Version != 1700000000123 || *ps[0].Bio != "b" || ps[0].Image != nil ||
		ps[1].Bio != nil || *ps[1].Image != "i.png" ||
		ps[1].Version != time.Date(2024, 1, 2, 3, 4, 5, 6_000_000, time.UTC).UnixMilli() {
		t.Fatalf("profiles %+v", ps)
	}
	if ps, err := newClient(srv.URL).Lookup(t.Context(), nil, nil); err != nil || len(ps) != 0 || len(queries) != 2 {
		t.Fatalf("empty lookup called users: %v %v", ps, err)
	}
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
		if _, err := c.Lookup(t.Context(), nil, []string{name}); !errs.Is(err, kind) {
			t.Errorf("%s: %v, want %v", name, err, kind)
		}
	}
	srv.Close()
	if _, err := c.Lookup(t.Context(), []int64{1}, nil); !errs.Is(err, errs.KindUnavailable) {
		t.Fatalf("closed server: %v", err)
	}
}
