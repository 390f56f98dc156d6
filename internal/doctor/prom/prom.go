// Package prom is the doctor's Prometheus source: per-service RED now and in
// the baseline, client-side dependency signals and firing alerts, through
// the plain HTTP API.
package prom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tungsten-blog/tungsten/internal/doctor"
	"github.com/tungsten-blog/tungsten/internal/doctor/fetch"
)

// maxBody bounds an answer: a window's vectors over every pod are far smaller.
const maxBody = 32 << 20

// Client queries one Prometheus server.
type Client struct {
	URL  string
	HTTP *http.Client
}

// Sample is one series of an instant vector: its labels and value.
type Sample struct {
	Labels map[string]string
	Value  float64
}

type apiResponse struct {
	Status string          `json:"status"`
	Error  string          `json:"error"`
	Data   json.RawMessage `json:"data"`
}

type vectorData struct {
	ResultType string `json:"resultType"`
	Result     []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	} `json:"result"`
}

// DecodeVector decodes a /api/v1/query response holding an instant vector.
// NaN and Inf values (a histogram without requests) are dropped.
func DecodeVector(body []byte) ([]Sample, error) {
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding response: %w", err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s", r.Error)
	}
	var v vectorData
	if err := json.Unmarshal(r.Data, &v); err != nil {
		return nil, fmt.Errorf("decoding data: %w", err)
	}
	if v.ResultType != "vector" {
		return nil, fmt.Errorf("result type %q, want vector", v.ResultType)
	}
	out := make([]Sample, 0, len(v.Result))
	for _, s := range v.Result {
		str, ok := s.Value[1].(string)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(str, 64)
		if err != nil || f != f || f > 1e300 || f < -1e300 {
			continue
		}
		out = append(out, Sample{Labels: s.Metric, Value: f})
	}
	return out, nil
}

// Query evaluates an instant PromQL query.
func (c *Client) Query(ctx context.Context, q string) ([]Sample, error) {
	u := strings.TrimRight(c.URL, "/") + "/api/v1/query?query=" + url.QueryEscape(q)
	body, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	return DecodeVector(body)
}

func (c *Client) get(ctx context.Context, u string) ([]byte, error) {
	// A bad query is answered 400/422 with a JSON error the decoders report.
	return fetch.Get(ctx, c.HTTP, u, "prometheus", maxBody, http.StatusBadRequest, http.StatusUnprocessableEntity)
}

// DecodeAlerts decodes /api/v1/alerts and returns the firing ones, each
// once per component (its service or target label).
func DecodeAlerts(body []byte) ([]doctor.Alert, error) {
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("decoding alerts: %w", err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s", r.Error)
	}
	var d struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		return nil, fmt.Errorf("decoding alerts: %w", err)
	}
	// One entry per alert and component: an alert fires once per series
	// (per pod, per route), which says nothing more.
	var out []doctor.Alert
	seen := map[doctor.Alert]bool{}
	for _, a := range d.Alerts {
		if a.State != "firing" {
			continue
		}
		comp := a.Labels["service"]
		if comp == "" {
			comp = a.Labels["target"]
		}
		al := doctor.Alert{Name: a.Labels["alertname"], Component: comp}
		if !seen[al] {
			seen[al] = true
			out = append(out, al)
		}
	}
	return out, nil
}

