// Package blog is the blog service: articles, comments, tags, favorites,
// categories and search, with a local read model of author profiles and
// follows fed by the users service's events (so reads keep working while
// users is down). This file is the module's composition root.
package blog

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tungsten-blog/tungsten/internal/blog/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/blog/adapters/usersclient"
	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/blog/blogevents"
	"github.com/tungsten-blog/tungsten/internal/blog/ports/eventsub"
	"github.com/tungsten-blog/tungsten/internal/blog/ports/httpapi"
	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/modules"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
)

// Name is the service's name: its target, metrics label and database.
const Name = "blog"

//go:embed migrations
var migrations embed.FS

// Migrations is the database's schema, in the order it is applied: the
// outbox tables (events.Migrations), then the service's own
// migrations/{postgres,sqlite}/NNNN_*.sql (goose format).
var Migrations = []database.MigrationSet{events.Migrations, {FS: database.EmbeddedMigrations(migrations)}}

// Config holds the blog's options.
type Config struct {
	ListCacheTTL      time.Duration // how long a cached list page may be served; 0 disables caching
	CacheStaleness    time.Duration // how long a cached read may outlive a write by someone else; 0: never
	DefaultLimit      int           // page size when the client gives none
	MaxLimit          int           // largest page size a client may ask for
	TagsLimit         int           // most tags GET /api/tags returns
	MaxBodyBytes      int64         // largest request body
	UsersCooldown     time.Duration // after users failed, how long reads skip the fallback lookup
	RelayPollInterval time.Duration // how often the outbox relay looks when not kicked
	WriteLimit        int           // articles and comments one user may write per WriteWindow
	WriteWindow       time.Duration
	FavoriteLimit     int // favorites one user may add or take back per FavoriteWindow
	FavoriteWindow    time.Duration
}

// RegisterFlags registers the options as flags named "blog.<option>", with
// their defaults.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.DurationVar(&c.ListCacheTTL, "blog.list-cache-ttl", 30*time.Second, "how long a cached read (article lists, feed, article, tags, categories) may be served; writes invalidate them (see blog.cache-staleness), so this bounds staleness only when an invalidation fails (0 disables the cache; ADR 0006)")
	f.DurationVar(&c.CacheStaleness, "blog.cache-staleness", time.Second, "how long after it was read a cached read may still be served once another user's write made it stale; a writer always sees their own writes at once (0: everyone does; at most blog.list-cache-ttl; ADR 0012)")
	f.IntVar(&c.DefaultLimit, "blog.default-limit", 20, "articles per page when the client sets no limit")
	f.IntVar(&c.MaxLimit, "blog.max-limit", 100, "largest limit a client may ask for")
	f.IntVar(&c.TagsLimit, "blog.tags-limit", 200, "most tags GET /api/tags returns (most used first)")
	f.Int64Var(&c.MaxBodyBytes, "blog.max-body-bytes", 2<<20, "largest request body, in bytes")
	f.DurationVar(&c.UsersCooldown, "blog.users-cooldown", 5*time.Second, "after the users service failed, how long reads skip the fallback lookup")
	f.DurationVar(&c.RelayPollInterval, "blog.relay-poll-interval", time.Second, "how often the outbox relay looks for events when not woken")
	f.IntVar(&c.WriteLimit, "blog.write-limit", 30, "articles created or updated and comments posted per user per --blog.write-window (429 beyond)")
	f.DurationVar(&c.WriteWindow, "blog.write-window", time.Minute, "window of the per-user write limit")
	f.IntVar(&c.FavoriteLimit, "blog.favorite-limit", 60, "articles favorited or unfavorited per user per --blog.favorite-window (429 beyond)")
	f.DurationVar(&c.FavoriteWindow, "blog.favorite-window", time.Minute, "window of the per-user favorite limit")
}

// DefaultConfig returns the flag defaults.
func DefaultConfig() Config {
	var c Config
	c.RegisterFlags(flag.NewFlagSet(Name, flag.ContinueOnError))
	return c
}

