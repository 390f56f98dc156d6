package traces

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/doctor"
)

// The testdata bodies are answers of a real Jaeger v2 (v1.76.0, memstore)
// fed by distributed Tungsten on loopback (scripts/test-observability.sh
// --up): gateway_users_down.json is /api/traces?service=tungsten-gateway
// after the users process was killed and its routes answered 503 (GET
// /api/profiles/..., POST /api/users through auth), with healthy traces
// around them whose Redis connection setup has error spans (go-redis's
// CLIENT probes); blog_slow.json the blog's traces over 100 ms (its JWKS
// fetch at start-up); error_400.json the answer to malformed tags.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// span builds a span of process p starting at start ms lasting d ms, child
// of parent ("" for a root), with tags as key, value pairs.
func span(id, parent, p string, start, d int64, tags ...any) Span {
	s := Span{SpanID: id, OperationName: id, ProcessID: p, StartTime: start * 1000, Duration: d * 1000}
	if parent != "" {
		s.References = append(s.References, Reference{RefType: "CHILD_OF", SpanID: parent})
	}
	for i := 0; i+1 < len(tags); i += 2 {
		s.Tags = append(s.Tags, KeyValue{Key: tags[i].(string), Value: tags[i+1]})
	}
	return s
}

var procs = map[string]Process{
	"gw":  {ServiceName: "tungsten-gateway"},
	"blg": {ServiceName: "tungsten-blog"},
	"all": {ServiceName: "tungsten"},
	"au":  {ServiceName: "tungsten-auth-users"},
}

func TestAnalyze(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		spans []Span
		want  Finding
		ok    bool
	}{
		{"fast and fine", []Span{span("a", "", "gw", 0, 20)}, Finding{}, false},
		{"deepest error is the SQL span", []Span{
			span("srv", "", "gw", 0, 50, "error", true),
			span("cli", "srv", "gw", 1, 45, "span.kind", "client", "peer.service", "blog", "error", true),
			span("bsrv", "cli", "blg", 2, 40, "span.kind", "server", "otel.status_code", "ERROR"),
			span("sql", "bsrv", "blg", 3, 30, "db.system.name", "postgresql", "error", true),
		}, Finding{Component: "postgres", Error: true, SelfMS: 30}, true},
		{"a client span failing to reach its neighbour names it", []Span{
			span("srv", "", "gw", 0, 5, "error", true),
			span("cli", "srv", "gw", 1, 3, "span.kind", "client", "peer.service", "users", "error", true),
		}, Finding{Component: "users", Error: true, SelfMS: 3}, true},
		{"a failing server span names its process", []Span{
			span("srv", "", "blg", 0, 5, "span.kind", "server", "error", "true"),
			span("redis", "srv", "blg", 1, 1, "db.system.name", "redis"),
		}, Finding{Component: "blog", Error: true, SelfMS: 4}, true},
		{"slow: the span with the largest self time", []Span{
			span("srv", "", "gw", 0, 300),
			span("cli", "srv", "gw", 10, 280, "span.kind", "client", "peer.service", "blog"),
			span("bsrv", "cli", "blg", 12, 270, "span.kind", "server"),
			span("nats", "bsrv", "blg", 20, 250, "messaging.system", "nats"),
		}, Finding{Component: "nats", SelfMS: 250}, true},
		{"slow: overlapping children count once, async ones up to the request's end", []Span{
			span("srv", "", "blg", 0, 200, "span.kind", "server"),
			span("q1", "srv", "blg", 10, 50, "db.system", "postgresql"),
			span("q2", "srv", "blg", 30, 50, "db.system", "postgresql"),
			span("consumer", "srv", "blg", 190, 500, "span.kind", "consumer"),
		}, Finding{Component: "blog", SelfMS: 120}, true},
		{"a cycle of references is no hang", []Span{
			span("a", "b", "gw", 0, 500, "error", true),
			span("b", "a", "gw", 0, 500, "error", true),
		}, Finding{Component: "gateway", Error: true, SelfMS: 0}, true},
		{"all-in-one: the tracer's module", []Span{
			span("srv", "", "all", 0, 10, "span.kind", "server", "otel.scope.name", "github.com/tungsten-blog/tungsten/internal/users", "error", true),
		}, Finding{Component: "users", Error: true, SelfMS: 10}, true},
		{"several targets without a scope name nothing", []Span{
			span("srv", "", "au", 0, 10, "span.kind", "server", "error", true),
		}, Finding{Component: "", Error: true, SelfMS: 10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Analyze(Trace{TraceID: "t1", Spans: tt.spans, Processes: procs}, SlowMS)
			if tt.want != (Finding{}) {
				tt.want.TraceID = "t1"
			}
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	svcs, err := DecodeServices(readTestdata(t, "services.json"))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"tungsten-users", "tungsten-auth", "tungsten-blog", "tungsten-gateway"}, svcs)
	_, err = DecodeTraces(readTestdata(t, "error_400.json"))
	require.ErrorContains(t, err, "malformed 'tags' parameter")
	_, err = DecodeTraces([]byte("404 page not found"))
	require.Error(t, err)
}

