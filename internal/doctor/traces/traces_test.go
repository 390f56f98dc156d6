package traces

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/doctor"
)

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
		s.References = append(s.References, struct {
			RefType string `json:"refType"`
			SpanID  string `json:"spanID"`
		}{"CHILD_OF", parent})
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
	// auth's slow logins are as frequent in the baseline (10 in 5x the
	// window's length): not an incident. blog has one error trace: noise.
	var base []Finding
	for range 10 {
		base = append(base, Finding{Component: "auth", SelfMS: 120})
	}
	require.Equal(t, []doctor.Hop{{Component: "users", Error: true, SelfMS: 5, TraceID: "b", Reproduce: "show b"}}, Hops(now, base, 0.2, rep))
	require.Len(t, Hops(now, nil, 0.2, rep), 2, "without a baseline, auth's slow hop counts")
}