// Validate checks the options.
func (c *Config) Validate() error {
	var errs []error
	if c.ListCacheTTL < 0 {
		errs = append(errs, errors.New("blog.list-cache-ttl must not be negative"))
	}
	if c.CacheStaleness < 0 {
		errs = append(errs, errors.New("blog.cache-staleness must not be negative"))
	} else if c.ListCacheTTL > 0 && c.CacheStaleness > c.ListCacheTTL {
		errs = append(errs, errors.New("blog.cache-staleness must not exceed blog.list-cache-ttl"))
	}
	if c.MaxLimit < 1 || c.MaxLimit > 1000 {
		errs = append(errs, errors.New("blog.max-limit must be from 1 to 1000"))
	}
	if c.DefaultLimit < 1 || c.DefaultLimit > c.MaxLimit {
		errs = append(errs, errors.New("blog.default-limit must be from 1 to blog.max-limit"))
	}
	if c.TagsLimit < 1 {
		errs = append(errs, errors.New("blog.tags-limit must be positive"))
	}
	if c.MaxBodyBytes < 64<<10 {
		errs = append(errs, errors.New("blog.max-body-bytes must be at least 65536"))
	}
	if c.UsersCooldown < 0 {
		errs = append(errs, errors.New("blog.users-cooldown must not be negative"))
	}
	if c.RelayPollInterval <= 0 {
		errs = append(errs, errors.New("blog.relay-poll-interval must be positive"))
	}
	if c.WriteLimit < 1 || c.WriteWindow <= 0 {
		errs = append(errs, errors.New("blog.write-limit and blog.write-window must be positive"))
	}
	if c.FavoriteLimit < 1 || c.FavoriteWindow <= 0 {
		errs = append(errs, errors.New("blog.favorite-limit and blog.favorite-window must be positive"))
	}
	return errors.Join(errs...)
}

// Deps are the blog's collaborators. DB is required; Cache (nil: no cache),
// Users (nil: no fallback lookups) and JetStream (nil: Start fails) may be
// absent in tests.
type Deps struct {
	DB         *database.DB
	Cache      cache.Cache
	Limiter    ratelimit.Limiter // per-user write and favorite limits; nil: an in-process one
	Users      *httpx.Client
	Verifier   *authn.Verifier
	JetStream  jetstream.JetStream
	Namespace  events.Namespace
	Logger     *slog.Logger
	Registerer prometheus.Registerer // already labelled service=blog
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	Faults     *faults.Switch   // injected latency, errors and dependency failures (ADR 0016); nil: none
	Now        func() time.Time // the clock of cache entries' ages (nil: time.Now)
}

// Service is the blog module.
type Service struct {
	cfg       Config
	deps      Deps
	store     *sqlstore.Store
	handler   http.Handler
	patterns  []string
	relay     *events.Relay
	consumer  *events.Consumer // users events → read model of authors
	ownEvents *events.Consumer // blog events → list cache invalidation

	mu      sync.Mutex
	started bool
	workers modules.Workers
}

// New wires the blog.
func New(cfg Config, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("blog config: %w", err)
	}
	if deps.DB == nil {
		return nil, errors.New("blog: a database is required")
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
		deps.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	if deps.Namespace == "" {
		deps.Namespace = "tungsten"
	}
	s := &Service{cfg: cfg, deps: deps}
	s.store = sqlstore.New(deps.DB, deps.Propagator, nil)
	s.relay = events.NewRelay(events.RelayConfig{
		Producer: Name, EventTypes: blogevents.Types(), Namespace: deps.Namespace, PollInterval: cfg.RelayPollInterval,
	}, events.RelayDeps{DB: deps.DB, JetStream: deps.JetStream, Faults: deps.Faults, Logger: deps.Logger, Registerer: deps.Registerer,
		Tracer: deps.Tracer, Propagator: deps.Propagator})
	var profiles app.Profiles
	if deps.Users != nil {
		profiles = usersclient.New(deps.Users)
	}
	svc := app.New(app.Config{
		DefaultLimit: cfg.DefaultLimit, MaxLimit: cfg.MaxLimit, TagsLimit: cfg.TagsLimit,
		ListCacheTTL: cfg.ListCacheTTL, Staleness: cfg.CacheStaleness, UsersCooldown: cfg.UsersCooldown,
		WritesPerUser:    ratelimit.Rule{Name: "blog-user-writes", Limit: cfg.WriteLimit, Window: cfg.WriteWindow},
		FavoritesPerUser: ratelimit.Rule{Name: "blog-user-favorites", Limit: cfg.FavoriteLimit, Window: cfg.FavoriteWindow},
	}, app.Deps{Repo: s.store, Profiles: profiles, Cache: deps.Cache, Limiter: deps.Limiter, Encoder: httpapi.Encoder{},
		Kick: s.relay.Kick, Logger: deps.Logger, Now: deps.Now})
	s.consumer = events.NewConsumer(events.ConsumerConfig{
		Name: eventsub.ConsumerName, Producer: "users", EventTypes: eventsub.EventTypes, Namespace: deps.Namespace,
		Handler: eventsub.Handler(s.store, svc, deps.Logger),
	}, events.ConsumerDeps{DB: deps.DB, JetStream: deps.JetStream, Faults: deps.Faults, Logger: deps.Logger, Registerer: deps.Registerer,
		Tracer: deps.Tracer, Propagator: deps.Propagator})
	s.ownEvents = events.NewConsumer(events.ConsumerConfig{
		Name: eventsub.CacheConsumerName, Producer: Name, EventTypes: blogevents.Types(), Namespace: deps.Namespace,
		Handler: eventsub.CacheHandler(svc),
		// Bumping the generation twice only invalidates twice: no
		// transaction and no processed_events row per blog write.
		Idempotent: true,
	}, events.ConsumerDeps{DB: deps.DB, JetStream: deps.JetStream, Faults: deps.Faults, Logger: deps.Logger, Registerer: deps.Registerer,
		Tracer: deps.Tracer, Propagator: deps.Propagator})

	rt := httpx.NewRouter()
	httpapi.Register(rt, svc)
	s.patterns = rt.Patterns()
	s.handler = rt.Build(httpx.ServiceConfig{
		Name: Name, Logger: deps.Logger, Registerer: deps.Registerer, Tracer: deps.Tracer,
		Propagator: deps.Propagator, Verifier: deps.Verifier, MaxBodyBytes: cfg.MaxBodyBytes, Faults: deps.Faults,
	})
	return s, nil
}

