// Package triage runs `tungsten doctor`: it consults every configured source
// concurrently under one deadline (the Kubernetes API, Prometheus, the log
// search, Jaeger, admin listeners), merges what they saw into one snapshot,
// lets doctor.Diagnose name the culprit and writes the report as text or
// JSON. A source that is not configured, fails or misses the deadline is
// listed as not consulted; the verdict is given from the others.
package triage

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tungsten-blog/tungsten/internal/doctor"
	"github.com/tungsten-blog/tungsten/internal/doctor/admin"
	"github.com/tungsten-blog/tungsten/internal/doctor/kube"
	"github.com/tungsten-blog/tungsten/internal/doctor/prom"
)

// Config is the doctor's command line.
type Config struct {
	Kubeconfig, Namespace string
	NoKube                bool
	PrometheusURL         string
	LogsURL, JaegerURL    string
	AdminURLs             string
	Window, Baseline      time.Duration
	Timeout               time.Duration
	Output                string
}

// RegisterFlags declares the doctor's flags on fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
	fs.StringVar(&c.Namespace, "namespace", "tungsten", "namespace Tungsten runs in")
	fs.BoolVar(&c.NoKube, "no-kube", false, "do not read the Kubernetes API (processes outside a cluster: use --admin-urls)")
	fs.StringVar(&c.PrometheusURL, "prometheus-url", "", "Prometheus base URL, e.g. http://127.0.0.1:9090 (RED per service, dependency signals, alerts)")
	fs.StringVar(&c.LogsURL, "logs-url", "", "VictoriaLogs base URL, e.g. http://127.0.0.1:9428 (error lines per service)")
	fs.StringVar(&c.JaegerURL, "jaeger-url", "", "Jaeger query base URL, e.g. http://127.0.0.1:16686 (failing and slow hops)")
	fs.StringVar(&c.AdminURLs, "admin-urls", "", "comma-separated [name=]admin URLs of processes outside Kubernetes, e.g. users=http://127.0.0.1:9092 (/readyz)")
	fs.DurationVar(&c.Window, "window", 5*time.Minute, "how far back the incident is looked for")
	fs.DurationVar(&c.Baseline, "baseline", 0, "the normal period before the window it is compared with; 0 means 5 windows")
	fs.DurationVar(&c.Timeout, "timeout", 60*time.Second, "deadline for the whole run; a source still busy then is listed as not consulted")
	fs.StringVar(&c.Output, "output", "text", "text or json")
}

// Validate checks the flags and fills defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Output != "text" && c.Output != "json" {
		errs = append(errs, fmt.Errorf("--output %q: want text or json", c.Output))
	}
	if c.Window < 10*time.Second || c.Window > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--window %s: want between 10s and 24h", c.Window))
	}
	if c.Baseline == 0 {
		c.Baseline = 5 * c.Window
	}
	if c.Baseline < c.Window || c.Baseline > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("--baseline %s: want at least the window and at most 168h", c.Baseline))
	}
	if c.Timeout < time.Second || c.Timeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("--timeout %s: want between 1s and 10m", c.Timeout))
	}
	for _, u := range []struct{ flag, v string }{{"--prometheus-url", c.PrometheusURL}, {"--logs-url", c.LogsURL}, {"--jaeger-url", c.JaegerURL}} {
		if u.v != "" && !strings.HasPrefix(u.v, "http://") && !strings.HasPrefix(u.v, "https://") {
			errs = append(errs, fmt.Errorf("%s %q: want an http(s):// URL", u.flag, u.v))
		}
	}
	if _, err := admin.ParseTargets(c.AdminURLs); err != nil {
		errs = append(errs, fmt.Errorf("--admin-urls: %w", err))
	}
	if c.NoKube && c.PrometheusURL == "" && c.LogsURL == "" && c.JaegerURL == "" && c.AdminURLs == "" {
		errs = append(errs, errors.New("nothing to consult: --no-kube needs --prometheus-url, --logs-url, --jaeger-url or --admin-urls"))
	}
	return errors.Join(errs...)
}

// Report is the doctor's answer; its JSON form is `--output json`.
type Report struct {
	Verdict      doctor.Verdict        `json:"verdict"`
	Ranked       []doctor.Ranked       `json:"ranked"`
	Evidence     []doctor.Evidence     `json:"evidence"`
	NotConsulted []doctor.NotConsulted `json:"not_consulted"`
	Window       string                `json:"window"`
	Baseline     string                `json:"baseline"`
	ElapsedMS    int64                 `json:"elapsed_ms"`
}

// ErrNoSource means no configured source could be consulted: there is no
// evidence to give a verdict from.
var ErrNoSource = errors.New("no source could be consulted")

// source is one configured evidence source.
type source struct {
	name    string
	collect func(ctx context.Context, w doctor.Window, snap *doctor.Snapshot) error
}

