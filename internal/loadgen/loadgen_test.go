package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func TestTraceparentIsW3CTraceContext(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)
	seen := map[string]bool{}
	for range 100 {
		tp := Traceparent()
		require.Regexp(t, re, tp)
		require.False(t, seen[tp], "every request starts its own trace")
		seen[tp] = true
	}
	tests := []struct {
		name         string
		hi, lo, span uint64
		want         string
	}{
		{"plain", 0x0102030405060708, 0x090a0b0c0d0e0f10, 0xa1a2a3a4a5a6a7a8, "00-0102030405060708090a0b0c0d0e0f10-a1a2a3a4a5a6a7a8-01"},
		{"all-zero ids are invalid, so they are replaced", 0, 0, 0, "00-00000000000000000000000000000001-0000000000000001-01"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, formatTraceparent(tc.hi, tc.lo, tc.span))
		})
	}
}

func TestParseMix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		want    string // String() of the mix, or the error text
		wantErr bool
	}{
		{spec: "list=3,article=1", want: "list=3,article=1"},
		{spec: " list = 2 , tags ", want: "list=2,tags=1"},
		{spec: "list=1,login=0", want: "list=1"},
		{spec: "", want: "empty", wantErr: true},
		{spec: "list=0", want: "empty", wantErr: true},
		{spec: "lists=1", want: `unknown scenario "lists"`, wantErr: true},
		{spec: "list=-1", want: "not a whole number", wantErr: true},
		{spec: "list=x", want: "not a whole number", wantErr: true},
		{spec: "list=1,list=2", want: "named twice", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			m, err := ParseMix(tc.spec)
			if tc.wantErr {
				require.ErrorContains(t, err, tc.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, m.String())
		})
	}
}

func TestMixPicksInProportionToWeights(t *testing.T) {
	t.Parallel()
	m := MustMix("list=3,article=1,publish=6")
	counts := map[string]int{}
	for r := range m.total {
		counts[m.pick(r).Name]++
	}
	require.Equal(t, map[string]int{"list": 3, "article": 1, "publish": 6}, counts, "each weight covers exactly its share of [0, total)")
	require.InDelta(t, 0.6, m.WriteShare(), 1e-9)
	require.InDelta(t, 0.3, m.Share()["list"], 1e-9)
}

func TestDefaultMixIsNinetyTenReadWrite(t *testing.T) {
	t.Parallel()
	m := MustMix(DefaultMix)
	require.InDelta(t, 0.10, m.WriteShare(), 1e-9)
}

func TestThresholds(t *testing.T) {
	t.Parallel()
	s := Stats{Requests: 1000, Errors: 5, ErrorRatio: 0.005, P95: Millis(20 * time.Millisecond), P99: Millis(40 * time.Millisecond)}
	tests := []struct {
		name string
		th   Thresholds
		s    Stats
		want []string
	}{
		{"within every threshold", Thresholds{P95: 25 * time.Millisecond, P99: 50 * time.Millisecond, MaxErrorRatio: 0.01}, s, nil},
		{"p95 too slow", Thresholds{P95: 10 * time.Millisecond, MaxErrorRatio: -1}, s, []string{"p95 20.0ms is above 10.0ms"}},
		{"p99 too slow", Thresholds{P99: 30 * time.Millisecond, MaxErrorRatio: -1}, s, []string{"p99 40.0ms is above 30.0ms"}},
		{"too many errors", Thresholds{MaxErrorRatio: 0.001}, s, []string{"error ratio 0.0050 (5 of 1000) is above 0.0010"}},
		{"zero latency and negative ratio are unchecked", Thresholds{MaxErrorRatio: -1}, Stats{Requests: 1, Errors: 1, ErrorRatio: 1, P99: Millis(time.Hour)}, nil},
		{"a run without requests fails", Thresholds{}, Stats{}, []string{"no request was sent"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Total: tc.s}
			require.Equal(t, len(tc.want) == 0, tc.th.Check(r))
			require.Equal(t, tc.want, r.Violations)
		})
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	t.Parallel()
	cfg := DefaultSeedConfig()
	cfg.Users, cfg.Articles, cfg.Comments = 10, 40, 100
	cats := []string{"technology", "life"}
	a := NewPlan(cfg, "t1", cats)
	b := NewPlan(cfg, "t1", cats)
	require.Equal(t, a, b, "the same seed gives the same data set")
	cfg.Seed = 2
	c := NewPlan(cfg, "t1", cats)
	require.NotEqual(t, a.Articles, c.Articles, "another seed gives another data set")

	require.Len(t, a.Usernames, 10)
	require.Len(t, a.Articles, 40)
	require.Len(t, a.Comments, 100)
	require.Len(t, a.Follows, 10*5)
	require.Len(t, a.Favorites, 10*10)
	titles := map[string]bool{}
	hangul, latin, withCategory := 0, 0, 0
	for _, art := range a.Articles {
		require.False(t, titles[art.Title], "titles are unique: %s", art.Title)
		titles[art.Title] = true
		require.NotEmpty(t, art.TagList)
		require.LessOrEqual(t, len(art.TagList), 4)
		if strings.ContainsFunc(art.Title, func(r rune) bool { return unicode.Is(unicode.Hangul, r) }) {
			hangul++
		} else {
			latin++
		}
		if art.Category != nil {
			withCategory++
			require.Contains(t, cats, *art.Category)
		}
	}
	require.Positive(t, hangul, "some articles are Korean")
	require.Positive(t, latin, "some articles are English")
	require.Positive(t, withCategory)
	for _, f := range a.Follows {
		require.NotEqual(t, f[0], f[1], "nobody follows themselves")
	}
}

func TestSeedConfigValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, DefaultSeedConfig().Validate())
	bad := DefaultSeedConfig()
	bad.Users, bad.Articles, bad.Concurrency = 1, 0, 0
	err := bad.Validate()
	require.ErrorContains(t, err, "users must be at least 2")
	require.ErrorContains(t, err, "articles must be at least 1")
	require.ErrorContains(t, err, "concurrency")
}

func TestScenariosBuildValidRequests(t *testing.T) {
	t.Parallel()
	st := &state{base: "http://127.0.0.1:1", ds: &Dataset{
		Users: []User{{Username: "kim", Email: "kim@example.com", Password: "pw-12345678", Token: "tok"}},
		Slugs: []string{"hello"}, Tags: []string{"쿠버네티스"}, Categories: []string{"technology"}, SearchWords: SearchWords(),
	}}
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			var tg vegeta.Target
			sc.fill(st, &tg)
			req, err := tg.Request()
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(req.URL.Path, "/api/"), req.URL.String())
			require.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`, req.Header.Get("Traceparent"))
			if sc.Write && sc.Name != "login" {
				require.Equal(t, "Token tok", req.Header.Get("Authorization"))
			}
			if len(tg.Body) > 0 {
				require.True(t, json.Valid(tg.Body))
				require.Equal(t, "application/json", req.Header.Get("Content-Type"))
			}
		})
	}
}

func TestScenarioTravelsInTheFragment(t *testing.T) {
	t.Parallel()
	require.Equal(t, "list", scenarioOf("http://h/api/articles?limit=1#list"))
	require.Equal(t, "?", scenarioOf("http://h/api/articles"))
	req, err := http.NewRequest(http.MethodGet, "http://h/api/articles?x=1#list", nil)
	require.NoError(t, err)
	require.Equal(t, "/api/articles?x=1", req.URL.RequestURI(), "the fragment is not sent")
}

func TestReportTableAndJSON(t *testing.T) {
	t.Parallel()
	r := &Report{Mode: "open", Rate: 100, Duration: time.Minute, Mix: "list=1",
		Total:     Stats{Name: "total", Requests: 10, Errors: 1, Statuses: map[string]int{"200": 9, "0": 1}},
		Scenarios: []Stats{{Name: "list", Requests: 10, Errors: 1, Statuses: map[string]int{"200": 9, "0": 1}, Samples: []string{"connection refused"}}},
	}
	Thresholds{MaxErrorRatio: 0}.Check(&Report{Total: r.Total})
	r.Violations = []string{"error ratio too high"}
	var buf bytes.Buffer
	require.NoError(t, r.WriteTable(&buf))
	require.Contains(t, buf.String(), "open loop at 100 req/s")
	require.Contains(t, buf.String(), "no answer ×1")
	require.Contains(t, buf.String(), "FAILED thresholds")
	buf.Reset()
	require.NoError(t, r.WriteJSON(&buf))
	var back Report
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	require.Equal(t, uint64(10), back.Total.Requests)
}

func TestRunValidate(t *testing.T) {
	t.Parallel()
	_, err := Run(context.Background(), RunConfig{BaseURL: "http://x", Rate: 1, Workers: 1, Duration: time.Second, Mix: MustMix("list")}, nil)
	require.ErrorContains(t, err, "exactly one of rate")
	_, err = Run(context.Background(), RunConfig{BaseURL: "http://x", Rate: 1, Duration: time.Second, Mix: MustMix("list")}, &Dataset{})
	require.ErrorContains(t, err, "at least one user")
}