// Handler serves the blog's routes behind the service middleware chain.
func (s *Service) Handler() http.Handler { return s.handler }

// Patterns lists the routes, for the process router.
func (s *Service) Patterns() []string { return s.patterns }

// Store exposes the repository (read model checks in tests and tools).
func (s *Service) Store() *sqlstore.Store { return s.store }

// Start creates the blog's stream, starts the outbox relay and the consumer
// of users events, and returns. When the users stream does not exist yet
// (users has not started), the consumer keeps trying in the background:
// the blog serves meanwhile from its read model and fallback lookups. A
// worker (relay, consumer) that dies is reported on Failed.
func (s *Service) Start(ctx context.Context) error {
	if s.deps.JetStream == nil {
		return errors.New("blog: starting needs JetStream")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("blog: already started")
	}
	// Articles written before the search index existed (or before a
	// migration emptied it) become searchable before the blog serves.
	n, err := s.store.Reindex(ctx)
	if err != nil {
		return fmt.Errorf("starting blog: %w", err)
	}
	if n > 0 {
		s.deps.Logger.InfoContext(ctx, "indexed articles for search", "articles", n)
	}
	if err := s.relay.EnsureStream(ctx); err != nil {
		return fmt.Errorf("starting blog: %w", err)
	}
	if err := s.ownEvents.Start(ctx); err != nil { // the stream was just ensured
		return fmt.Errorf("starting blog's own-events consumer: %w", err)
	}
	err = s.consumer.Start(ctx)
	if err != nil && !events.IsStreamMissing(err) {
		return fmt.Errorf("starting blog's users consumer: %w", err)
	}
	s.started = true
	if err != nil {
		s.deps.Logger.WarnContext(ctx, "users stream missing; consuming once it exists", "error", err)
		s.workers.Go("users events consumer", s.retryConsumer)
	} else {
		s.workers.Go("users events consumer", s.consumer.Run)
	}
	s.workers.Go("own events consumer", s.ownEvents.Run)
	s.workers.Go("outbox relay", s.relay.Run)
	return nil
}

// retryConsumer starts the users consumer once the users stream exists,
// then runs it.
func (s *Service) retryConsumer(ctx context.Context) error {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		err := s.consumer.Start(ctx)
		if err == nil {
			s.deps.Logger.InfoContext(ctx, "consuming users events")
			return s.consumer.Run(ctx)
		}
		if !events.IsStreamMissing(err) && ctx.Err() == nil {
			s.deps.Logger.WarnContext(ctx, "starting users consumer", "error", err)
		}
	}
}

// Failed reports a background worker that died.
func (s *Service) Failed() <-chan error { return s.workers.Failed() }

// Stop stops the consumers and the relay, and waits for every one of them;
// the relay publishes what is left in the outbox on its way out. It waits
// until ctx ends at most.
func (s *Service) Stop(ctx context.Context) error {
	if err := s.workers.Stop(ctx); err != nil {
		return fmt.Errorf("stopping blog: %w", err)
	}
	return nil
}
