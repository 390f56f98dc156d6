// Package traces is the doctor's trace source: the failing or slow hop of
// recent traces, by the component it names, read from Jaeger's query HTTP
// API (/api/services, /api/traces).
//
// A trace with an error span names the component of its deepest error span;
// a slow trace without one names the component of the span with the largest
// self time (its duration minus its children's). A span's component is, in
// order: the datastore its attributes name (db.system.name postgresql or
// redis, messaging.system nats); for a client span, the neighbour it calls
// (peer.service, which Tungsten's HTTP client and the gateway's hop spans
// carry), since a failing or slow client span with no deeper span is the
// neighbour not answering; else the service of its process (service.name
// tungsten-<target>), or, in a process serving several targets, the module
// its tracer is named after (otel.scope.name .../internal/<module>).
//
// Traces are fetched per Tungsten service, bounded (the latest and the slow
// ones apart, Limit each), in the window and in the baseline before it: a
// component is reported only when at least MinTraces of the window's name
// it, a share above HopFactor times its share of the baseline's, so the
// steady slow hop of a healthy system (a password hash at login) or a lone
// failure is not an incident.
package traces

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tungsten-blog/tungsten/internal/doctor"
	"github.com/tungsten-blog/tungsten/internal/doctor/fetch"
)

// Bounds and thresholds.
const (
	Limit     = 50  // traces per service and query
	MinTraces = 3   // traces naming a component in the window, at least
	HopFactor = 3.0 // ... and above this times the scaled baseline
	SlowMS    = 1000 * doctor.P99Floor
	maxBody   = 32 << 20
	maxSpans  = 10000 // spans of one trace considered
)

// Client queries one Jaeger query service.
type Client struct {
	URL  string
	HTTP *http.Client
}

// Trace is one trace as Jaeger's API returns it.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
}

// Span is one span; times are microseconds.
type Span struct {
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	StartTime     int64       `json:"startTime"`
	Duration      int64       `json:"duration"`
	Tags          []KeyValue  `json:"tags"`
	Logs          []Log       `json:"logs"`
	ProcessID     string      `json:"processID"`
}

// Reference links a span to its parent (CHILD_OF) or a cause (FOLLOWS_FROM).
type Reference struct {
	RefType string `json:"refType"`
	SpanID  string `json:"spanID"`
}

// Log is a span event; an error's carries exception.message.
type Log struct {
	Fields []KeyValue `json:"fields"`
}

// KeyValue is a tag; Value is a string, bool or number.
type KeyValue struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// Process is the resource of a span.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