func dur(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

// now and base render a range selector for the window and for the baseline
// (the Baseline before the window, via offset).
func now(w doctor.Window) string  { return "[" + dur(w.Window) + "]" }
func base(w doctor.Window) string { return "[" + dur(w.Baseline) + "] offset " + dur(w.Window) }

// typical renders the baseline of expr (a query with one %[1]s, the range
// selector): the median of its values over the baseline, evaluated once per
// window length (a subquery), so one earlier incident or deploy inside the
// baseline does not pass for normal. An average over the whole baseline did:
// in a CI run the services' restarts just before an error fault put auth's
// baseline error ratio high enough that 50% failing was not three times it.
func typical(expr string, w doctor.Window) string {
	return fmt.Sprintf("quantile_over_time(0.5, (%s)[%s:%s] offset %s)",
		fmt.Sprintf(expr, now(w)), dur(w.Baseline), dur(w.Window), dur(w.Window))
}

// depSignal is one client-side dependency metric the services export.
type depSignal struct {
	datastore, signal, expr string
	floor                   float64
}

// depSignals are grouped by target, the --target a scraped process runs (the
// pod's component label, relabelled by the PodMonitor and the loopback
// stack's scrape config), because the cache and rate-limit metrics belong to
// the process rather than to one of its services: PostgreSQL statements the
// database could not serve, their mean duration and the pool wait time;
// cache and rate-limit store errors (Redis); outbox publish failures and
// consumer errors (NATS). %[1]s is the range selector.
var depSignals = []depSignal{
	{"postgres", "unavailable statements/s", `sum by (target) (rate(tungsten_db_unavailable_total%[1]s))`, 0.05},
	{"postgres", "mean statement duration (s)", `sum by (target) (rate(tungsten_db_statement_duration_seconds_sum%[1]s)) / (sum by (target) (rate(tungsten_db_statement_duration_seconds_count%[1]s)) > 0)`, 0.05},
	{"postgres", "pool wait s/s", `sum by (target) (rate(go_sql_wait_duration_seconds_total%[1]s))`, 0.05},
	{"redis", "cache errors/s", `sum by (target) (rate(tungsten_cache_errors_total%[1]s))`, 0.1},
	{"redis", "rate-limit fallbacks/s", `sum by (target) (rate(tungsten_ratelimit_fallbacks_total%[1]s))`, 0.1},
	{"nats", "outbox publish failures/s", `sum by (target) (rate(tungsten_outbox_publish_failures_total%[1]s))`, 0.02},
	{"nats", "consumer errors/s", `sum by (target) (rate(tungsten_events_consumed_total{outcome="error"}%[1]s))`, 0.02},
}

// The RED queries; %[1]s is the range selector. A step without requests
// has no error ratio or p99 (the comparisons drop the series) rather than a
// NaN the median would sort.
const (
	rateQ = `sum by (service) (rate(tungsten_http_requests_total%[1]s))`
	errQ  = `sum by (service) (rate(tungsten_http_requests_total{code=~"5.."}%[1]s)) / (sum by (service) (rate(tungsten_http_requests_total%[1]s)) > 0)`
	p99Q  = `histogram_quantile(0.99, sum by (service, le) (rate(tungsten_http_request_duration_seconds_bucket%[1]s))) >= 0`
)

// Resident memory per component (the PodMonitor's and the loopback scrape
// config's target label): the largest process now, and the largest of the
// processes' averages over the baseline.
const (
	rssNowQ  = `max by (target) (process_resident_memory_bytes{job="tungsten"})`
	rssBaseQ = `max by (target) (avg_over_time(process_resident_memory_bytes{job="tungsten"}%s))`
)

// collectMemory adds each component's resident memory now and in the baseline.
func (c *Client) collectMemory(ctx context.Context, w doctor.Window, snap *doctor.Snapshot) {
	cur, err := c.Query(ctx, rssNowQ)
	if err != nil {
		snap.Notes = append(snap.Notes, doctor.Evidence{Step: doctor.StepMetrics, Component: doctor.None, Summary: "query failed: " + err.Error(), Reproduce: rssNowQ})
		return
	}
	baseQ := fmt.Sprintf(rssBaseQ, base(w))
	prev, _ := c.Query(ctx, baseQ)
	baseBy := map[string]float64{}
	for _, s := range prev {
		baseBy[s.Labels["target"]] = s.Value
	}
	for _, s := range cur {
		comp := s.Labels["target"]
		if comp == "" {
			continue
		}
		snap.Memory = append(snap.Memory, doctor.Resident{Component: comp, Now: s.Value, Base: baseBy[comp],
			Reproduce: "PromQL: " + rssNowQ + " ; " + baseQ})
	}
}

// Collect fills snap's metrics part. An error means Prometheus could not be
// consulted at all; a failing single query becomes a note.
func (c *Client) Collect(ctx context.Context, w doctor.Window, snap *doctor.Snapshot) error {
	if _, err := c.Query(ctx, "vector(1)"); err != nil {
		return err
	}
	red := map[string]doctor.ServiceRED{}
	set := func(q string, f func(r *doctor.ServiceRED, v float64)) {
		ss, err := c.Query(ctx, q)
		if err != nil {
			snap.Notes = append(snap.Notes, doctor.Evidence{Step: doctor.StepMetrics, Component: doctor.None, Summary: "query failed: " + err.Error(), Reproduce: q})
			return
		}
		for _, s := range ss {
			svc := s.Labels["service"]
			if svc == "" {
				continue
			}
			r := red[svc]
			f(&r, s.Value)
			red[svc] = r
		}
	}
	n, b := now(w), base(w)
	set(fmt.Sprintf(rateQ, n), func(r *doctor.ServiceRED, v float64) { r.Rate = v })
	set(fmt.Sprintf(rateQ, b), func(r *doctor.ServiceRED, v float64) { r.BaseRate = v })
	set(fmt.Sprintf(errQ, n), func(r *doctor.ServiceRED, v float64) { r.ErrRatio = v })
	set(typical(errQ, w), func(r *doctor.ServiceRED, v float64) { r.BaseErrRatio = v })
	set(fmt.Sprintf(p99Q, n), func(r *doctor.ServiceRED, v float64) { r.P99 = v })
	set(typical(p99Q, w), func(r *doctor.ServiceRED, v float64) { r.BaseP99 = v })
	for svc, r := range red {
		r.Reproduce = fmt.Sprintf(`PromQL: %s ; %s ; baselines: %s ; %s`, fmt.Sprintf(errQ, n), fmt.Sprintf(p99Q, n), typical(errQ, w), typical(p99Q, w))
		red[svc] = r
	}
	snap.Services = red

	for _, d := range depSignals {
		cur, err := c.Query(ctx, fmt.Sprintf(d.expr, n))
		if err != nil {
			snap.Notes = append(snap.Notes, doctor.Evidence{Step: doctor.StepMetrics, Component: d.datastore, Summary: "query failed: " + err.Error(), Reproduce: fmt.Sprintf(d.expr, n)})
			continue
		}
		base, _ := c.Query(ctx, typical(d.expr, w))
		baseBy := map[string]float64{}
		for _, s := range base {
			baseBy[s.Labels["target"]] = s.Value
		}
		for _, s := range cur {
			svc := s.Labels["target"]
			if svc == "" {
				continue
			}
			snap.Deps = append(snap.Deps, doctor.Dep{Client: svc, Datastore: d.datastore, Signal: d.signal, Now: s.Value, Base: baseBy[svc], Floor: d.floor,
				Reproduce: "PromQL: " + fmt.Sprintf(d.expr, n) + " ; baseline: " + typical(d.expr, w)})
		}
	}

	c.collectMemory(ctx, w, snap)

	body, err := c.get(ctx, strings.TrimRight(c.URL, "/")+"/api/v1/alerts")
	if err == nil {
		if alerts, err := DecodeAlerts(body); err == nil {
			snap.Alerts = append(snap.Alerts, alerts...)
		}
	}
	return nil
}
