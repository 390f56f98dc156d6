package loadgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config is the configuration of `tungsten loadtest`: where, how hard, which
// mix, what data and which thresholds.
type Config struct {
	URL        string
	Rate       int
	Workers    int
	Duration   time.Duration
	Scenario   string
	NoSeed     bool
	Accounts   int
	Seed       SeedConfig
	Thresholds Thresholds
	Timeout    time.Duration
	Progress   time.Duration
	Output     string
	JSONReport string
	MaxWorkers int
}

// RegisterFlags adds the loadtest flags to fs.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultSeedConfig()
	fs.StringVar(&c.URL, "url", "http://127.0.0.1:8080", "base URL of the deployment (the origin that serves /api)")
	fs.IntVar(&c.Rate, "rate", 50, "open loop: requests per second, sent on schedule whatever the latency (ignored with --workers)")
	fs.IntVar(&c.Workers, "workers", 0, "closed loop: this many concurrent request loops instead of a rate")
	fs.DurationVar(&c.Duration, "duration", 60*time.Second, "how long to send load")
	fs.StringVar(&c.Scenario, "scenario", DefaultMix, "weighted scenarios, name=weight,... (names: "+strings.Join(ScenarioNames(), ", ")+")")
	fs.BoolVar(&c.NoSeed, "no-seed", false, "do not seed: use the server's newest articles and register --accounts users")
	fs.IntVar(&c.Accounts, "accounts", 10, "with --no-seed, users registered for the signed-in scenarios")
	fs.IntVar(&c.Seed.Users, "seed-users", d.Users, "users to seed")
	fs.IntVar(&c.Seed.Articles, "seed-articles", d.Articles, "articles to seed (Korean and English, with tags and categories)")
	fs.IntVar(&c.Seed.Comments, "seed-comments", d.Comments, "comments to seed")
	fs.IntVar(&c.Seed.FollowsPerUser, "seed-follows", d.FollowsPerUser, "users each seeded user follows")
	fs.IntVar(&c.Seed.FavoritesPerUser, "seed-favorites", d.FavoritesPerUser, "articles each seeded user favorites")
	fs.IntVar(&c.Seed.Concurrency, "seed-concurrency", d.Concurrency, "requests in flight while seeding")
	fs.Uint64Var(&c.Seed.Seed, "seed-rng", d.Seed, "seed of the generated text and choices (same value, same data set)")
	fs.DurationVar(&c.Thresholds.P95, "p95", 0, "fail when the total p95 latency is above this (0: not checked)")
	fs.DurationVar(&c.Thresholds.P99, "p99", 0, "fail when the total p99 latency is above this (0: not checked)")
	fs.Float64Var(&c.Thresholds.MaxErrorRatio, "max-error-ratio", 0.01, "fail when more than this share of requests fail (negative: not checked)")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "deadline of one request (a timeout counts as an error)")
	fs.DurationVar(&c.Progress, "progress", 5*time.Second, "interval of the progress line on stderr")
	fs.StringVar(&c.Output, "output", "text", "summary format on stdout: text or json")
	fs.StringVar(&c.JSONReport, "json-report", "", "also write the JSON report to this file")
	fs.IntVar(&c.MaxWorkers, "max-workers", 5000, "open loop: most requests in flight when the server falls behind")
	c.Seed.Password = d.Password
}

// Validate reports every invalid setting.
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--url %q is not an http(s) URL", c.URL))
	}
	if c.Workers < 0 || c.Rate < 0 || (c.Workers == 0 && c.Rate == 0) {
		errs = append(errs, errors.New("--rate or --workers must be positive"))
	}
	if c.Duration <= 0 {
		errs = append(errs, errors.New("--duration must be positive"))
	}
	if _, err := ParseMix(c.Scenario); err != nil {
		errs = append(errs, fmt.Errorf("--scenario: %w", err))
	}
	if c.NoSeed && c.Accounts < 1 {
		errs = append(errs, errors.New("--accounts must be at least 1 with --no-seed"))
	}
	if !c.NoSeed {
		if err := c.Seed.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("--seed-*: %w", err))
		}
	}
	if c.Output != "text" && c.Output != "json" {
		errs = append(errs, fmt.Errorf("--output %q: want text or json", c.Output))
	}
	if c.Timeout <= 0 || c.Progress <= 0 {
		errs = append(errs, errors.New("--timeout and --progress must be positive"))
	}
	return errors.Join(errs...)
}

// LoadTest seeds (or discovers) the data set, runs the mix and checks the
// thresholds. Progress goes to progress; the report comes back with its
// violations set. An error means the run could not be made at all.
func LoadTest(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	mix, err := ParseMix(cfg.Scenario)
	if err != nil {
		return nil, err
	}
	client := NewClient(cfg.URL, &http.Client{Timeout: cfg.Timeout})
	var ds *Dataset
	started := time.Now()
	if cfg.NoSeed {
		fmt.Fprintf(progress, "loadtest: discovering articles at %s, registering %d users\n", cfg.URL, cfg.Accounts)
		ds, err = Discover(ctx, client, cfg.Accounts, cfg.Seed.Password)
	} else {
		fmt.Fprintf(progress, "loadtest: seeding %s: %d users, %d articles, %d comments (relax the server's --gateway.rate-limit to make this fast)\n",
			cfg.URL, cfg.Seed.Users, cfg.Seed.Articles, cfg.Seed.Comments)
		ds, err = Seed(ctx, client, cfg.Seed, func(phase string, n int) {
			fmt.Fprintf(progress, "loadtest: seeded %d %s (%s)\n", n, phase, time.Since(started).Truncate(time.Millisecond))
		})
	}
	if err != nil {
		return nil, err
	}
	run := RunConfig{BaseURL: cfg.URL, Duration: cfg.Duration, Mix: mix, Timeout: cfg.Timeout,
		Progress: progress, ProgressEvery: cfg.Progress, MaxWorkers: cfg.MaxWorkers}
	if cfg.Workers > 0 {
		run.Workers = cfg.Workers
	} else {
		run.Rate = cfg.Rate
	}
	fmt.Fprintf(progress, "loadtest: %s loop against %s for %s\n", run.Mode(), cfg.URL, cfg.Duration)
	rep, err := Run(ctx, run, ds)
	if err != nil {
		return nil, err
	}
	cfg.Thresholds.Check(rep)
	return rep, nil
}

// WriteReport prints the report in the configured format, and writes the
// JSON report file when one is configured.
func (c Config) WriteReport(w io.Writer, r *Report) error {
	if c.JSONReport != "" {
		f, err := os.Create(c.JSONReport)
		if err != nil {
			return fmt.Errorf("writing the JSON report: %w", err)
		}
		err = r.WriteJSON(f)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing the JSON report: %w", cerr)
		}
		if err != nil {
			return err
		}
	}
	if c.Output == "json" {
		return r.WriteJSON(w)
	}
	return r.WriteTable(w)
}
