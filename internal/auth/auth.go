// Package auth is the auth service: it signs users in (checking credentials
// with the users service), issues EdDSA-signed JWTs, publishes its public
// keys as a JWKS and rotates its signing keys.
package auth

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
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
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
)

//go:embed migrations
var migrationsFS embed.FS

// Migrations is the auth schema: migrations/{postgres,sqlite}/NNNN_*.sql
// (goose format). Auth neither produces nor consumes events, so its
// database has no outbox tables.
var Migrations = []database.MigrationSet{{FS: database.EmbeddedMigrations(migrationsFS)}}

// Config is the auth service's configuration.
type Config struct {
	TokenTTL           time.Duration
	KeyRotation        time.Duration
	ServiceTokenTTL    time.Duration
	LoginIPLimit       int
	LoginIPWindow      time.Duration
	LoginAccountLimit  int
	LoginAccountWindow time.Duration
	LoginPairLimit     int
	LoginPairWindow    time.Duration
	RegisterIPLimit    int
	RegisterIPWindow   time.Duration
}

// RegisterFlags registers the auth flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.DurationVar(&c.TokenTTL, "auth.token-ttl", 72*time.Hour, "lifetime of user tokens")
	f.DurationVar(&c.KeyRotation, "auth.key-rotation", 30*24*time.Hour, "how long a signing key signs before a new one takes over")
	f.DurationVar(&c.ServiceTokenTTL, "auth.service-token-ttl", 5*time.Minute, "lifetime of the tokens auth uses to call the users service")
	f.IntVar(&c.LoginIPLimit, "auth.login-ip-limit", 30, "login attempts allowed per client IP per --auth.login-ip-window")
	f.DurationVar(&c.LoginIPWindow, "auth.login-ip-window", time.Minute, "window of the per-IP login limit")
	f.IntVar(&c.LoginPairLimit, "auth.login-ip-account-limit", 10, "login attempts allowed per client IP and account per --auth.login-ip-account-window")
	f.DurationVar(&c.LoginPairWindow, "auth.login-ip-account-window", 15*time.Minute, "window of the per-IP-and-account login limit")
	f.IntVar(&c.LoginAccountLimit, "auth.login-account-limit", 100, "login attempts per account per --auth.login-account-window from all IPs; beyond it the account is under attack and each IP gets only its first attempt per --auth.login-ip-account-window (a backoff, not a lockout: the owner on a fresh IP still signs in)")
	f.DurationVar(&c.LoginAccountWindow, "auth.login-account-window", 15*time.Minute, "window of the per-account login limit")
	f.IntVar(&c.RegisterIPLimit, "auth.register-ip-limit", 20, "sign-ups allowed per client IP per --auth.register-ip-window (each costs an argon2id hash)")
	f.DurationVar(&c.RegisterIPWindow, "auth.register-ip-window", time.Hour, "window of the per-IP sign-up limit")
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
	if c.LoginIPLimit < 1 || c.LoginAccountLimit < 1 || c.LoginPairLimit < 1 || c.RegisterIPLimit < 1 ||
		c.LoginIPWindow <= 0 || c.LoginAccountWindow <= 0 || c.LoginPairWindow <= 0 || c.RegisterIPWindow <= 0 {
		errs = append(errs, fmt.Errorf("login and sign-up limits and windows must be positive"))
	}
	return errors.Join(errs...)
}

// MaxBodyBytes bounds sign-up and sign-in bodies: a few short fields, so an
// oversized body is refused (413) before it is decoded.
const MaxBodyBytes = 16 << 10

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
	Faults         *faults.Switch // injected latency, errors and dependency failures (ADR 0016); nil: none
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
		LoginPerPair:    ratelimit.Rule{Name: "login-ip-account", Limit: cfg.LoginPairLimit, Window: cfg.LoginPairWindow},
		RegisterPerIP:   ratelimit.Rule{Name: "register-ip", Limit: cfg.RegisterIPLimit, Window: cfg.RegisterIPWindow},
	}, sqlstore.New(deps.DB), deps.Limiter, deps.Faults.Now) // a clock fault skews the issuer (ADR 0021)
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
			Tracer: deps.Tracer, Propagator: deps.Propagator, Faults: deps.Faults,
			MaxBodyBytes: MaxBodyBytes,
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
