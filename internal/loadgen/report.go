package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Stats are the figures of one scenario, or of the whole run.
type Stats struct {
	Name       string         `json:"name"`
	Requests   uint64         `json:"requests"`
	Rate       float64        `json:"rate"`       // requests sent per second
	Throughput float64        `json:"throughput"` // successful answers per second
	P50        Millis         `json:"p50_ms"`
	P95        Millis         `json:"p95_ms"`
	P99        Millis         `json:"p99_ms"`
	Max        Millis         `json:"max_ms"`
	Mean       Millis         `json:"mean_ms"`
	Errors     uint64         `json:"errors"`
	ErrorRatio float64        `json:"error_ratio"`
	Statuses   map[string]int `json:"statuses"` // status code → count; "0" = no answer
	Samples    []string       `json:"error_samples,omitempty"`
}

// Millis is a duration that shows, and encodes, as milliseconds.
type Millis time.Duration

// MarshalJSON encodes milliseconds with microsecond precision.
func (m Millis) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", float64(m)/1e6)), nil
}

// UnmarshalJSON reads milliseconds.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*m = Millis(f * 1e6)
	return nil
}

func (m Millis) String() string {
	d := time.Duration(m)
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
}

// Report is the outcome of a run.
type Report struct {
	Mode      string        `json:"mode"` // open or closed
	Rate      int           `json:"rate,omitempty"`
	Workers   int           `json:"workers,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
	Mix       string        `json:"mix"`
	Total     Stats         `json:"total"`
	Scenarios []Stats       `json:"scenarios"`
	// Violations are the thresholds the run broke (set by Check).
	Violations []string `json:"violations,omitempty"`
}

type collector struct {
	cfg     RunConfig
	total   *vegeta.Metrics
	per     map[string]*vegeta.Metrics
	window  *vegeta.Metrics
	started time.Time
}

func newCollector(cfg RunConfig) *collector {
	return &collector{cfg: cfg, total: &vegeta.Metrics{}, per: map[string]*vegeta.Metrics{},
		window: &vegeta.Metrics{}, started: time.Now()}
}

func (c *collector) add(r *vegeta.Result) {
	name := scenarioOf(r.URL)
	m := c.per[name]
	if m == nil {
		m = &vegeta.Metrics{}
		c.per[name] = m
	}
	m.Add(r)
	c.total.Add(r)
	c.window.Add(r)
}

// progressLine sums up the run so far and the last window's latencies.
func (c *collector) progressLine() string {
	w := c.window
	w.Close()
	c.window = &vegeta.Metrics{}
	errors := uint64(0)
	for code, n := range w.StatusCodes {
		if !ok(code) {
			errors += uint64(n)
		}
	}
	el := time.Since(c.started).Truncate(time.Second)
	return fmt.Sprintf("loadtest %s/%s: %d requests, last %s: %.0f req/s, p50 %s, p95 %s, p99 %s, %d errors",
		el, c.cfg.Duration, c.total.Requests, c.cfg.ProgressEvery, w.Rate,
		Millis(w.Latencies.P50), Millis(w.Latencies.P95), Millis(w.Latencies.P99), errors)
}

func ok(code string) bool { return len(code) == 3 && (code[0] == '2' || code[0] == '3') }

func stats(name string, m *vegeta.Metrics) Stats {
	m.Close()
	s := Stats{Name: name, Requests: m.Requests, Rate: m.Rate, Throughput: m.Throughput,
		P50: Millis(m.Latencies.P50), P95: Millis(m.Latencies.P95), P99: Millis(m.Latencies.P99),
		Max: Millis(m.Latencies.Max), Mean: Millis(m.Latencies.Mean), Statuses: m.StatusCodes}
	for code, n := range m.StatusCodes {
		if !ok(code) {
			s.Errors += uint64(n)
		}
	}
	if s.Requests > 0 {
		s.ErrorRatio = float64(s.Errors) / float64(s.Requests)
	}
	if len(m.Errors) > 5 {
		s.Samples = m.Errors[:5]
	} else {
		s.Samples = m.Errors
	}
	return s
}

func (c *collector) report() *Report {
	r := &Report{Mode: c.cfg.Mode(), Rate: c.cfg.Rate, Workers: c.cfg.Workers, Duration: c.cfg.Duration,
		Mix: c.cfg.Mix.String(), Total: stats("total", c.total)}
	for _, name := range slices.Sorted(maps.Keys(c.per)) {
		r.Scenarios = append(r.Scenarios, stats(name, c.per[name]))
	}
	return r
}

// Thresholds turn a run into pass or fail. A zero latency is not checked;
// a negative MaxErrorRatio is not checked.
type Thresholds struct {
	P95, P99      time.Duration
	MaxErrorRatio float64
}

// Check records in r.Violations every threshold the run's total broke, and
// reports whether it passed.
func (t Thresholds) Check(r *Report) bool {
	r.Violations = t.violations(r.Total)
	return len(r.Violations) == 0
}

func (t Thresholds) violations(s Stats) []string {
	var v []string
	if s.Requests == 0 {
		return []string{"no request was sent"}
	}
	if t.P95 > 0 && time.Duration(s.P95) > t.P95 {
		v = append(v, fmt.Sprintf("p95 %s is above %s", s.P95, Millis(t.P95)))
	}
	if t.P99 > 0 && time.Duration(s.P99) > t.P99 {
		v = append(v, fmt.Sprintf("p99 %s is above %s", s.P99, Millis(t.P99)))
	}
	if t.MaxErrorRatio >= 0 && s.ErrorRatio > t.MaxErrorRatio {
		v = append(v, fmt.Sprintf("error ratio %.4f (%d of %d) is above %.4f", s.ErrorRatio, s.Errors, s.Requests, t.MaxErrorRatio))
	}
	return v
}

// WriteTable prints the report as an aligned table, one row per scenario and
// a total, then the errors by status and any broken threshold.
func (r *Report) WriteTable(w io.Writer) error {
	loop := fmt.Sprintf("open loop at %d req/s", r.Rate)
	if r.Mode == "closed" {
		loop = fmt.Sprintf("closed loop with %d workers", r.Workers)
	}
	fmt.Fprintf(w, "%s for %s; mix %s\n\n", loop, r.Duration, r.Mix)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\trequests\treq/s\tp50\tp95\tp99\tmax\terrors\t")
	for _, s := range append(slices.Clone(r.Scenarios), r.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%s\t%s\t%s\t%s\t%d\t\n", s.Name, s.Requests, s.Rate, s.P50, s.P95, s.P99, s.Max, s.Errors)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the table: %w", err)
	}
	if r.Total.Errors > 0 {
		fmt.Fprintln(w, "\nerrors by status:")
		for _, s := range r.Scenarios {
			var parts []string
			for _, code := range slices.Sorted(maps.Keys(s.Statuses)) {
				if !ok(code) {
					parts = append(parts, fmt.Sprintf("%s ×%d", StatusText(code), s.Statuses[code]))
				}
			}
			if len(parts) > 0 {
				fmt.Fprintf(w, "  %-10s %s", s.Name, strings.Join(parts, ", "))
				if len(s.Samples) > 0 {
					fmt.Fprintf(w, " (e.g. %s)", s.Samples[0])
				}
				fmt.Fprintln(w)
			}
		}
	}
	if len(r.Violations) > 0 {
		fmt.Fprintln(w, "\nFAILED thresholds:")
		for _, v := range r.Violations {
			fmt.Fprintln(w, "  "+v)
		}
	}
	return nil
}

// WriteJSON prints the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing the JSON report: %w", err)
	}
	return nil
}
