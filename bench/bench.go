package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tungsten-blog/tungsten/internal/loadgen"
)

// results is everything one run measured; results.json is this.
type results struct {
	Started       time.Time         `json:"started"`
	CPUs          int               `json:"cpus"`
	Workers       int               `json:"workers"`
	Duration      string            `json:"closed_loop_duration"`
	SweepDuration string            `json:"open_loop_duration"`
	Mix           string            `json:"open_loop_mix"`
	Seed          seedSize          `json:"seed"`
	Endpoints     []string          `json:"endpoints"`
	Rates         []int             `json:"rates"`
	Shapes        []*shapeResult    `json:"shapes"`
	LoadAvg       string            `json:"load_average_at_start"`
	Notes         map[string]string `json:"notes,omitempty"`
	byName        map[string]*shapeResult
}

type seedSize struct {
	Users, Articles, Comments, FollowsPerUser, FavoritesPerUser int
}

type shapeResult struct {
	Name        string                   `json:"name"`
	ReadyMillis float64                  `json:"ready_ms"`
	IdleRSSMiB  map[string]float64       `json:"idle_rss_mib,omitempty"`
	SeedSeconds float64                  `json:"seed_seconds,omitempty"`
	Closed      map[string]loadgen.Stats `json:"closed_loop"`
	// CPUMicros is CPU time per successful request, per process, in the
	// closed-loop runs (µs; from /proc, 10 ms resolution over the run).
	CPUMicros map[string]map[string]float64 `json:"cpu_us_per_request"`
	Open      []openPoint                   `json:"open_loop"`
	// LoadAvg is the machine's 1-minute load average before and after the
	// shape was measured: other work on a shared machine shows here.
	LoadAvg [2]string `json:"load_average_1m"`
}

func loadAvg1() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

type openPoint struct {
	Rate  int           `json:"offered_rate"`
	Stats loadgen.Stats `json:"stats"`
}

// benchmark runs every shape in turn, each alone on the machine: a shape's
// processes stop before the next one starts.
func benchmark(ctx context.Context, o options, cl *cleanups, stderr io.Writer) (*results, error) {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", o.out, err)
	}
	work, err := os.MkdirTemp("", "tungsten-bench-")
	if err != nil {
		return nil, fmt.Errorf("creating a work dir: %w", err)
	}
	cl.add(func() error { return os.RemoveAll(work) })
	if o.bin == "" {
		o.bin = filepath.Join(work, "tungsten")
		fmt.Fprintln(stderr, "bench: building ./cmd/tungsten")
		build := exec.CommandContext(ctx, "go", "build", "-o", o.bin, "./cmd/tungsten")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/tungsten: %w: %s", err, out)
		}
	}
	la, _ := os.ReadFile("/proc/loadavg")
	res := &results{Started: time.Now().UTC(), CPUs: runtime.NumCPU(), Workers: o.workers, Duration: o.duration.String(),
		SweepDuration: o.sweepDuration.String(), Mix: loadgen.DefaultMix, Endpoints: o.endpoints, Rates: o.rates,
		Seed:    seedSize{o.seed.Users, o.seed.Articles, o.seed.Comments, o.seed.FollowsPerUser, o.seed.FavoritesPerUser},
		LoadAvg: string(la), byName: map[string]*shapeResult{}}

	// The ceiling replays answers captured from the first real shape, with
	// that shape's data set for its request targets.
	var answers map[string]captured
	var ceilingData *loadgen.Dataset
	order := []string{"all-in-one", "distributed"}
	if !slices.Contains(o.shapes, "all-in-one") && !slices.Contains(o.shapes, "distributed") {
		return nil, fmt.Errorf("the ceiling replays a real shape's answers: measure all-in-one or distributed too")
	}
	ceilingDone := !slices.Contains(o.shapes, "ceiling")
	for _, name := range order {
		if !slices.Contains(o.shapes, name) {
			continue
		}
		sr, ds, ans, err := measureReal(ctx, o, name, work, answers == nil, stderr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		res.add(sr)
		if answers == nil {
			answers, ceilingData = ans, ds
		}
		if !ceilingDone {
			var scl cleanups
			sr, err := func() (*shapeResult, error) {
				defer scl.run(stderr)
				r, err := startCeiling(ctx, o, answers, &scl)
				if err != nil {
					return nil, err
				}
				return measure(ctx, o, r, ceilingData, stderr)
			}()
			if err != nil {
				return nil, fmt.Errorf("ceiling: %w", err)
			}
			res.add(sr)
			ceilingDone = true
		}
	}
	// Fixed order in the tables: ceiling, all-in-one, distributed.
	slices.SortFunc(res.Shapes, func(a, b *shapeResult) int {
		return slices.Index(allShapes, a.Name) - slices.Index(allShapes, b.Name)
	})
	return res, nil
}

