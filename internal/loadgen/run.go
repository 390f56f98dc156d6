package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// RunConfig describes one load run. Exactly one of Rate and Workers is set.
type RunConfig struct {
	// BaseURL is the deployment's origin (without /api).
	BaseURL string
	// Rate is the constant arrival rate in requests per second (open loop:
	// requests are sent on schedule whether or not earlier ones finished, so
	// a slow server cannot hide its latency by slowing the client down).
	Rate int
	// Workers is the number of concurrent request loops (closed loop: each
	// sends its next request when the last one answered).
	Workers int
	// Duration of the run.
	Duration time.Duration
	// Mix chooses the scenario of every request.
	Mix Mix
	// Timeout of one request (default 10 s).
	Timeout time.Duration
	// Progress, when set, gets a line every ProgressEvery (default 5 s).
	Progress      io.Writer
	ProgressEvery time.Duration
	// MaxWorkers bounds the goroutines an open-loop run may start when the
	// server falls behind (default 5,000).
	MaxWorkers int
}

// Validate reports a configuration that cannot run.
func (c RunConfig) Validate() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("a base URL is needed"))
	}
	if (c.Rate > 0) == (c.Workers > 0) {
		errs = append(errs, errors.New("set exactly one of rate (open loop) and workers (closed loop)"))
	}
	if c.Rate < 0 || c.Workers < 0 {
		errs = append(errs, errors.New("rate and workers must not be negative"))
	}
	if c.Duration <= 0 {
		errs = append(errs, errors.New("duration must be positive"))
	}
	if c.Mix.total == 0 {
		errs = append(errs, errors.New("the scenario mix is empty"))
	}
	return errors.Join(errs...)
}

// Mode names the loop: "open" at a rate, "closed" with workers.
func (c RunConfig) Mode() string {
	if c.Rate > 0 {
		return "open"
	}
	return "closed"
}

// Run sends load until the duration is over or ctx is cancelled, and reports
// per-scenario and total metrics. The data set must have at least one user
// and one article.
func Run(ctx context.Context, cfg RunConfig, ds *Dataset) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if ds == nil || len(ds.Users) == 0 || len(ds.Slugs) == 0 {
		return nil, errors.New("the data set needs at least one user and one article (seed first)")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.ProgressEvery <= 0 {
		cfg.ProgressEvery = 5 * time.Second
	}
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 5000
	}
	st := &state{base: strings.TrimRight(cfg.BaseURL, "/"), ds: ds}

	opts := []func(*vegeta.Attacker){
		vegeta.Timeout(cfg.Timeout),
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.MaxBody(0), // bodies are read to the end but not kept
		vegeta.KeepAlive(true),
	}
	pacer := vegeta.Pacer(vegeta.ConstantPacer{}) // zero: as fast as the workers go
	if cfg.Rate > 0 {
		pacer = vegeta.ConstantPacer{Freq: cfg.Rate, Per: time.Second}
		opts = append(opts, vegeta.Workers(uint64(min(cfg.MaxWorkers, max(10, cfg.Rate/50)))), vegeta.MaxWorkers(uint64(cfg.MaxWorkers)))
	} else {
		opts = append(opts, vegeta.Workers(uint64(cfg.Workers)), vegeta.MaxWorkers(uint64(cfg.Workers)),
			vegeta.Connections(cfg.Workers), vegeta.MaxConnections(cfg.Workers))
	}
	atk := vegeta.NewAttacker(opts...)

	// The scenario rides in the URL fragment: a client never sends the
	// fragment, and vegeta hands the URL back in each result.
	targeter := func(t *vegeta.Target) error {
		sc := cfg.Mix.pick(rand.IntN(cfg.Mix.total))
		sc.fill(st, t)
		t.URL += "#" + sc.Name
		return nil
	}

	rep := newCollector(cfg)
	results := atk.Attack(targeter, pacer, cfg.Duration, "loadgen")
	tick := time.NewTicker(cfg.ProgressEvery)
	defer tick.Stop()
	done := ctx.Done()
	for {
		select {
		case r, ok := <-results:
			if !ok {
				return rep.report(), nil
			}
			rep.add(r)
		case <-tick.C:
			if cfg.Progress != nil {
				fmt.Fprintln(cfg.Progress, rep.progressLine())
			}
		case <-done:
			atk.Stop()
			done = nil // keep draining until the results channel closes
		}
	}
}

// scenarioOf reads the scenario back from a result's URL fragment.
func scenarioOf(u string) string {
	if i := strings.LastIndexByte(u, '#'); i >= 0 {
		return u[i+1:]
	}
	return "?"
}

// StatusText names a result code for the error tables; 0 is a request that
// got no answer (refused, reset, timed out).
func StatusText(code string) string {
	if code == "0" {
		return "no answer"
	}
	return code
}
