package logs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/doctor"
)

// The testdata bodies are answers of a real VictoriaLogs v1.52.1 to
// errorQuery, over slog lines shipped by vlagent's file collector:
// window.json for "120s", baseline.json for "600s offset 120s" (crafted
// lines: suppressed counts, a line without service, a long message),
// users_down_*.json the same over distributed Tungsten's own logs
// (scripts/test-observability.sh --up) after the users process was killed
// and the gateway answered 503s for half a minute; error_422.json the answer
// to a query that does not parse.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestDecodeStats(t *testing.T) {
	t.Parallel()
	stats, err := DecodeStats(readTestdata(t, "window.json"))
	require.NoError(t, err)
	require.Len(t, stats, 2)
	require.Equal(t, Stat{Name: "lines", Fields: map[string]string{
		"service": "gateway", "file": "/tmp/vlx/gateway.log", "kubernetes.pod_name": "",
		"sample": `{"_msg":"proxy error","error":"dial tcp 127.0.0.1:1234: connect: connection refused"}`,
	}, Value: "3"}, stats[0])
	require.Equal(t, "NaN", stats[1].Value, "sum(suppressed) over lines without the field")

	_, err = DecodeStats(readTestdata(t, "error_422.json"))
	require.ErrorContains(t, err, "cannot parse `query` arg")
	_, err = DecodeStats([]byte(`{"status":"success","data":{"resultType":"matrix","result":[]}}`))
	require.ErrorContains(t, err, "want vector")
	_, err = DecodeStats([]byte(`<html>`))
	require.Error(t, err)
}

func TestByComponent(t *testing.T) {
	t.Parallel()
	stats, err := DecodeStats(readTestdata(t, "baseline.json"))
	require.NoError(t, err)
	counts, unattributed := ByComponent(stats)
	require.Zero(t, unattributed)
	// The blog: 2 lines + 41 suppressed with service=blog, and 1
	// process-level line of blog.log; the sample is the largest group's,
	// truncated.
	require.Equal(t, map[string]Count{
		"blog":    {Lines: 44, Sample: strings.Repeat("x", 200) + "…", Filter: `service:="blog"`},
		"gateway": {Lines: 31, Sample: "old error", Filter: `service:="gateway"`},
	}, counts)
}

func TestLogErrors(t *testing.T) {
	t.Parallel()
	cur, err := DecodeStats(readTestdata(t, "window.json"))
	require.NoError(t, err)
	base, err := DecodeStats(readTestdata(t, "baseline.json"))
	require.NoError(t, err)
	got, unattributed := LogErrors(cur, base, doctor.Window{Window: 2 * time.Minute, Baseline: 10 * time.Minute}, func(f string) string { return f })
	require.Zero(t, unattributed)
	// 31 lines in 10 minutes are 6.2 in 2; the blog logged no error in the
	// window.
	require.Equal(t, []doctor.LogErrors{{Component: "gateway", Now: 3, Base: 6,
		Sample: "proxy error: dial tcp 127.0.0.1:1234: connect: connection refused",
		Step:   doctor.StepLogSearch, Reproduce: `service:="gateway"`}}, got)
}

// TestLogErrorsUsersDown: the gateway logged 4 lines and suppressed 44
// identical ones (telemetry's dedupe handler): 48 errors, over the rules'
// LogFloor, where counting lines alone would have seen 4.
func TestLogErrorsUsersDown(t *testing.T) {
	t.Parallel()
	cur, err := DecodeStats(readTestdata(t, "users_down_window.json"))
	require.NoError(t, err)
	base, err := DecodeStats(readTestdata(t, "users_down_baseline.json"))
	require.NoError(t, err)
	got, unattributed := LogErrors(cur, base, doctor.Window{Window: 2 * time.Minute, Baseline: 10 * time.Minute}, func(f string) string { return f })
	require.Zero(t, unattributed)
	require.Equal(t, []doctor.LogErrors{{Component: "gateway", Now: 48, Base: 0,
		Sample: "request failed: unavailable: [users is unavailable]: dial tcp 127.0.0.1:25103: connect: connection refused",
		Step:   doctor.StepLogSearch, Reproduce: `service:="gateway"`}}, got)
	require.GreaterOrEqual(t, got[0].Now, doctor.LogFloor)
}