// TestAnalyzeReal: every trace that hit the dead users process names users
// (the gateway's hop span to it, or auth's client span to it under POST
// /api/users), the healthy ones nothing despite their Redis probe errors,
// and the gateway's JWKS fetch at start-up (auth not listening yet) auth.
func TestAnalyzeReal(t *testing.T) {
	t.Parallel()
	trs, err := DecodeTraces(readTestdata(t, "gateway_users_down.json"))
	require.NoError(t, err)
	require.Len(t, trs, 17)
	named := map[string][]string{}
	var found []Finding
	for _, tr := range trs {
		f, ok := Analyze(tr, SlowMS)
		if !ok {
			continue
		}
		require.True(t, f.Error, "%s: %+v", tr.TraceID, f)
		require.InDelta(t, 202, f.SelfMS, 2, "the hop waits for 3 dial attempts 100 ms apart: %+v", f)
		named[f.Component] = append(named[f.Component], tr.TraceID[:8])
		found = append(found, f)
	}
	require.Equal(t, map[string][]string{
		"users": {"11b17409", "548460be", "67d96592", "b07004fd", "fbf6cf9f", "c1937360", "ae972c9d"},
		"auth":  {"ac400fe3"},
	}, named)

	hops := Hops(found, nil, len(trs), 0, func(id string) string { return "show " + id })
	require.Equal(t, []doctor.Hop{{Component: "users", Error: true, SelfMS: 203.6, TraceID: "548460be66ee0fa81d4223a243483a2e", Reproduce: "show 548460be66ee0fa81d4223a243483a2e"}}, hops,
		"one hop for users; auth's single start-up trace is under MinTraces")

	slow, err := DecodeTraces(readTestdata(t, "blog_slow.json"))
	require.NoError(t, err)
	require.Len(t, slow, 1)
	f, ok := Analyze(slow[0], SlowMS)
	require.True(t, ok)
	require.Equal(t, "auth", f.Component, "the blog's slow client span to auth names auth")
	require.False(t, f.Error)
}

