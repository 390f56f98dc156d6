// Package users is the users service: accounts, profiles and follows. It
// serves the RealWorld user and profile endpoints, the internal account and
// credential endpoints the auth service calls, and a batch profile lookup;
// it publishes users.* events through a transactional outbox.
package users

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

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/modules"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
	"github.com/tungsten-blog/tungsten/internal/users/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/users/app"
	"github.com/tungsten-blog/tungsten/internal/users/domain"
	"github.com/tungsten-blog/tungsten/internal/users/ports/httpapi"
)

// Name is the service's name: its target, producer and metrics label.
const Name = "users"

//go:embed migrations
var migrationsFS embed.FS

// Migrations is the database's schema, in the order it is applied: the
// outbox tables (events.Migrations), then the service's own
// migrations/{postgres,sqlite}/NNNN_*.sql (goose format).
var Migrations = []database.MigrationSet{events.Migrations, {FS: database.EmbeddedMigrations(migrationsFS)}}

// EventTokensRevoked is the event every token verifier follows (ADR 0011).
const EventTokensRevoked = domain.EventTokensRevoked

// Config is the users service's configuration.
type Config struct {
	Argon2Memory      uint // KiB
	Argon2Iterations  uint
	Argon2Parallelism uint
	HashConcurrency   int
	// UsernameReservation is how long a username given up stays reserved
	// for its last holder (ADR 0011).
	UsernameReservation time.Duration
	FollowLimit         int // follows and unfollows one user may make per FollowWindow
	FollowWindow        time.Duration
}

// RegisterFlags registers the users flags with their defaults (OWASP's
// argon2id recommendation).
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	d := domain.DefaultArgon2Params
	f.UintVar(&c.Argon2Memory, "users.argon2-memory", uint(d.Memory), "argon2id memory of new password hashes, in KiB")
	f.UintVar(&c.Argon2Iterations, "users.argon2-iterations", uint(d.Iterations), "argon2id iterations of new password hashes")
	f.UintVar(&c.Argon2Parallelism, "users.argon2-parallelism", uint(d.Parallelism), "argon2id lanes of new password hashes")
	f.IntVar(&c.HashConcurrency, "users.hash-concurrency", 0,
		"password hashes computed at once (each takes --users.argon2-memory); 0 means GOMAXPROCS")
	f.DurationVar(&c.UsernameReservation, "users.username-reservation", 30*24*time.Hour,
		"how long a username given up by a rename or a deleted account stays reserved for its last holder (ADR 0011)")
	f.IntVar(&c.FollowLimit, "users.follow-limit", 60, "profiles followed or unfollowed per user per --users.follow-window (429 beyond)")
	f.DurationVar(&c.FollowWindow, "users.follow-window", time.Minute, "window of the per-user follow limit")
}

// DefaultConfig returns the configuration the flags default to.
func DefaultConfig() Config {
	var c Config
	c.RegisterFlags(flag.NewFlagSet("", flag.ContinueOnError))
	return c
}

func (c *Config) argon2() domain.Argon2Params {
	return domain.Argon2Params{
		Memory: uint32(min(c.Argon2Memory, 1<<32-1)), Iterations: uint32(min(c.Argon2Iterations, 1<<32-1)),
		Parallelism: uint8(min(c.Argon2Parallelism, 255)),
	}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.Argon2Parallelism > 255 {
		errs = append(errs, errors.New("--users.argon2-parallelism must be at most 255"))
	}
	if c.Argon2Memory > domain.MaxArgon2Memory || c.Argon2Iterations > domain.MaxArgon2Iterations {
		errs = append(errs, fmt.Errorf("--users.argon2-memory must be at most %d KiB and --users.argon2-iterations at most %d",
			domain.MaxArgon2Memory, domain.MaxArgon2Iterations))
	} else if err := c.argon2().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--users.argon2-*: %w", err))
	}
	if c.UsernameReservation < 0 {
		errs = append(errs, errors.New("--users.username-reservation must not be negative"))
	}
	if c.HashConcurrency < 0 {
		errs = append(errs, errors.New("--users.hash-concurrency must not be negative"))
	}
	if c.FollowLimit < 1 || c.FollowWindow <= 0 {
		errs = append(errs, errors.New("--users.follow-limit and --users.follow-window must be positive"))
	}
	return errors.Join(errs...)
}

// Deps are the users service's collaborators. Logger, Registerer, Tracer and
// Propagator default to no-ops (tests); DB and Verifier are required, and
// JetStream and Namespace are required by Start; Auth (the auth service,
// which signs a password changer in again) is required to change passwords.
type Deps struct {
	DB             *database.DB
	Verifier       *authn.Verifier
	Auth           *httpx.Client
	Limiter        ratelimit.Limiter // the per-user follow limit; nil: an in-process one
	TrustedProxies []*net.IPNet
	JetStream      jetstream.JetStream
	Namespace      events.Namespace
	Logger         *slog.Logger
	Registerer     prometheus.Registerer // already labelled service=users
	Tracer         trace.Tracer
	Propagator     propagation.TextMapPropagator
	Faults         *faults.Switch // injected latency, errors and dependency failures (ADR 0016); nil: none
}