func TestComponent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fields map[string]string
		want   string
	}{
		{"service field", map[string]string{"service": "users", "file": "/x/gateway.log"}, "users"},
		{"unknown service", map[string]string{"service": "migrate"}, ""},
		{"file of a target", map[string]string{"service": "", "file": "/art/auth.log"}, "auth"},
		{"file of the all-in-one", map[string]string{"file": "/art/tungsten.log"}, ""},
		{"pod of a target", map[string]string{"kubernetes.pod_name": "tungsten-blog-7d9f8c6b5-x2x4q"}, "blog"},
		{"pod of several targets", map[string]string{"kubernetes.pod_name": "tungsten-auth-users-7d9f8c6b5-x2x4q"}, ""},
		{"pod of something else", map[string]string{"kubernetes.pod_name": "coredns-abc"}, ""},
		{"nothing", map[string]string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Component(tt.fields))
		})
	}
}

func TestUnattributed(t *testing.T) {
	t.Parallel()
	stats := []Stat{
		{Name: "lines", Fields: map[string]string{"service": "", "file": "/art/tungsten.log", "kubernetes.pod_name": ""}, Value: "7"},
		{Name: "suppressed", Fields: map[string]string{"service": "", "file": "/art/tungsten.log", "kubernetes.pod_name": ""}, Value: "3"},
		{Name: "lines", Fields: map[string]string{"service": "web", "file": "/art/tungsten.log", "kubernetes.pod_name": "", "sample": "not json"}, Value: "1e3"},
	}
	counts, unattributed := ByComponent(stats)
	require.Equal(t, 10, unattributed)
	require.Equal(t, map[string]Count{"web": {Lines: 1000, Sample: "not json", Filter: `service:="web"`}}, counts)
}

// TestCollect runs Collect against a server answering with the captured
// bodies: the window's query and the baseline's (the one with an offset).
func TestCollect(t *testing.T) {
	t.Parallel()
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/select/logsql/stats_query", r.URL.Path)
		q := r.FormValue("query")
		queries = append(queries, q)
		require.NotEmpty(t, r.FormValue("time"))
		if strings.Contains(q, "offset") {
			_, _ = w.Write(readTestdata(t, "baseline.json"))
			return
		}
		_, _ = w.Write(readTestdata(t, "window.json"))
	}))
	defer srv.Close()
	c := &Client{URL: srv.URL + "/", HTTP: srv.Client()}
	var snap doctor.Snapshot
	require.NoError(t, c.Collect(context.Background(), doctor.Window{Window: 2 * time.Minute, Baseline: 10 * time.Minute}, &snap))
	require.Equal(t, []string{errorQuery("120s"), errorQuery("600s offset 120s")}, queries)
	require.Len(t, snap.LogErrors, 1)
	require.Equal(t, 3, snap.LogErrors[0].Now)
	require.Equal(t, 6, snap.LogErrors[0].Base)
	require.True(t, strings.HasPrefix(snap.LogErrors[0].Reproduce, "curl -s "+srv.URL+"/select/logsql/query --data-urlencode 'query=_time:120s level:=ERROR service:=\"gateway\"' -d time="), snap.LogErrors[0].Reproduce)
	require.Empty(t, snap.Notes)
}

func TestCollectFailures(t *testing.T) {
	t.Parallel()
	t.Run("unreachable", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c := &Client{URL: srv.URL, HTTP: http.DefaultClient}
		var snap doctor.Snapshot
		require.Error(t, c.Collect(context.Background(), doctor.Window{Window: time.Minute, Baseline: 5 * time.Minute}, &snap))
	})
	t.Run("baseline fails", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.FormValue("query"), "offset") {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write(readTestdata(t, "window.json"))
		}))
		defer srv.Close()
		c := &Client{URL: srv.URL, HTTP: srv.Client()}
		var snap doctor.Snapshot
		require.NoError(t, c.Collect(context.Background(), doctor.Window{Window: time.Minute, Baseline: 5 * time.Minute}, &snap))
		require.Empty(t, snap.LogErrors, "no counts without a baseline")
		require.Len(t, snap.Notes, 1)
		require.Contains(t, snap.Notes[0].Summary, "HTTP 503")
	})
	t.Run("oversized answer", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat(" ", maxBody+1)))
		}))
		defer srv.Close()
		c := &Client{URL: srv.URL, HTTP: srv.Client()}
		_, err := c.StatsQuery(context.Background(), "*", time.Now())
		require.ErrorContains(t, err, "over")
	})
}

func FuzzDecodeStats(f *testing.F) {
	for _, name := range []string{"window.json", "baseline.json", "users_down_window.json", "error_422.json"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"lines"},"value":[1,"1e400"]}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		stats, err := DecodeStats(body)
		if err != nil {
			return
		}
		counts, _ := ByComponent(stats)
		for comp, c := range counts {
			require.GreaterOrEqual(t, c.Lines, 0, "%s: negative count", comp)
		}
	})
}
