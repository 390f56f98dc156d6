// Package promcheck evaluates Tungsten's dashboards and rules against a real Prometheus:
// every panel's query runs without error and returns data, and every metric selector in it
// matches scraped series (the "No data" bug: a name or label the services never expose, or
// a relabelling that drops it). test/observability runs it against processes on loopback,
// test/cluster against the pods of a real cluster.
package promcheck

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// GrafanaVars are what the dashboards' template variables stand for in a check.
var GrafanaVars = strings.NewReplacer(
	"$__rate_interval", "1m", "$__interval", "15s", "$__range", "15m",
	"${service}", ".+", "$service", ".+",
)

type result struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

type vectorData struct {
	ResultType string            `json:"resultType"`
	Result     []json.RawMessage `json:"result"`
}

// Query runs an instant query; it fails on an error (a parse error is one) and returns the
// number of series.
func Query(promURL, q string) (int, error) {
	var r result
	err := GetJSON(promURL+"/api/v1/query?query="+url.QueryEscape(q), &r)
	if r.Status == "error" {
		return 0, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	if err != nil {
		return 0, err
	}
	var d vectorData
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return 0, fmt.Errorf("decoding result: %w", err)
	}
	if d.ResultType == "scalar" {
		return 1, nil
	}
	return len(d.Result), nil
}

// Vector runs an instant query and returns each series' labels and value.
func Vector(promURL, q string) ([]Sample, error) {
	var r result
	err := GetJSON(promURL+"/api/v1/query?query="+url.QueryEscape(q), &r)
	if r.Status == "error" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	if err != nil {
		return nil, err
	}
	var d struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return nil, fmt.Errorf("decoding result: %w", err)
	}
	if d.ResultType != "vector" {
		return nil, fmt.Errorf("%s: a %s, not a vector", q, d.ResultType)
	}
	out := make([]Sample, 0, len(d.Result))
	for _, s := range d.Result {
		v, _ := s.Value[1].(string)
		out = append(out, Sample{Labels: s.Metric, Value: v})
	}
	return out, nil
}

// Sample is one series of an instant vector: its labels and its value as Prometheus wrote it.
type Sample struct {
	Labels map[string]string
	Value  string
}

type panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

// Options tune the checks.
type Options struct {
	// AbsentValuesOK accepts a selector that matches no series when its metric was scraped
	// with every label it names (its values may simply not have occurred: no 5xx on a
	// healthy cluster); the query itself must still return data. Without it, every selector
	// must match series (test/observability drives the error paths).
	AbsentValuesOK bool
}

// CheckDashboards runs CheckExpr, wanting data, on every query of every panel (those of
// collapsed rows too) of the Grafana dashboards in dir, a subtest per panel.
func CheckDashboards(t *testing.T, promURL, dir string, opts ...Options) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no dashboards in %s", dir)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var d struct {
			Title  string  `json:"title"`
			Panels []panel `json:"panels"`
		}
		require.NoError(t, json.Unmarshal(b, &d), f)
		var all []panel
		for _, p := range d.Panels {
			all = append(all, p)
			all = append(all, p.Panels...) // panels of collapsed rows
		}
		n := 0
		for _, p := range all {
			if p.Type == "row" {
				continue
			}
			n++
			t.Run(d.Title+"/"+p.Title, func(t *testing.T) {
				require.NotEmpty(t, p.Targets, "panel has no query")
				for _, tg := range p.Targets {
					checkExpr(t, promURL, GrafanaVars.Replace(tg.Expr), true, o)
				}
			})
		}
		t.Logf("%s (%s): %d panels", d.Title, filepath.Base(f), n)
	}
}

// CheckExpr requires expr to evaluate without error and, when wantData, to return series;
// and every metric selector in it to match series scraped in the last 15 minutes.
func CheckExpr(t *testing.T, promURL, expr string, wantData bool) {
	t.Helper()
	checkExpr(t, promURL, expr, wantData, Options{})
}

func checkExpr(t *testing.T, promURL, expr string, wantData bool, o Options) {
	t.Helper()
	n, err := Query(promURL, expr)
	require.NoError(t, err, "query fails:\n%s", expr)
	if wantData {
		require.Positive(t, n, "query returns no data:\n%s", expr)
	}
	for _, sel := range Selectors(expr) {
		n, err := Query(promURL, "present_over_time("+sel+"[15m])")
		require.NoError(t, err, "selector %s", sel)
		if n == 0 && o.AbsentValuesOK {
			labels := LabelsOnly(sel)
			n, err = Query(promURL, "present_over_time("+labels+"[15m])")
			require.NoError(t, err, "selector %s", labels)
			if n > 0 {
				t.Logf("selector %s: no series with these values, but %s was scraped", sel, labels)
			}
		}
		require.Positive(t, n, "selector %s matches no scraped series (in:\n%s)", sel, expr)
	}
}

var matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"`)

// LabelsOnly turns a selector into one that matches its metric whenever it carries the
// labels the selector's positive matchers name, whatever their values:
// m{a="x",b=~"y",c!="z"} becomes m{a!="",b!=""}; a __name__ matcher is kept.
func LabelsOnly(sel string) string {
	name, body, ok := strings.Cut(sel, "{")
	if !ok {
		return sel
	}
	var parts []string
	for _, m := range matcherRE.FindAllStringSubmatch(body, -1) {
		switch {
		case m[1] == "__name__":
			parts = append(parts, m[0]) // the metric stays the one named
		case m[2] == "=" || m[2] == "=~":
			parts = append(parts, m[1]+`!=""`)
		}
	}
	if name == "" && len(parts) == 0 {
		return sel
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// GetJSON decodes the JSON answer of GET u into out; a status other than 200 is an error
// (out is still decoded, for Prometheus' error bodies).
func GetJSON(u string, out any) error {
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(u)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("GET %s: %d %s", u, res.StatusCode, b)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return nil
}