// TestCollect runs Collect against a server answering with the captured
// bodies in the window and nothing in the baseline.
func TestCollect(t *testing.T) {
	t.Parallel()
	start := time.Now()
	var mu sync.Mutex
	var urls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		urls = append(urls, r.URL.String())
		mu.Unlock()
		if r.URL.Path == "/api/services" {
			_, _ = w.Write([]byte(`{"data":["tungsten-users","jaeger","tungsten-gateway","tungsten-blog"],"total":4}`))
			return
		}
		require.Equal(t, "/api/traces", r.URL.Path)
		require.Equal(t, strconv.Itoa(Limit), r.FormValue("limit"))
		end, err := strconv.ParseInt(r.FormValue("end"), 10, 64)
		require.NoError(t, err)
		switch {
		case end < start.Add(-time.Minute).UnixMicro(): // the baseline
			_, _ = w.Write([]byte(`{"data":[],"total":0}`))
		case r.FormValue("service") == "tungsten-gateway" && r.FormValue("minDuration") == "":
			_, _ = w.Write(readTestdata(t, "gateway_users_down.json"))
		case r.FormValue("service") == "tungsten-blog" && r.FormValue("minDuration") == "100ms":
			_, _ = w.Write(readTestdata(t, "blog_slow.json"))
		case r.FormValue("service") == "tungsten-users":
			w.WriteHeader(http.StatusInternalServerError)
		default:
			_, _ = w.Write([]byte(`{"data":[],"total":0}`))
		}
	}))
	defer srv.Close()
	c := &Client{URL: srv.URL, HTTP: srv.Client()}
	var snap doctor.Snapshot
	require.NoError(t, c.Collect(context.Background(), doctor.Window{Window: 2 * time.Minute, Baseline: 10 * time.Minute}, &snap))
	require.Len(t, snap.Hops, 1)
	require.Equal(t, "users", snap.Hops[0].Component)
	require.Equal(t, fmt.Sprintf("%s/trace/%s (API: curl -s %s/api/traces/%s)", srv.URL, snap.Hops[0].TraceID, srv.URL, snap.Hops[0].TraceID), snap.Hops[0].Reproduce)
	// 3 services x (latest, slow) x (window, baseline); jaeger's own traces
	// are not searched; tungsten-users's 2 failing searches in the window are
	// notes.
	require.Len(t, urls, 1+12)
	require.Len(t, snap.Notes, 2)
	require.Contains(t, snap.Notes[0].Summary, "HTTP 500")
	for _, u := range urls {
		require.NotContains(t, u, "service=jaeger")
	}

	srv.Close()
	require.Error(t, c.Collect(context.Background(), doctor.Window{Window: time.Minute, Baseline: time.Minute}, &doctor.Snapshot{}), "Jaeger down: not consulted")
}

func TestHops(t *testing.T) {
	t.Parallel()
	rep := func(id string) string { return "show " + id }
	now := []Finding{
		{Component: "users", Error: true, SelfMS: 2, TraceID: "a"},
		{Component: "users", Error: true, SelfMS: 5, TraceID: "b"},
		{Component: "users", SelfMS: 150, TraceID: "c"},
		{Component: "auth", SelfMS: 120, TraceID: "d"},
		{Component: "auth", SelfMS: 130, TraceID: "e"},
		{Component: "auth", SelfMS: 110, TraceID: "f"},
		{Component: "blog", Error: true, SelfMS: 1, TraceID: "g"},
	}
	// auth's slow logins are as frequent in the baseline: not an incident.
	// blog has one error trace: noise.
	var base []Finding
	for range 10 {
		base = append(base, Finding{Component: "auth", SelfMS: 120})
	}
	// 20 traces fetched in the window, 50 in the baseline: auth's share
	// (3/20) is under 3 times its baseline share (10/50).
	require.Equal(t, []doctor.Hop{{Component: "users", Error: true, SelfMS: 5, TraceID: "b", Reproduce: "show b"}}, Hops(now, base, 20, 50, rep))
	// Without a baseline (a fresh system) slow means nothing: only users' failing hop counts.
	require.Equal(t, []doctor.Hop{{Component: "users", Error: true, SelfMS: 5, TraceID: "b", Reproduce: "show b"}}, Hops(now, nil, 20, 0, rep))
}

func FuzzDecodeTraces(f *testing.F) {
	f.Add([]byte(`{"data":[{"traceID":"t","spans":[{"spanID":"a","references":[{"refType":"CHILD_OF","spanID":"a"}],"startTime":1,"duration":-5,"tags":[{"key":"error","value":true}],"processID":"p"}],"processes":{"p":{"serviceName":"tungsten"}}}]}`))
	f.Add([]byte(`{"data":null,"errors":[{"code":400,"msg":"bad"}]}`))
	f.Add(readTestdata(f, "gateway_users_down.json"))
	f.Add(readTestdata(f, "blog_slow.json"))
	f.Fuzz(func(t *testing.T, body []byte) {
		trs, err := DecodeTraces(body)
		if err != nil {
			return
		}
		var found []Finding
		for _, tr := range trs {
			if fd, ok := Analyze(tr, SlowMS); ok {
				found = append(found, fd)
			}
		}
		for _, h := range Hops(found, nil, len(trs), 0, func(id string) string { return id }) {
			require.NotEmpty(t, h.Component, "a hop without a component: %+v", h)
		}
	})
}

func FuzzDecodeServices(f *testing.F) {
	f.Add(readTestdata(f, "services.json"))
	f.Fuzz(func(t *testing.T, body []byte) { _, _ = DecodeServices(body) })
}