type response[T any] struct {
	Data   T `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

func decode[T any](body []byte, what string) (T, error) {
	var r response[T]
	if err := json.Unmarshal(body, &r); err != nil {
		return r.Data, fmt.Errorf("decoding %s: %w", what, err)
	}
	if len(r.Errors) > 0 {
		return r.Data, fmt.Errorf("jaeger: %s", r.Errors[0].Msg)
	}
	return r.Data, nil
}

// DecodeServices decodes /api/services.
func DecodeServices(body []byte) ([]string, error) { return decode[[]string](body, "services") }

// DecodeTraces decodes /api/traces and /api/traces/{id}.
func DecodeTraces(body []byte) ([]Trace, error) { return decode[[]Trace](body, "traces") }

// Finding is what one trace names.
type Finding struct {
	Component string
	Error     bool
	SelfMS    float64
	TraceID   string
}

func tag(tags []KeyValue, key string) string {
	for _, t := range tags {
		if t.Key == key {
			switch v := t.Value.(type) {
			case string:
				return v
			case bool:
				return strconv.FormatBool(v)
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64)
			}
			return ""
		}
	}
	return ""
}

// isError reports whether a span failed. A Redis server's "ERR unknown
// command/subcommand" reply is not a failure: go-redis probes CLIENT SETINFO
// and CLIENT MAINT_NOTIFICATIONS on every new connection and records the
// refusal of a server that predates them as an error span, in healthy
// traces.
func isError(s *Span) bool {
	if tag(s.Tags, "error") != "true" && tag(s.Tags, "otel.status_code") != "ERROR" {
		return false
	}
	for _, l := range s.Logs {
		if strings.HasPrefix(tag(l.Fields, "exception.message"), "ERR unknown ") {
			return false
		}
	}
	return true
}

var components = []string{"gateway", "auth", "users", "blog", "web"}

// SpanComponent names the component a span stands for ("" when none).
func SpanComponent(s *Span, p Process) string {
	// db.system.name is the current convention, db.system the older one.
	db := tag(s.Tags, "db.system.name")
	if db == "" {
		db = tag(s.Tags, "db.system")
	}
	switch db {
	case "postgresql":
		return "postgres"
	case "redis":
		return "redis"
	}
	if tag(s.Tags, "messaging.system") == "nats" {
		return "nats"
	}
	if tag(s.Tags, "span.kind") == "client" {
		if peer := tag(s.Tags, "peer.service"); slices.Contains(components, peer) {
			return peer
		}
	}
	return ServiceComponent(p.ServiceName, tag(s.Tags, "otel.scope.name"))
}

// ServiceComponent maps a service.name (tungsten-<target>, or
// tungsten-<t1>-<t2> and tungsten for processes serving several) to a
// component; for the latter, the tracer's scope (…/internal/<module>) says
// which module made the span.
func ServiceComponent(service, scope string) string {
	if t, ok := strings.CutPrefix(service, "tungsten-"); ok && slices.Contains(components, t) {
		return t
	}
	if !strings.HasPrefix(service, "tungsten") {
		return ""
	}
	if i := strings.LastIndex(scope, "/internal/"); i >= 0 {
		if m := scope[i+len("/internal/"):]; slices.Contains(components, m) {
			return m
		}
	}
	return ""
}

// Analyze names the hop of one trace: the deepest error span's component,
// or, for a trace whose root spans last at least slowMS, the component of
// the span with the largest self time within them. ok is false for a fast
// trace without errors or one whose hop names no component.
func Analyze(tr Trace, slowMS float64) (f Finding, ok bool) {
	spans := tr.Spans
	if len(spans) > maxSpans {
		spans = spans[:maxSpans]
	}
	idx := make(map[string]int, len(spans))
	for i := range spans {
		idx[spans[i].SpanID] = i
	}
	parent := make([]int, len(spans))
	children := make([][]int, len(spans))
	for i := range spans {
		parent[i] = -1
		for _, r := range spans[i].References {
			if j, found := idx[r.SpanID]; found && r.RefType == "CHILD_OF" && j != i {
				parent[i] = j
				children[j] = append(children[j], i)
				break
			}
		}
	}
	// Depths from the roots down; spans of a reference cycle (a broken
	// trace) are never reached and stay at 0.
	depth := make([]int, len(spans))
	var queue []int
	for i := range spans {
		if parent[i] < 0 {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		for _, c := range children[i] {
			depth[c] = depth[i] + 1
			queue = append(queue, c)
		}
	}
	lo, hi := extent(spans, parent)
	best, bestDepth := -1, -1
	for i := range spans {
		if !isError(&spans[i]) {
			continue
		}
		if d := depth[i]; d > bestDepth || (d == bestDepth && spans[i].StartTime < spans[best].StartTime) {
			best, bestDepth = i, d
		}
	}
	if best >= 0 {
		comp := SpanComponent(&spans[best], tr.Processes[spans[best].ProcessID])
		return Finding{Component: comp, Error: true, SelfMS: selfMS(spans, children, best, lo, hi), TraceID: tr.TraceID}, comp != ""
	}

	if len(spans) == 0 || float64(hi-lo)/1000 < slowMS {
		return Finding{}, false
	}
	bestSelf := -1.0
	for i := range spans {
		if s := selfMS(spans, children, i, lo, hi); s > bestSelf {
			best, bestSelf = i, s
		}
	}
	if best < 0 {
		return Finding{}, false
	}
	comp := SpanComponent(&spans[best], tr.Processes[spans[best].ProcessID])
	return Finding{Component: comp, SelfMS: bestSelf, TraceID: tr.TraceID}, comp != ""
}

// selfMS is a span's duration minus the time its children cover within it
// (children overlapping each other count once), both clipped to [lo, hi]:
// the request's time, so asynchronous work outliving it (a consumer of an
// event the request published) counts only up to its end.
func selfMS(spans []Span, children [][]int, i int, lo, hi int64) float64 {
	start, end := max(spans[i].StartTime, lo), min(spans[i].StartTime+max(spans[i].Duration, 0), hi)
	if end <= start {
		return 0
	}
	type iv struct{ a, b int64 }
	var ivs []iv
	for _, c := range children[i] {
		a, b := max(spans[c].StartTime, start), min(spans[c].StartTime+max(spans[c].Duration, 0), end)
		if b > a {
			ivs = append(ivs, iv{a, b})
		}
	}
	sort.Slice(ivs, func(x, y int) bool { return ivs[x].a < ivs[y].a })
	covered, cur := int64(0), start
	for _, v := range ivs {
		a := max(v.a, cur)
		if v.b > a {
			covered += v.b - a
			cur = v.b
		}
	}
	return float64(end-start-covered) / 1000
}

// extent is the request's time: first start to last end of the root spans
// (those without a parent in the trace).
func extent(spans []Span, parent []int) (lo, hi int64) {
	lo, hi = math.MaxInt64, math.MinInt64
	for i, s := range spans {
		if parent[i] < 0 {
			lo = min(lo, s.StartTime)
			hi = max(hi, s.StartTime+max(s.Duration, 0))
		}
	}
	return lo, hi
}

// Hops aggregates the findings of the window's traces into at most one Hop
// per component: the kind (error or slow) most of its traces show, the
// trace with the largest self time of that kind as the representative. A
// component is reported when at least MinTraces of the nowTraces fetched in
// the window name it, and a share of them above HopFactor times its share
// of the baseTraces fetched in the baseline (shares, not counts: the fetch
// is bounded, so on a busy system both samples are full). Without baseline
// traces only a failing hop is reported: slow means nothing without normal.
// reproduce renders the command showing a trace.
func Hops(now, base []Finding, nowTraces, baseTraces int, reproduce func(traceID string) string) []doctor.Hop {
	type agg struct {
		n        [2]int // slow, error
		rep      [2]Finding
		repFound [2]bool
	}
	by := map[string]*agg{}
	for _, f := range now {
		a := by[f.Component]
		if a == nil {
			a = &agg{}
			by[f.Component] = a
		}
		k := 0
		if f.Error {
			k = 1
		}
		a.n[k]++
		if !a.repFound[k] || f.SelfMS > a.rep[k].SelfMS || (f.SelfMS == a.rep[k].SelfMS && f.TraceID < a.rep[k].TraceID) {
			a.rep[k], a.repFound[k] = f, true
		}
	}
	baseN := map[string]int{}
	for _, f := range base {
		baseN[f.Component]++
	}
	share := func(n, of int) float64 {
		if of <= 0 {
			return 0
		}
		return float64(n) / float64(of)
	}
	var out []doctor.Hop
	for comp, a := range by {
		n := a.n[0] + a.n[1]
		if n < MinTraces || share(n, max(nowTraces, n)) <= HopFactor*share(baseN[comp], baseTraces) {
			continue
		}
		k := 0
		if a.n[1] >= a.n[0] {
			k = 1
		}
		// Slow is relative to the baseline's traces; with none (a fresh
		// system) only failing hops are evidence.
		if baseTraces == 0 && k == 0 {
			continue
		}
		r := a.rep[k]
		out = append(out, doctor.Hop{Component: comp, Error: r.Error, SelfMS: math.Round(r.SelfMS*10) / 10, TraceID: r.TraceID, Reproduce: reproduce(r.TraceID)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Component < out[j].Component })
	return out
}

func (c *Client) base() string { return strings.TrimRight(c.URL, "/") }

func (c *Client) get(ctx context.Context, u string) ([]byte, error) {
	// Jaeger answers a bad query 400 with a JSON error the decoders report.
	return fetch.Get(ctx, c.HTTP, u, "jaeger", maxBody, http.StatusBadRequest)
}

// Services lists the services Jaeger holds traces of.
func (c *Client) Services(ctx context.Context) ([]string, error) {
	body, err := c.get(ctx, c.base()+"/api/services")
	if err != nil {
		return nil, err
	}
	return DecodeServices(body)
}

// query is one /api/traces search: the latest traces, or the slow ones
// (apart, so that a busy window's fast traces do not crowd them out).
// Jaeger v2 cannot search by status (the error tag is derived, not stored),
// so errors are found among the latest.
func (c *Client) query(service string, start, end time.Time, slowOnly bool) string {
	v := url.Values{
		"service": {service},
		"start":   {strconv.FormatInt(start.UnixMicro(), 10)},
		"end":     {strconv.FormatInt(end.UnixMicro(), 10)},
		"limit":   {strconv.Itoa(Limit)},
	}
	if slowOnly {
		v.Set("minDuration", strconv.Itoa(int(SlowMS))+"ms")
	}
	return c.base() + "/api/traces?" + v.Encode()
}

// fetch finds the hops of the traces of services in [start, end) and
// counts the distinct traces fetched. Failing searches are returned as notes.
func (c *Client) fetch(ctx context.Context, services []string, start, end time.Time) ([]Finding, int, []doctor.Evidence) {
	seen := map[string]bool{}
	var found []Finding
	var notes []doctor.Evidence
	for _, svc := range services {
		for _, slowOnly := range []bool{false, true} {
			u := c.query(svc, start, end, slowOnly)
			body, err := c.get(ctx, u)
			var trs []Trace
			if err == nil {
				trs, err = DecodeTraces(body)
			}
			if err != nil {
				notes = append(notes, doctor.Evidence{Step: doctor.StepTraces, Component: doctor.None, Summary: "trace search failed: " + err.Error(), Reproduce: "curl -s '" + u + "'"})
				continue
			}
			for _, tr := range trs {
				if tr.TraceID == "" || seen[tr.TraceID] {
					continue
				}
				seen[tr.TraceID] = true
				if f, ok := Analyze(tr, SlowMS); ok {
					found = append(found, f)
				}
			}
		}
	}
	return found, len(seen), notes
}

// Collect fills snap's trace part. An error means Jaeger could not be
// consulted at all; a failing search becomes a note.
func (c *Client) Collect(ctx context.Context, w doctor.Window, snap *doctor.Snapshot) error {
	all, err := c.Services(ctx)
	if err != nil {
		return err
	}
	var services []string
	for _, s := range all {
		if s == "tungsten" || strings.HasPrefix(s, "tungsten-") {
			services = append(services, s)
		}
	}
	sort.Strings(services)
	end := time.Now()
	now, nowN, notes := c.fetch(ctx, services, end.Add(-w.Window), end)
	base, baseN, baseNotes := c.fetch(ctx, services, end.Add(-w.Window-w.Baseline), end.Add(-w.Window))
	snap.Notes = append(snap.Notes, notes...)
	snap.Notes = append(snap.Notes, baseNotes...)
	snap.Hops = append(snap.Hops, Hops(now, base, nowN, baseN, func(id string) string {
		return fmt.Sprintf("%s/trace/%s (API: curl -s %s/api/traces/%s)", c.base(), id, c.base(), id)
	})...)
	return nil
}
