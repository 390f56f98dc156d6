// Package logs is the doctor's log-search source: error lines per component
// in the window and in the baseline, counted by VictoriaLogs (LogsQL over its
// HTTP API, /select/logsql/stats_query).
//
// Tungsten logs JSON through slog and vlagent stores every key as a field
// (ADR 0017): level is "ERROR" for errors, service names the module that
// logged (gateway, auth, users, blog, web — also inside a process serving
// several targets, so an all-in-one process's lines still name their module),
// and suppressed counts the identical errors telemetry's dedupe handler left
// out. A line without a service field (process-level lines: start-up,
// migrations, the shared clients) is given to the component its file
// (<target>.log, the local stack) or its pod (tungsten-<target>-..., the
// cluster) names; a process serving several targets names none, and such
// lines are left out with a note.
package logs

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tungsten-blog/tungsten/internal/doctor"
	"github.com/tungsten-blog/tungsten/internal/doctor/fetch"
)

// Bounds: a stats answer is small (one row per group), so a larger body or
// more groups mean a misconfigured query, not evidence.
const (
	maxBody   = 4 << 20
	maxGroups = 200
	sampleLen = 200
)

// Client queries one VictoriaLogs server.
type Client struct {
	URL  string
	HTTP *http.Client
}

// Stat is one value of a stats_query answer: the stats function's name (the
// `count() name` of the query), the by-fields of its group and the value as
// VictoriaLogs renders it ("12", "NaN", or a string for any()).
type Stat struct {
	Name   string
	Fields map[string]string
	Value  string
}

type apiResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// DecodeStats decodes a /select/logsql/stats_query answer. It has
// Prometheus's instant-vector shape; __name__ is the stats function's name.
func DecodeStats(body []byte) ([]Stat, error) {
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding stats response: %w", err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("victorialogs: %s", r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %q, want vector", r.Data.ResultType)
	}
	out := make([]Stat, 0, len(r.Data.Result))
	for _, s := range r.Data.Result {
		v, ok := s.Value[1].(string)
		if !ok {
			continue
		}
		fields := make(map[string]string, len(s.Metric))
		for k, f := range s.Metric {
			if k != "__name__" {
				fields[k] = f
			}
		}
		out = append(out, Stat{Name: s.Metric["__name__"], Fields: fields, Value: v})
	}
	return out, nil
}

// Count is the error lines of one component.
type Count struct {
	Lines  int
	Sample string
	Filter string // LogsQL filter of its largest group, to list the lines
}

// Group-by fields of the error query: the module, and where the line came
// from for lines without one.
const (
	fieldService = "service"
	fieldFile    = "file"
	fieldPod     = "kubernetes.pod_name"
	fieldSample  = "sample"
)

// sample renders row_any(_msg, error): {"_msg":"...","error":"..."}.
func sample(v string) string {
	var row struct {
		Msg   string `json:"_msg"`
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(v), &row) != nil {
		return v
	}
	if row.Error != "" {
		return row.Msg + ": " + row.Error
	}
	return row.Msg
}

// errorQuery counts error lines per group over `_time:<range>`, e.g. "2m"
// or "10m offset 2m". lines + suppressed is the number of errors logged; the
// sample is one line's message and error attribute.
func errorQuery(timeRange string) string {
	return fmt.Sprintf(`_time:%s level:=ERROR | stats by (%s, %s, %s) count() lines, sum(suppressed) suppressed, row_any(_msg, error) sample | sort by (lines desc) | limit %d`,
		timeRange, fieldService, fieldFile, fieldPod, maxGroups)
}

// ByComponent sums the stats of errorQuery per component. Lines no component
// can be named for are returned as unattributed.
func ByComponent(stats []Stat) (counts map[string]Count, unattributed int) {
	type group struct {
		fields            map[string]string
		lines, suppressed int
		sample            string
	}
	groups := map[string]*group{}
	var keys []string
	for _, s := range stats {
		// row_any's result comes back as a label of every stat of its group.
		key := s.Fields[fieldService] + "\x00" + s.Fields[fieldFile] + "\x00" + s.Fields[fieldPod]
		g := groups[key]
		if g == nil {
			g = &group{fields: s.Fields}
			groups[key] = g
			keys = append(keys, key)
		}
		switch s.Name {
		case "lines":
			g.lines = count(s.Value)
		case "suppressed":
			g.suppressed = count(s.Value)
		}
		if v, ok := s.Fields[fieldSample]; ok {
			g.sample = sample(v)
		}
	}
	sort.Strings(keys)
	counts = map[string]Count{}
	top := map[string]int{}
	for _, k := range keys {
		g := groups[k]
		n := g.lines + g.suppressed
		comp := Component(g.fields)
		if comp == "" {
			unattributed += n
			continue
		}
		c := counts[comp]
		c.Lines += n
		if best, ok := top[comp]; !ok || g.lines > best {
			top[comp] = g.lines
			c.Sample = truncate(g.sample, sampleLen)
			c.Filter = filter(g.fields)
		}
		counts[comp] = c
	}
	return counts, unattributed
}

// count parses a count or a sum; NaN (sum over a field no line has) is 0.
func count(v string) int {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 0 {
		return 0
	}
	return int(min(f, math.MaxInt32))
}

var services = []string{"gateway", "auth", "users", "blog", "web"}

