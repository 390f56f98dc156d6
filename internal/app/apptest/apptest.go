// Package apptest starts a whole Tungsten process in a test: the embedded
// default (SQLite, embedded NATS) on loopback ports and a temporary data
// directory, with the same composition root production uses.
package apptest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/tungsten-blog/tungsten/internal/app"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// Instance is a running process.
type Instance struct {
	App     *app.App
	BaseURL string // the public listener, e.g. http://127.0.0.1:41234
	stop    func()
}

// OneClientLimits lift the per-IP and per-user limits (sign-in, sign-up, the gateway's
// requests, blog writes, favorites, follows) that a test sending everything from one
// address as a handful of users would hit, and widen the password-hashing bound (a busy
// test machine would otherwise turn a hash that waits over a second for a slot into a
// 503); the abuse tests set their own.
var OneClientLimits = []string{
	"--auth.login-ip-limit=1000", "--gateway.rate-limit=100000",
	"--auth.register-ip-limit=100000", "--blog.write-limit=100000",
	"--blog.favorite-limit=100000", "--users.follow-limit=100000",
	"--users.hash-concurrency=8",
}

// Stop shuts the process down and removes its data directory.
func (i *Instance) Stop() { i.stop() }

// StartEmbedded starts every module with generous rate limits (tests send
// many requests from one address) plus any extra flags. It is meant for
// TestMain, so it returns an error instead of taking a *testing.T. Logs are
// discarded unless TUNGSTEN_TEST_LOGS is set.
func StartEmbedded(extraArgs ...string) (*Instance, error) {
	dir, err := os.MkdirTemp("", "tungsten-test-*")
	if err != nil {
		return nil, err
	}
	var cfg app.Config
	fs := flag.NewFlagSet("apptest", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	args := append(append([]string{
		"--http-addr=127.0.0.1:0", "--admin-addr=127.0.0.1:0", "--data-dir=" + dir, "--drain-delay=0s",
	}, OneClientLimits...), extraArgs...)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	var logs io.Writer = io.Discard
	if os.Getenv("TUNGSTEN_TEST_LOGS") != "" {
		logs = os.Stderr
	}
	trc, err := telemetry.NewTracing(context.Background(), "tungsten-test", "test")
	if err != nil {
		return nil, err
	}
	a, err := app.New(cfg, app.Build{Version: "test"}, telemetry.NewLogger(logs, level), level, trc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, time.Now()) }()
	select {
	case <-a.Started():
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("starting Tungsten: %w", err)
	case <-time.After(30 * time.Second):
		cancel()
		return nil, fmt.Errorf("tungsten did not start within 30s")
	}
	return &Instance{App: a, BaseURL: "http://" + a.PublicAddr(), stop: func() {
		cancel()
		<-done
		_ = os.RemoveAll(dir)
	}}, nil
}
