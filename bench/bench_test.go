package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/loadgen"
)

// Every scenario's request reaches the ceiling answer captured for that
// scenario, byte for byte, with its status: otherwise the ratios compare
// different work.
func TestCeilingAnswersEveryScenarioWithItsOwnBytes(t *testing.T) {
	t.Parallel()
	answers := map[string]captured{}
	names := append(loadgen.ScenarioNames(), "browse")
	for _, n := range names {
		answers[n] = captured{Status: http.StatusOK, ContentType: "application/json", Body: []byte(`{"scenario":"` + n + `"}`)}
	}
	answers["publish"] = captured{Status: http.StatusCreated, ContentType: "application/json", Body: []byte(`{"scenario":"publish"}`)}
	srv := httptest.NewServer(ceilingHandler(answers))
	t.Cleanup(srv.Close)
	ds := &loadgen.Dataset{Users: []loadgen.User{{Username: "kim", Email: "kim@example.com", Password: "pw-12345678", Token: "tok"}},
		Slugs: []string{"hello-1"}, Tags: []string{"go"}, Categories: []string{"technology"}, SearchWords: loadgen.SearchWords()}
	for _, n := range loadgen.ScenarioNames() {
		if n == "read" {
			continue // article or comments, both checked on their own
		}
		t.Run(n, func(t *testing.T) {
			for range 6 { // browse and favorite vary their requests
				req, err := loadgen.Sample(srv.URL, ds, n)
				require.NoError(t, err)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				require.Equal(t, `{"scenario":"`+n+`"}`, string(body), "%s %s", req.Method, req.URL)
				require.Equal(t, answers[n].Status, resp.StatusCode)
			}
		})
	}
}

func TestParseRates(t *testing.T) {
	t.Parallel()
	got, err := parseRates("100, 250,500")
	require.NoError(t, err)
	require.Equal(t, []int{100, 250, 500}, got)
	for _, bad := range []string{"0", "-5", "fast"} {
		_, err := parseRates(bad)
		require.Error(t, err, bad)
	}
}

func TestMarkdownShowsRatiosToTheCeiling(t *testing.T) {
	t.Parallel()
	res := &results{Workers: 32, Duration: "10s", SweepDuration: "10s", Endpoints: []string{"list"}, Rates: []int{100}, byName: map[string]*shapeResult{}}
	res.add(&shapeResult{Name: "ceiling", Closed: map[string]loadgen.Stats{"list": {Throughput: 1000}}, Open: []openPoint{{Rate: 100}}})
	res.add(&shapeResult{Name: "all-in-one", Closed: map[string]loadgen.Stats{"list": {Throughput: 250}}, Open: []openPoint{{Rate: 100}}})
	md := markdown(res)
	require.Contains(t, md, "| list | 1000 |")
	require.True(t, strings.Contains(md, "| 25.0% |"), md)
}