// Run consults the sources and diagnoses.
func Run(ctx context.Context, c Config) (Report, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	w := doctor.Window{Window: c.Window, Baseline: c.Baseline}
	hc := &http.Client{Timeout: min(c.Timeout, 20*time.Second)}

	var snap doctor.Snapshot
	srcs := sources(c, hc, &snap)
	type result struct {
		name string
		snap doctor.Snapshot
		err  error
	}
	results := make(chan result, len(srcs))
	for _, s := range srcs {
		go func() {
			var part doctor.Snapshot
			err := s.collect(ctx, w, &part)
			results <- result{s.name, part, err}
		}()
	}
	consulted := 0
	pending := map[string]bool{}
	for _, s := range srcs {
		pending[s.name] = true
	}
	for range srcs {
		select {
		case r := <-results:
			delete(pending, r.name)
			if r.err != nil {
				snap.NotConsulted = append(snap.NotConsulted, doctor.NotConsulted{Source: r.name, Why: r.err.Error()})
				continue
			}
			consulted++
			snap.Merge(r.snap)
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	for _, s := range srcs {
		if pending[s.name] {
			snap.NotConsulted = append(snap.NotConsulted, doctor.NotConsulted{Source: s.name, Why: "no answer within --timeout " + c.Timeout.String()})
		}
	}
	d := doctor.Diagnose(snap)
	rep := Report{Verdict: d.Verdict, Ranked: d.Ranked, Evidence: d.Evidence, NotConsulted: snap.NotConsulted,
		Window: c.Window.String(), Baseline: c.Baseline.String(), ElapsedMS: time.Since(start).Milliseconds()}
	if rep.Ranked == nil {
		rep.Ranked = []doctor.Ranked{}
	}
	if rep.Evidence == nil {
		rep.Evidence = []doctor.Evidence{}
	}
	if rep.NotConsulted == nil {
		rep.NotConsulted = []doctor.NotConsulted{}
	}
	if consulted == 0 {
		return rep, ErrNoSource
	}
	return rep, nil
}

// sources lists the configured sources; the ones not configured are noted
// in snap as not consulted.
func sources(c Config, hc *http.Client, snap *doctor.Snapshot) []source {
	var out []source
	skip := func(name, why string) {
		snap.NotConsulted = append(snap.NotConsulted, doctor.NotConsulted{Source: name, Why: why})
	}
	if c.NoKube {
		skip("kubernetes", "--no-kube")
	} else {
		out = append(out, source{"kubernetes", func(ctx context.Context, w doctor.Window, snap *doctor.Snapshot) error {
			k, err := kube.New(c.Kubeconfig, c.Namespace)
			if err != nil {
				return err
			}
			return k.Collect(ctx, w, snap)
		}})
	}
	if c.PrometheusURL == "" {
		skip("prometheus", "no --prometheus-url")
	} else {
		p := &prom.Client{URL: c.PrometheusURL, HTTP: hc}
		out = append(out, source{"prometheus", p.Collect})
	}
	out = append(out, extraSources(c, hc, snap)...)
	if c.AdminURLs == "" {
		skip("admin", "no --admin-urls")
	} else {
		targets, _ := admin.ParseTargets(c.AdminURLs) // checked by Validate
		a := &admin.Source{Targets: targets, HTTP: &http.Client{Timeout: 5 * time.Second}}
		out = append(out, source{"admin", func(ctx context.Context, _ doctor.Window, snap *doctor.Snapshot) error {
			a.Collect(ctx, snap)
			return nil
		}})
	}
	return out
}

// WriteJSON writes the report as one JSON document.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person: the verdict, the ranking, the
// evidence in triage order with the command reproducing each item, and what
// was not consulted.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	if r.Verdict.Component == doctor.None {
		fmt.Fprintf(&b, "verdict: no culprit (confidence %.2f)\n  %s\n", r.Verdict.Confidence, r.Verdict.Reason)
	} else {
		fmt.Fprintf(&b, "verdict: %s (confidence %.2f)\n  %s\n  runbook: %s\n", r.Verdict.Component, r.Verdict.Confidence, r.Verdict.Reason, r.Verdict.Runbook)
	}
	if len(r.Ranked) > 0 {
		b.WriteString("\nranked:\n")
		for i, c := range r.Ranked {
			fmt.Fprintf(&b, "  %d. %-9s %.2f  %s\n", i+1, c.Component, c.Confidence, c.Reason)
		}
	}
	if len(r.Evidence) > 0 {
		fmt.Fprintf(&b, "\nevidence (window %s against the %s before it, in triage order):\n", r.Window, r.Baseline)
		for _, e := range r.Evidence {
			fmt.Fprintf(&b, "  [%s] %s: %s\n", e.Step, e.Component, e.Summary)
			if e.Reproduce != "" {
				fmt.Fprintf(&b, "      $ %s\n", e.Reproduce)
			}
		}
	}
	if len(r.NotConsulted) > 0 {
		b.WriteString("\nnot consulted:\n")
		for _, n := range r.NotConsulted {
			fmt.Fprintf(&b, "  %s: %s\n", n.Source, n.Why)
		}
	}
	fmt.Fprintf(&b, "\n%d ms\n", r.ElapsedMS)
	_, err := io.WriteString(w, b.String())
	return err
}