// Component names the doctor component of a group of lines: its service
// field, else its file (<target>.log), else its pod (tungsten-<target>-...).
func Component(fields map[string]string) string {
	if s := fields[fieldService]; s != "" {
		if slices.Contains(services, s) {
			return s
		}
		return ""
	}
	if f := fields[fieldFile]; f != "" {
		name := strings.TrimSuffix(path.Base(f), ".log")
		if slices.Contains(services, name) {
			return name
		}
	}
	if p := fields[fieldPod]; p != "" {
		// tungsten-<target>-<replicaset>-<pod>: a multi-target pod
		// (tungsten-auth-users-...) has a target second too, so only a lone
		// one counts.
		parts := strings.Split(strings.TrimPrefix(p, "tungsten-"), "-")
		if len(parts) >= 1 && slices.Contains(services, parts[0]) && (len(parts) < 2 || !slices.Contains(services, parts[1])) {
			return parts[0]
		}
	}
	return ""
}

// filter is the LogsQL filter selecting one group's lines.
func filter(fields map[string]string) string {
	if s := fields[fieldService]; s != "" {
		return fieldService + ":=" + strconv.Quote(s)
	}
	f := fieldService + `:=""`
	if v := fields[fieldFile]; v != "" {
		f += " " + fieldFile + ":=" + strconv.Quote(v)
	}
	if v := fields[fieldPod]; v != "" {
		f += " " + fieldPod + ":=" + strconv.Quote(v)
	}
	return f
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// StatsQuery runs a LogsQL stats query evaluated at end.
func (c *Client) StatsQuery(ctx context.Context, q string, end time.Time) ([]Stat, error) {
	form := url.Values{"query": {q}, "time": {strconv.FormatInt(end.Unix(), 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base()+"/select/logsql/stats_query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// A bad query is answered 400/422 with a JSON error DecodeStats reports.
	body, err := fetch.Body(c.HTTP, req, "victorialogs", maxBody, http.StatusBadRequest, http.StatusUnprocessableEntity)
	if err != nil {
		return nil, err
	}
	return DecodeStats(body)
}

func (c *Client) base() string { return strings.TrimRight(c.URL, "/") }

func dur(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

// Collect fills snap's log-search part: error lines per component now and in
// the baseline (scaled to the window's length). An error means VictoriaLogs
// could not be consulted at all; a failing baseline query becomes a note and
// no counts (without a baseline every component would look anomalous).
func (c *Client) Collect(ctx context.Context, w doctor.Window, snap *doctor.Snapshot) error {
	end := time.Now()
	nowQ := errorQuery(dur(w.Window))
	cur, err := c.StatsQuery(ctx, nowQ, end)
	if err != nil {
		return err
	}
	baseQ := errorQuery(dur(w.Baseline) + " offset " + dur(w.Window))
	base, err := c.StatsQuery(ctx, baseQ, end)
	if err != nil {
		snap.Notes = append(snap.Notes, doctor.Evidence{Step: doctor.StepLogSearch, Component: doctor.None,
			Summary: "baseline query failed: " + err.Error(), Reproduce: c.curl("stats_query", baseQ, end, 0)})
		return nil
	}
	errs, unattributed := LogErrors(cur, base, w, func(f string) string {
		return c.curl("query", "_time:"+dur(w.Window)+" level:=ERROR "+f, end, 20)
	})
	snap.LogErrors = append(snap.LogErrors, errs...)
	if unattributed > 0 {
		snap.Notes = append(snap.Notes, doctor.Evidence{Step: doctor.StepLogSearch, Component: doctor.None,
			Summary:   fmt.Sprintf("%d error lines of processes serving several targets, not attributed to a component", unattributed),
			Reproduce: c.curl("stats_query", nowQ, end, 0)})
	}
	return nil
}

// LogErrors turns the window's and the baseline's stats (of errorQuery) into
// one LogErrors per component that logged errors in the window, the
// baseline scaled to the window's length. reproduce renders the command
// listing a component's lines from a LogsQL filter. It also returns the
// window's unattributed lines.
func LogErrors(cur, base []Stat, w doctor.Window, reproduce func(filter string) string) ([]doctor.LogErrors, int) {
	now, unattributed := ByComponent(cur)
	before, _ := ByComponent(base)
	scale := 0.0
	if w.Baseline > 0 {
		scale = float64(w.Window) / float64(w.Baseline)
	}
	out := make([]doctor.LogErrors, 0, len(now))
	for _, comp := range sortedKeys(now) {
		n := now[comp]
		if n.Lines == 0 {
			continue
		}
		out = append(out, doctor.LogErrors{
			Component: comp, Now: n.Lines, Base: int(math.Round(float64(before[comp].Lines) * scale)),
			Sample: n.Sample, Step: doctor.StepLogSearch, Reproduce: reproduce(n.Filter),
		})
	}
	return out, unattributed
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// curl renders a runnable command for one query at end (limit > 0 bounds the
// lines of /select/logsql/query).
func (c *Client) curl(endpoint, q string, end time.Time, limit int) string {
	cmd := fmt.Sprintf("curl -s %s/select/logsql/%s --data-urlencode %s -d time=%d", c.base(), endpoint, shellQuote("query="+q), end.Unix())
	if limit > 0 {
		cmd += fmt.Sprintf(" -d limit=%d", limit)
	}
	return cmd
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