// Service is the users module.
type Service struct {
	deps     Deps
	relay    *events.Relay
	handler  http.Handler
	patterns []string

	mu      sync.Mutex
	started bool
	workers modules.Workers
}

// New builds the service. It does not touch the network; Start does.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	if deps.DB == nil || deps.Verifier == nil {
		return nil, errors.New("users: DB and Verifier are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Registerer == nil {
		deps.Registerer = prometheus.NewRegistry()
	}
	if deps.Tracer == nil {
		deps.Tracer = noop.NewTracerProvider().Tracer(Name)
	}
	if deps.Propagator == nil {
		deps.Propagator = propagation.TraceContext{}
	}
	relay := events.NewRelay(events.RelayConfig{
		Producer: Name, EventTypes: domain.EventTypes(), Namespace: deps.Namespace,
	}, events.RelayDeps{
		DB: deps.DB, JetStream: deps.JetStream, Faults: deps.Faults, Logger: deps.Logger, Registerer: deps.Registerer,
		Tracer: deps.Tracer, Propagator: deps.Propagator,
	})
	store := sqlstore.New(deps.DB, deps.Propagator)
	// Accounts older than the confusable rule get their skeleton once; a
	// no-op query afterwards.
	bctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	filled, skipped, err := store.BackfillSkeletons(bctx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	if filled > 0 || skipped > 0 {
		deps.Logger.Info("username skeletons backfilled", "filled", filled, "already_confusable", skipped)
	}
	uc, err := app.New(app.Config{Argon2: cfg.argon2(), HashConcurrency: cfg.HashConcurrency,
		UsernameReservation: cfg.UsernameReservation,
		FollowsPerUser:      ratelimit.Rule{Name: "users-user-follows", Limit: cfg.FollowLimit, Window: cfg.FollowWindow},
	}, app.Deps{
		Repo:        store,
		AfterCommit: relay.Kick,
		Logger:      deps.Logger,
		Limiter:     deps.Limiter,
	})
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	rt := httpx.NewRouter()
	httpapi.New(uc, signIn(deps.Auth), deps.TrustedProxies).Register(rt)
	return &Service{
		deps:  deps,
		relay: relay,
		handler: rt.Build(httpx.ServiceConfig{
			Name: Name, Logger: deps.Logger, Registerer: deps.Registerer, Tracer: deps.Tracer,
			Propagator: deps.Propagator, Verifier: deps.Verifier, Faults: deps.Faults,
			MaxBodyBytes: 64 << 10, // an account update: bio (4,000 characters) and image URL at most
		}),
		patterns: rt.Patterns(),
	}, nil
}

// signIn signs in through the auth service's public login, with the
// client's IP, so the same throttles apply as to any sign-in. The IP goes in
// X-Forwarded-For, as the gateway forwards it: auth believes it from users
// (one of its --trusted-proxies) and would otherwise count users' address.
func signIn(c *httpx.Client) httpapi.SignIn {
	return func(ctx context.Context, clientIP, email, password string) (string, error) {
		if c == nil {
			return "", errors.New("no auth service client")
		}
		var in, out struct {
			User struct {
				Email    string `json:"email,omitempty"`
				Password string `json:"password,omitempty"`
				Token    string `json:"token,omitempty"`
			} `json:"user"`
		}
		in.User.Email, in.User.Password = email, password
		h := http.Header{"X-Forwarded-For": {clientIP}}
		if err := c.Do(ctx, http.MethodPost, "/api/users/login", h, in, &out); err != nil {
			return "", err
		}
		return out.User.Token, nil
	}
}

// Handler returns the instrumented HTTP handler.
func (s *Service) Handler() http.Handler { return s.handler }

// Patterns returns the routes the handler serves.
func (s *Service) Patterns() []string { return s.patterns }

// Start ensures the event stream exists and starts the outbox relay. It
// returns once the relay runs; the relay outlives ctx until Stop. A relay
// that dies is reported on Failed.
func (s *Service) Start(ctx context.Context) error {
	if s.deps.JetStream == nil || s.deps.Namespace == "" {
		return errors.New("users: JetStream and Namespace are required to start")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("users: already started")
	}
	if err := s.relay.EnsureStream(ctx); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	s.started = true
	s.workers.Go("outbox relay", s.relay.Run)
	return nil
}

// Failed reports a background worker (the relay) that died.
func (s *Service) Failed() <-chan error { return s.workers.Failed() }

// Stop stops the relay, which publishes what is left in the outbox first,
// and waits for it (or for ctx to end).
func (s *Service) Stop(ctx context.Context) error {
	if err := s.workers.Stop(ctx); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	return nil
}
