// Package auth is the auth service: it signs users in (checking credentials
// with the users service), issues EdDSA-signed JWTs, publishes its public
// keys as a JWKS and rotates its signing keys.
package auth

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/auth/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/auth/adapters/usersclient"
	"github.com/tungsten-blog/tungsten/internal/auth/app"
	"github.com/tungsten-blog/tungsten/internal/auth/domain"
	"github.com/tungsten-blog/tungsten/internal/auth/ports/httpapi"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
)

// Migrations is the auth schema.
var Migrations fs.FS = sqlstore.Migrations

// Config is the auth service's configuration.
type Config struct {
	TokenTTL           time.Duration
	KeyRotation        time.Duration
	ServiceTokenTTL    time.Duration
	LoginIPLimit       int
	LoginIPWindow      time.Duration
	LoginAccountLimit  int
	LoginAccountWindow time.Duration
}

// RegisterFlags registers the auth flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.DurationVar(&c.TokenTTL, "auth.token-ttl", 72*time.Hour, "lifetime of user tokens")
	f.DurationVar(&c.KeyRotation, "auth.key-rotation", 30*24*time.Hour, "how long a signing key signs before a new one takes over")
	f.DurationVar(&c.ServiceTokenTTL, "auth.service-token-ttl", 5*time.Minute, "lifetime of the tokens auth uses to call the users service")
	f.IntVar(&c.LoginIPLimit, "auth.login-ip-limit", 30, "login attempts allowed per client IP per --auth.login-ip-window")
	f.DurationVar(&c.LoginIPWindow, "auth.login-ip-window", time.Minute, "window of the per-IP login limit")
	f.IntVar(&c.LoginAccountLimit, "auth.login-account-limit", 10, "login attempts allowed per account per --auth.login-account-window")
	f.DurationVar(&c.LoginAccountWindow, "auth.login-account-window", 5*time.Minute, "window of the per-account login limit")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.TokenTTL < time.Minute {
		errs = append(errs, fmt.Errorf("--auth.token-ttl must be at least 1m"))
	}
	if c.KeyRotation < c.TokenTTL {
		errs = append(errs, fmt.Errorf("--auth.key-rotation must not be shorter than --auth.token-ttl"))
	}
	if c.ServiceTokenTTL < 10*time.Second {
		errs = append(errs, fmt.Errorf("--auth.service-token-ttl must be at least 10s"))
	}
	if c.LoginIPLimit < 1 || c.LoginAccountLimit < 1 || c.LoginIPWindow <= 0 || c.LoginAccountWindow <= 0 {
		errs = append(errs, fmt.Errorf("login limits and windows must be positive"))
	}
	return errors.Join(errs...)
}

// Deps are the auth service's collaborators.
type Deps struct {
	DB             *database.DB
	Limiter        ratelimit.Limiter
	Users          *httpx.Client
	TrustedProxies []*net.IPNet
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
	Tracer         trace.Tracer
	Propagator     propagation.TextMapPropagator
}

// Service is the auth module.
type Service struct {
	app      *app.Service
	handler  http.Handler
	patterns []string
	log      *slog.Logger
	every    time.Duration

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New builds the service and loads (or creates) its signing keys.
func New(ctx context.Context, cfg Config, deps Deps) (*Service, error) {
	svc := app.New(app.Config{
		Keys:            domain.Policy{RotateEvery: cfg.KeyRotation, TokenTTL: cfg.TokenTTL},
		ServiceTokenTTL: cfg.ServiceTokenTTL,
		LoginPerIP:      ratelimit.Rule{Name: "login-ip", Limit: cfg.LoginIPLimit, Window: cfg.LoginIPWindow},
		LoginPerAccount: ratelimit.Rule{Name: "login-account", Limit: cfg.LoginAccountLimit, Window: cfg.LoginAccountWindow},
	}, sqlstore.New(deps.DB), deps.Limiter, nil)
	svc.SetAccounts(usersclient.New(deps.Users, svc.ServiceToken))
	if err := svc.SyncKeys(ctx); err != nil {
		return nil, fmt.Errorf("loading signing keys: %w", err)
	}
	rt := httpx.NewRouter()
	httpapi.New(svc, deps.TrustedProxies).Register(rt)
	return &Service{
		app: svc,
		handler: rt.Build(httpx.ServiceConfig{
			Name: "auth", Logger: deps.Logger, Registerer: deps.Registerer,
			Tracer: deps.Tracer, Propagator: deps.Propagator,
		}),
		patterns: rt.Patterns(),
		log:      deps.Logger,
		every:    min(time.Minute, cfg.KeyRotation/10),
	}, nil
}

// Handler returns the instrumented HTTP handler.
func (s *Service) Handler() http.Handler { return s.handler }

// Patterns returns the routes the handler serves.
func (s *Service) Patterns() []string { return s.patterns }

// Start begins periodic key rotation.
func (s *Service) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Go(func() {
		t := time.NewTicker(s.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.app.SyncKeys(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("rotating signing keys", "error", err)
				}
			}
		}
	})
	return nil
}

// Stop ends key rotation.
func (s *Service) Stop(context.Context) error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return nil
}