func (r *results) add(s *shapeResult) {
	r.Shapes = append(r.Shapes, s)
	r.byName[s.Name] = s
}

// measureReal starts a real shape, seeds it, captures answers when asked,
// measures it and stops it.
func measureReal(ctx context.Context, o options, name, work string, capture bool, stderr io.Writer) (*shapeResult, *loadgen.Dataset, map[string]captured, error) {
	var scl cleanups
	defer scl.run(stderr)
	fmt.Fprintf(stderr, "bench: starting %s\n", name)
	var r *running
	var err error
	if name == "all-in-one" {
		r, err = startEmbedded(ctx, o, work, &scl)
	} else {
		r, err = startDistributed(ctx, o, work, &scl)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	idle := r.rss()
	fmt.Fprintf(stderr, "bench: %s ready in %s; seeding %d users, %d articles, %d comments\n", name, r.ready.Round(time.Millisecond), o.seed.Users, o.seed.Articles, o.seed.Comments)
	seedStart := time.Now()
	client := loadgen.NewClient(r.baseURL, &http.Client{Timeout: 30 * time.Second})
	ds, err := loadgen.Seed(ctx, client, o.seed, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	seedTime := time.Since(seedStart)
	fmt.Fprintf(stderr, "bench: %s seeded in %s\n", name, seedTime.Round(time.Millisecond))
	// Follows reach the blog's read model by event: wait for the feed.
	if err := waitFeed(ctx, client, ds); err != nil {
		return nil, nil, nil, err
	}
	var ans map[string]captured
	if capture {
		if ans, err = captureAnswers(ctx, r.baseURL, ds); err != nil {
			return nil, nil, nil, err
		}
	}
	sr, err := measure(ctx, o, r, ds, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	sr.IdleRSSMiB = idle
	sr.SeedSeconds = seedTime.Seconds()
	return sr, ds, ans, nil
}

func waitFeed(ctx context.Context, c *loadgen.Client, ds *loadgen.Dataset) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var page struct {
			ArticlesCount int `json:"articlesCount"`
		}
		if err := c.Do(ctx, http.MethodGet, "/api/articles/feed", ds.Users[0].Token, nil, &page); err == nil && page.ArticlesCount > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the seeded follows did not reach the feed within 30 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// captureAnswers makes one request of every scenario and keeps the answers.
func captureAnswers(ctx context.Context, base string, ds *loadgen.Dataset) (map[string]captured, error) {
	out := map[string]captured{}
	hc := &http.Client{Timeout: 30 * time.Second}
	for _, name := range append(slices.Clone(allEndpoints), "browse") {
		req, err := loadgen.Sample(base, ds, name)
		if err != nil {
			return nil, err
		}
		if name == "favorite" && req.Method != http.MethodPost {
			req.Method = http.MethodPost
		}
		resp, err := hc.Do(req.WithContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("capturing %s: %w", name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("capturing %s: %w", name, err)
		}
		if resp.StatusCode >= 300 {
			return nil, fmt.Errorf("capturing %s: %s %s answered %d: %.200s", name, req.Method, req.URL.Path, resp.StatusCode, body)
		}
		out[name] = captured{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: body}
	}
	return out, nil
}

// measure runs the read endpoints closed loop, then the mix open loop at
// each rate, then the write endpoints closed loop: the writes add thousands
// of rows, so they come last and every shape's reads and sweep see about the
// seeded data set.
func measure(ctx context.Context, o options, r *running, ds *loadgen.Dataset, stderr io.Writer) (*shapeResult, error) {
	sr := &shapeResult{Name: r.name, ReadyMillis: float64(r.ready.Microseconds()) / 1000, Closed: map[string]loadgen.Stats{},
		CPUMicros: map[string]map[string]float64{}, LoadAvg: [2]string{loadAvg1()}}
	defer func() { sr.LoadAvg[1] = loadAvg1() }()
	writes := map[string]bool{}
	for _, sc := range loadgen.Scenarios() {
		writes[sc.Name] = sc.Write
	}
	var reads, writeEndpoints []string
	for _, e := range o.endpoints {
		if writes[e] {
			writeEndpoints = append(writeEndpoints, e)
		} else {
			reads = append(reads, e)
		}
	}
	if err := closedLoop(ctx, o, r, ds, reads, sr, stderr); err != nil {
		return nil, err
	}
	if err := sweep(ctx, o, r, ds, sr, stderr); err != nil {
		return nil, err
	}
	if err := closedLoop(ctx, o, r, ds, writeEndpoints, sr, stderr); err != nil {
		return nil, err
	}
	return sr, nil
}

// closedLoop measures each endpoint with o.workers workers for o.duration.
func closedLoop(ctx context.Context, o options, r *running, ds *loadgen.Dataset, endpoints []string, sr *shapeResult, stderr io.Writer) error {
	for _, e := range endpoints {
		before := r.cpu()
		rep, err := loadgen.Run(ctx, loadgen.RunConfig{BaseURL: r.baseURL, Workers: o.workers, Duration: o.duration,
			Mix: loadgen.MustMix(e), Timeout: 5 * time.Second}, ds)
		if err != nil {
			return fmt.Errorf("closed loop %s: %w", e, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		t := rep.Total
		sr.Closed[e] = t
		if ok := float64(t.Requests - t.Errors); ok > 0 {
			per := map[string]float64{}
			for name, c := range r.cpu() {
				per[name] = (c - before[name]) / ok * 1e6
			}
			sr.CPUMicros[e] = per
		}
		fmt.Fprintf(stderr, "bench: %-11s %-10s closed %3d workers: %8.0f req/s  p50 %8s  p99 %8s  errors %d\n",
			r.name, e, o.workers, t.Throughput, t.P50, t.P99, t.Errors)
	}
	return nil
}

// sweep runs the 90/10 mix open loop at every rate.
func sweep(ctx context.Context, o options, r *running, ds *loadgen.Dataset, sr *shapeResult, stderr io.Writer) error {
	for _, rate := range o.rates {
		rep, err := loadgen.Run(ctx, loadgen.RunConfig{BaseURL: r.baseURL, Rate: rate, Duration: o.sweepDuration,
			Mix: loadgen.MustMix(loadgen.DefaultMix), Timeout: 5 * time.Second}, ds)
		if err != nil {
			return fmt.Errorf("open loop at %d req/s: %w", rate, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		t := rep.Total
		sr.Open = append(sr.Open, openPoint{Rate: rate, Stats: t})
		fmt.Fprintf(stderr, "bench: %-11s mix 90/10  open %5d req/s: achieved %6.0f  p50 %8s  p95 %8s  p99 %8s  errors %d\n",
			r.name, rate, t.Throughput, t.P50, t.P95, t.P99, t.Errors)
		// Past the point where most requests fail, higher rates only
		// measure the timeout; stop the sweep for this shape.
		if t.ErrorRatio > 0.5 {
			fmt.Fprintf(stderr, "bench: %s fails %.0f%% of requests at %d req/s; higher rates skipped\n", r.name, 100*t.ErrorRatio, rate)
			return nil
		}
		// Let a backlog from an overloaded rate drain before the next one
		// (requests time out after 5 s).
		pause := 2 * time.Second
		if t.Errors > 0 {
			pause = 6 * time.Second
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
	}
	return nil
}
