// Package api_test checks Tungsten's public API from the outside, over HTTP,
// for everything the RealWorld Postman collection never checks: error
// paths, authorization, ordering, counts, pagination bounds, CORS, bad and
// oversized bodies and forged tokens.
//
// By default it starts the embedded default in process (SQLite, embedded
// NATS). With TUNGSTEN_API_URL set it targets a running Tungsten instead;
// scripts/test.sh points it at the distributed deployment.
package api_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/tungsten-blog/tungsten/internal/app"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// baseURL is the gateway, e.g. http://127.0.0.1:8080.
var baseURL string

func TestMain(m *testing.M) {
	flag.Parse()
	if u := os.Getenv("TUNGSTEN_API_URL"); u != "" {
		baseURL = u
		os.Exit(m.Run())
	}
	stop, err := startEmbedded()
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting Tungsten:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func startEmbedded() (func(), error) {
	dir, err := os.MkdirTemp("", "tungsten-api-*")
	if err != nil {
		return nil, err
	}
	var cfg app.Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{
		"--http-addr=127.0.0.1:0", "--admin-addr=127.0.0.1:0", "--data-dir=" + dir, "--drain-delay=0s",
		"--auth.login-ip-limit=1000", "--gateway.rate-limit=100000",
	}); err != nil {
		return nil, err
	}
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	var logs io.Writer = io.Discard
	if os.Getenv("TUNGSTEN_TEST_LOGS") != "" {
		logs = os.Stderr
	}
	log := telemetry.NewLogger(logs, level)
	trc, err := telemetry.NewTracing(context.Background(), "tungsten-test", "test")
	if err != nil {
		return nil, err
	}
	a, err := app.New(cfg, app.Build{Version: "test"}, log, level, trc)
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
		return nil, err
	case <-time.After(30 * time.Second):
		cancel()
		return nil, fmt.Errorf("not started after 30s")
	}
	baseURL = "http://" + a.PublicAddr()
	return func() {
		cancel()
		<-done
		_ = os.RemoveAll(dir)
	}, nil
}
