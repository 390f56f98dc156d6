// Command bench measures Tungsten side by side in one run: a bare net/http
// server that answers every endpoint with the bytes the real one returned
// (the ceiling), the all-in-one process (embedded default) and the
// distributed deployment (five processes on PostgreSQL, Redis and NATS).
// Each real shape is seeded through the public API with internal/loadgen.
// Every endpoint is measured closed loop (fixed workers: req/s, p50, p99 and
// the ratio to the ceiling) and the 90/10 mix open loop over a sweep of
// arrival rates (latency percentiles per offered rate). Results go to
// test-artifacts/bench/ as Markdown, JSON and a PNG plot.
//
// It is a benchmark, not a test: figures are reported, never asserted. Run
// it with `make bench`; BENCH_SHORT=1 gives the short form CI can afford.
// Every process, database, Redis key and NATS stream it creates is removed
// when it ends, also on failure or Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tungsten-blog/tungsten/internal/loadgen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options configure one benchmark run.
type options struct {
	bin           string
	out           string
	shapes        []string
	endpoints     []string
	duration      time.Duration
	workers       int
	rates         []int
	sweepDuration time.Duration
	seed          loadgen.SeedConfig
	postgresURL   string
	redisURL      string
	natsURL       string
	readyTimeout  time.Duration
}

// Every endpoint of the issue, reads first: writes add rows, and the reads
// should be measured on the seeded data set.
var (
	allEndpoints   = []string{"list", "list-auth", "feed", "article", "comments", "tags", "categories", "search", "profile", "login", "publish", "comment", "favorite"}
	shortEndpoints = []string{"list", "list-auth", "article", "tags", "publish"}
	allShapes      = []string{"ceiling", "all-in-one", "distributed"}
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(args []string, stdout, stderr io.Writer) int {
	short := os.Getenv("BENCH_SHORT") == "1"
	o := options{seed: loadgen.DefaultSeedConfig()}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var shapes, endpoints, rates string
	defDuration, defSweep, defRates, defEndpoints := "10s", "10s", "100,250,500,1000,2000", strings.Join(allEndpoints, ",")
	if short {
		defDuration, defSweep, defRates, defEndpoints = "3s", "4s", "100,400", strings.Join(shortEndpoints, ",")
		o.seed.Users, o.seed.Articles, o.seed.Comments = 20, 100, 500
	}
	fs.StringVar(&o.bin, "bin", env("TUNGSTEN_BIN", ""), "tungsten binary (default: built from ./cmd/tungsten)")
	fs.StringVar(&o.out, "out", "test-artifacts/bench", "directory of the results")
	fs.StringVar(&shapes, "shapes", strings.Join(allShapes, ","), "shapes to measure: ceiling, all-in-one, distributed")
	fs.StringVar(&endpoints, "endpoints", env("BENCH_ENDPOINTS", defEndpoints), "endpoints (loadgen scenarios) measured closed loop")
	fs.DurationVar(&o.duration, "duration", mustDuration(env("BENCH_DURATION", defDuration)), "closed-loop time per endpoint and shape (env BENCH_DURATION)")
	fs.IntVar(&o.workers, "workers", 32, "closed-loop workers (connections)")
	fs.StringVar(&rates, "rates", env("BENCH_RATES", defRates), "open-loop arrival rates of the 90/10 mix, req/s (env BENCH_RATES)")
	fs.DurationVar(&o.sweepDuration, "sweep-duration", mustDuration(env("BENCH_SWEEP_DURATION", defSweep)), "open-loop time per rate and shape")
	fs.IntVar(&o.seed.Users, "seed-users", o.seed.Users, "users to seed")
	fs.IntVar(&o.seed.Articles, "seed-articles", o.seed.Articles, "articles to seed")
	fs.IntVar(&o.seed.Comments, "seed-comments", o.seed.Comments, "comments to seed")
	fs.IntVar(&o.seed.Concurrency, "seed-concurrency", o.seed.Concurrency, "requests in flight while seeding")
	fs.StringVar(&o.postgresURL, "postgres-url", env("TUNGSTEN_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "PostgreSQL server for the distributed shape (a database of its own is created and dropped)")
	fs.StringVar(&o.redisURL, "redis-url", env("TUNGSTEN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis for the distributed shape (keys under a prefix of their own, deleted after)")
	fs.StringVar(&o.natsURL, "nats-url", env("TUNGSTEN_TEST_NATS_URL", "nats://127.0.0.1:4222"), "NATS JetStream for the distributed shape (a namespace of its own, deleted after)")
	serveCeilingFile := fs.String("serve-ceiling", "", "internal: serve the captured answers in this file (the ceiling process)")
	ceilingAddr := fs.String("ceiling-addr", "127.0.0.1:0", "internal: address of the ceiling process")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 60*time.Second, "how long a shape may take to report ready")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *serveCeilingFile != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if err := serveCeiling(ctx, *serveCeilingFile, *ceilingAddr); err != nil {
			fmt.Fprintf(stderr, "bench ceiling: %v\n", err)
			return 1
		}
		return 0
	}
	var err error
	o.shapes = split(shapes)
	o.endpoints = split(endpoints)
	if o.rates, err = parseRates(rates); err != nil {
		fmt.Fprintf(stderr, "bench: --rates: %v\n", err)
		return 2
	}
	for _, s := range o.shapes {
		if !contains(allShapes, s) {
			fmt.Fprintf(stderr, "bench: unknown shape %q (known: %s)\n", s, strings.Join(allShapes, ", "))
			return 2
		}
	}
	for _, e := range o.endpoints {
		if _, err := loadgen.ParseMix(e); err != nil {
			fmt.Fprintf(stderr, "bench: --endpoints: %v\n", err)
			return 2
		}
	}
	if err := o.seed.Validate(); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var cl cleanups
	defer cl.run(stderr)
	res, err := benchmark(ctx, o, &cl, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if err := writeResults(o, res, stdout); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "bench: results in %s\n", filepath.Join(o.out, "results.{md,json}")+" and "+filepath.Join(o.out, "latency.png"))
	return 0
}

func mustDuration(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		fmt.Fprintf(os.Stderr, "bench: %q is not a positive duration\n", s)
		os.Exit(2)
	}
	return d
}

func split(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseRates(s string) ([]int, error) {
	var out []int
	for _, p := range split(s) {
		r, err := strconv.Atoi(p)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("%q is not a positive whole number", p)
		}
		out = append(out, r)
	}
	return out, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// cleanups run newest first, whatever happened before.
type cleanups []func() error

func (c *cleanups) add(f func() error) { *c = append(*c, f) }

func (c *cleanups) run(stderr io.Writer) {
	for i := len(*c) - 1; i >= 0; i-- {
		if err := (*c)[i](); err != nil {
			fmt.Fprintf(stderr, "bench: cleaning up: %v\n", err)
		}
	}
	*c = nil
}
