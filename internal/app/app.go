// Package app is Tungsten's composition root. It registers every module with
// its dependencies, builds the concrete adapters a configuration asks for
// (SQLite or PostgreSQL, in-process or Redis cache, embedded or external
// NATS, in-process or remote neighbours) and runs the process's lifecycle.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/auth"
	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/gateway"
	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/modules"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
	"github.com/tungsten-blog/tungsten/internal/users"
	"github.com/tungsten-blog/tungsten/internal/web"
)

// Module names. The services are targets; the rest are internal.
const (
	All      = "all"
	Gateway  = "gateway"
	Auth     = gateway.Auth
	Users    = gateway.Users
	Blog     = gateway.Blog
	Web      = gateway.Web
	Server   = "server"
	Database = "database"
	Cache    = "cache"
	Events   = "events"
	Verifier = "verifier"
)

// Services are the modules that own a database.
var Services = []string{Auth, Users, Blog}

// migrations are the schema of each service's database (for users and
// blog, the events package's outbox tables first, then their own).
var migrations = map[string][]database.MigrationSet{Auth: auth.Migrations, Users: users.Migrations, Blog: blog.Migrations}

// Build identifies the binary.
type Build struct{ Version, Revision string }

// App is one Tungsten process.
type App struct {
	cfg   Config
	build Build
	log   *slog.Logger
	level *slog.LevelVar
	reg   *prometheus.Registry
	trc   *telemetry.Tracing
	mgr   *modules.Manager
	// faults is the process's one fault switch (ADR 0016), shared by every
	// module and seam; it injects nothing until an operator sets a fault.
	faults *faults.Switch

	targets []string // resolved modules, dependencies first

	// Filled in by module inits.
	dbs       map[string]*database.DB
	handlers  map[string]http.Handler // co-located services by name
	patterns  map[string][]string
	redis     redis.UniversalClient
	cache     cache.Cache
	limiter   ratelimit.Limiter
	nc        *nats.Conn
	js        jetstream.JetStream
	embedded  *events.EmbeddedServer
	verifier  *authn.Verifier
	public    *http.Server
	admin     *http.Server
	publicLn  net.Listener
	adminLn   net.Listener
	stopping  atomic.Bool
	readiness []func(ctx context.Context) error
	serveWG   sync.WaitGroup
	started   chan struct{} // closed once every module runs
}

// New prepares a process for cfg without starting anything.
func New(cfg Config, build Build, log *slog.Logger, level *slog.LevelVar, trc *telemetry.Tracing) (*App, error) {
	a := &App{
		cfg: cfg, build: build, log: log, level: level, trc: trc,
		reg:      telemetry.NewRegistry(build.Version, build.Revision),
		dbs:      map[string]*database.DB{},
		handlers: map[string]http.Handler{},
		patterns: map[string][]string{},
		started:  make(chan struct{}),
	}
	a.faults = faults.New(faults.Deps{Logger: log, Registerer: a.reg})
	a.mgr = a.modules()
	targets, err := a.mgr.Resolve(cfg.Target)
	if err != nil {
		return nil, err
	}
	a.targets = targets
	if err := cfg.Validate(targets); err != nil {
		return nil, err
	}
	return a, nil
}

// Modules lists the modules this process will run, dependencies first.
func (a *App) Modules() []string { return a.targets }

func (a *App) modules() *modules.Manager {
	m := modules.New()
	m.Register(Database, false, a.initDatabase)
	m.Register(Server, false, a.initServer)
	m.Register(Cache, false, a.initCache)
	m.Register(Events, false, a.initEvents)
	m.Register(Verifier, false, a.initVerifier)
	m.Register(Auth, true, a.initAuth)
	m.Register(Users, true, a.initUsers)
	m.Register(Blog, true, a.initBlog)
	m.Register(Web, true, a.initWeb)
	m.Register(Gateway, true, a.initGateway)
	m.RegisterGroup(All)

	m.DependsOn(Auth, Server, Database, Cache)
	m.DependsOn(Users, Server, Database, Events, Verifier, Cache) // Cache: the follow limit's store
	m.DependsOn(Blog, Server, Database, Events, Verifier, Cache)
	m.DependsOn(Web, Server)
	// Every process that verifies tokens follows the revocations (ADR 0011).
	m.DependsOn(Verifier, Events)
	// The gateway comes after co-located services so it can hand requests
	// to their handlers directly.
	var gwDeps []string
	for _, s := range []string{Server, Cache, Verifier, Auth, Users, Blog, Web} {
		if s == Server || s == Cache || s == Verifier || slices.Contains(a.cfg.Target, s) || slices.Contains(a.cfg.Target, All) {
			gwDeps = append(gwDeps, s)
		}
	}
	m.DependsOn(Gateway, gwDeps...)
	m.DependsOn(All, Gateway, Auth, Users, Blog, Web)
	return m
}

func (a *App) runs(module string) bool { return slices.Contains(a.targets, module) }

func (a *App) serviceLogger(name string) *slog.Logger { return a.log.With("service", name) }

func (a *App) registerer(name string) prometheus.Registerer {
	return telemetry.ServiceRegisterer(a.reg, name)
}

func (a *App) tracer(name string) trace.Tracer {
	return a.trc.Provider.Tracer("github.com/tungsten-blog/tungsten/internal/" + name)
}

// --- internal modules ---

// initDatabase opens (and, if configured, migrates) the database of every
// service this process runs. It closes them last, after the listener has
// drained.
func (a *App) initDatabase(ctx context.Context) (modules.Service, error) {
	for _, svc := range Services {
		if !a.runs(svc) {
			continue
		}
		db, err := a.openDB(ctx, svc, a.cfg.MigrateOnStart)
		if err != nil {
			return nil, err
		}
		a.dbs[svc] = db
		a.readiness = append(a.readiness, func(ctx context.Context) error {
			if err := db.Ping(ctx); err != nil {
				return fmt.Errorf("%s database: %w", svc, err)
			}
			return nil
		})
	}
	return modules.Funcs{StopFunc: func(context.Context) error {
		var errs []error
		for _, db := range a.dbs {
			errs = append(errs, db.Close())
		}
		return errors.Join(errs...)
	}}, nil
}

func (a *App) openDB(ctx context.Context, svc string, migrate bool) (*database.DB, error) {
	db, err := database.Open(ctx, database.Config{
		Service: svc, PostgresURL: a.cfg.PostgresURL, DataDir: a.cfg.DataDir, MaxConns: a.cfg.PostgresMaxConns,
		Faults: a.faults,
	}, a.trc.Provider, a.registerer(svc))
	if err != nil {
		return nil, err
	}
	if migrate {
		n, err := db.Migrate(ctx, migrations[svc]...)
		if err != nil {
			_ = db.Close()
			return nil, err
		}
		if n > 0 {
			a.log.Info("applied migrations", "service", svc, "count", n, "dialect", db.Dialect)
		}
	}
	return db, nil
}

// Migrate applies the migrations of every service in the targets and
// returns how many ran per service.
func (a *App) Migrate(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, svc := range Services {
		if !a.runs(svc) {
			continue
		}
		db, err := database.Open(ctx, database.Config{Service: svc, PostgresURL: a.cfg.PostgresURL, DataDir: a.cfg.DataDir, MaxConns: 2}, nil, nil)
		if err != nil {
			return out, err
		}
		n, err := db.Migrate(ctx, migrations[svc]...)
		_ = db.Close()
		if err != nil {
			return out, err
		}
		out[svc] = n
	}
	return out, nil
}

func (a *App) initCache(context.Context) (modules.Service, error) {
	cm := cache.NewMetrics(a.reg, a.cacheBackend())
	lm := ratelimit.NewMetrics(a.reg)
	if a.cfg.RedisURL == "" {
		a.cache = cache.NewMemory(50_000, cm).WithFaults(a.faults)
		a.limiter = ratelimit.NewMemory(lm)
		return nil, nil
	}
	opts, err := redis.ParseURL(a.cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("parsing --redis-url: %w", err)
	}
	opts.DialTimeout = time.Second
	opts.ReadTimeout = 200 * time.Millisecond
	opts.WriteTimeout = 200 * time.Millisecond
	opts.MaxRetries = 1
	opts.ContextTimeoutEnabled = true // honour each call's short deadline
	client := redis.NewClient(opts)
	client.AddHook(telemetry.NewRedisTracing(a.trc.Provider, opts.Addr))
	client.AddHook(cache.NewFaultHook(a.faults)) // inside the tracing hook: spans record injected failures
	a.redis = client
	a.cache = cache.NewRedis(client, a.cfg.RedisPrefix+"cache:", a.log, cm)
	a.limiter = ratelimit.NewRedis(client, a.cfg.RedisPrefix, a.log, lm)
	return modules.Funcs{StopFunc: func(context.Context) error { return client.Close() }}, nil
}

func (a *App) cacheBackend() string {
	if a.cfg.RedisURL == "" {
		return "memory"
	}
	return "redis"
}

func (a *App) initEvents(context.Context) (modules.Service, error) {
	name := "tungsten-" + strings.Join(a.cfg.Target, "+")
	if a.cfg.NATSURL == "" {
		srv, err := events.StartEmbedded(a.cfg.DataDir, a.log)
		if err != nil {
			return nil, err
		}
		a.embedded = srv
		nc, err := srv.Connect(name)
		if err != nil {
			srv.Shutdown()
			return nil, err
		}
		a.nc = nc
	} else {
		nc, err := events.Dial(a.cfg.NATSURL, name)
		if err != nil {
			return nil, err
		}
		a.nc = nc
	}
	js, err := jetstream.New(a.nc)
	if err != nil {
		a.nc.Close()
		return nil, fmt.Errorf("opening JetStream: %w", err)
	}
	a.js = js
	a.readiness = append(a.readiness, func(context.Context) error {
		if !a.nc.IsConnected() {
			return fmt.Errorf("NATS is not connected (%s)", a.nc.Status())
		}
		return nil
	})
	return modules.Funcs{StopFunc: func(context.Context) error {
		if err := a.nc.Drain(); err != nil {
			a.nc.Close()
		}
		if a.embedded != nil {
			a.embedded.Shutdown()
		}
		return nil
	}}, nil
}

func (a *App) initVerifier(context.Context) (modules.Service, error) {
	c := a.client(Auth)
	// Every fetch of auth's key set, by outcome: a process that cannot load
	// keys rejects every token, so failures page (alert TungstenJWKSFetchFailing).
	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tungsten_jwks_fetches_total",
		Help: "Fetches of the auth service's token signing keys (JWKS), by outcome (success, failure).",
	}, []string{"outcome"})
	ok, failed := fetches.WithLabelValues("success"), fetches.WithLabelValues("failure")
	a.reg.MustRegister(fetches)
	a.verifier = authn.NewVerifier(func(ctx context.Context) (authn.JWKS, error) {
		var set authn.JWKS
		err := c.Do(ctx, http.MethodGet, "/.well-known/jwks.json", nil, nil, &set)
		if err != nil {
			failed.Inc()
		} else {
			ok.Inc()
		}
		return set, err
	})
	// Revocations are kept while a token they revoke may still be valid,
	// and replayed from that far back when the process starts.
	keep := a.cfg.Auth.TokenTTL + time.Minute
	revoked := a.verifier.Revocations()
	revoked.SetRetention(keep)
	revocations := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tungsten_token_revocations",
		Help: "Users whose older tokens this process refuses (ADR 0011).",
	}, func() float64 { return float64(revoked.Len()) })
	a.reg.MustRegister(revocations)
	a.readiness = append(a.readiness, func(context.Context) error {
		if !revoked.Current() {
			return errors.New("token revocations are not loaded yet")
		}
		return nil
	})
	// Keys are fetched on first use and refreshed periodically so that
	// rotation is picked up before the first token signed by a new key.
	var cancel context.CancelFunc
	var wg sync.WaitGroup
	return modules.Funcs{
		StartFunc: func(context.Context) error {
			var ctx context.Context
			ctx, cancel = context.WithCancel(context.Background())
			wg.Go(func() { a.refreshKeys(ctx) })
			wg.Go(func() { a.followRevocations(ctx, time.Now().Add(-keep)) })
			return nil
		},
		StopFunc: func(context.Context) error {
			if cancel != nil {
				cancel()
			}
			wg.Wait()
			return nil
		},
	}, nil
}

// followRevocations feeds the verifier's revocation set from the users
// service's users.tokens.revoked events, from since on.
func (a *App) followRevocations(ctx context.Context, since time.Time) {
	revoked := a.verifier.Revocations()
	events.Tail(ctx, a.js, events.TailConfig{
		Producer: users.Name, EventType: users.EventTokensRevoked, Namespace: events.Namespace(a.cfg.NATSNamespace),
		Since: since, Logger: a.log,
		Handle: func(ev events.Event) {
			var rv authn.Revocation
			if err := json.Unmarshal(ev.Data, &rv); err != nil || rv.UserID <= 0 {
				a.log.Error("dropping malformed token revocation", "event_id", ev.ID, "error", err)
				return
			}
			revoked.Add(rv)
		},
		CaughtUp: func() {
			revoked.SetCurrent(true)
			a.log.Info("token revocations loaded", "users", revoked.Len())
		},
	})
}

func (a *App) refreshKeys(ctx context.Context) {
	delay := 100 * time.Millisecond
	for {
		rctx, cancel := context.WithTimeout(ctx, a.cfg.ClientTimeout)
		err := a.verifier.Refresh(rctx)
		cancel()
		switch {
		case err == nil && a.verifier.Ready():
			delay = 5 * time.Minute
		case err != nil && ctx.Err() == nil:
			a.log.Warn("fetching token keys from auth; will retry", "error", err)
			delay = min(delay*2, 10*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// client returns a typed HTTP client for a neighbour: in process when the
// neighbour runs here, over the network otherwise.
func (a *App) client(service string) *httpx.Client {
	cfg := httpx.ClientConfig{
		Service: service, Timeout: a.cfg.ClientTimeout,
		Tracer: a.tracer("client"), Propagator: a.trc.Propagator, Faults: a.faults,
	}
	if a.runs(service) {
		cfg.Transport = httpx.InProcess{Handler: a.lazyHandler(service)}
	} else {
		cfg.BaseURL = map[string]string{Auth: a.cfg.AuthURL, Users: a.cfg.UsersURL, Blog: a.cfg.BlogURL, Web: a.cfg.WebURL}[service]
	}
	return httpx.NewClient(cfg)
}

// lazyHandler resolves a co-located service's handler at request time, so
// clients can be built before the service they call is initialised.
func (a *App) lazyHandler(service string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := a.handlers[service]
		if !ok {
			httpx.WriteError(w, r, fmt.Errorf("%s is not initialised", service))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// --- services ---

func (a *App) addService(name string, h http.Handler, patterns []string) {
	a.handlers[name] = h
	a.patterns[name] = patterns
}

func (a *App) initAuth(ctx context.Context) (modules.Service, error) {
	trusted, _ := httpx.ParseCIDRs(a.cfg.TrustedProxies)
	svc, err := auth.New(ctx, a.cfg.Auth, auth.Deps{
		DB: a.dbs[Auth], Limiter: a.limiter, Users: a.client(Users), TrustedProxies: trusted,
		Logger: a.serviceLogger(Auth), Registerer: a.registerer(Auth), Tracer: a.tracer(Auth), Propagator: a.trc.Propagator, Faults: a.faults,
	})
	if err != nil {
		return nil, err
	}
	a.addService(Auth, svc.Handler(), svc.Patterns())
	return svc, nil
}

func (a *App) initUsers(context.Context) (modules.Service, error) {
	trusted, _ := httpx.ParseCIDRs(a.cfg.TrustedProxies)
	svc, err := users.New(a.cfg.Users, users.Deps{
		DB: a.dbs[Users], Verifier: a.verifier, Auth: a.client(Auth), Limiter: a.limiter, TrustedProxies: trusted, JetStream: a.js, Namespace: events.Namespace(a.cfg.NATSNamespace),
		Logger: a.serviceLogger(Users), Registerer: a.registerer(Users), Tracer: a.tracer(Users), Propagator: a.trc.Propagator, Faults: a.faults,
	})
	if err != nil {
		return nil, err
	}
	a.addService(Users, svc.Handler(), svc.Patterns())
	return svc, nil
}

func (a *App) initBlog(context.Context) (modules.Service, error) {
	svc, err := blog.New(a.cfg.Blog, blog.Deps{
		DB: a.dbs[Blog], Cache: a.cache, Limiter: a.limiter, Users: a.client(Users), Verifier: a.verifier,
		JetStream: a.js, Namespace: events.Namespace(a.cfg.NATSNamespace),
		Logger: a.serviceLogger(Blog), Registerer: a.registerer(Blog), Tracer: a.tracer(Blog), Propagator: a.trc.Propagator, Faults: a.faults,
	})
	if err != nil {
		return nil, err
	}
	a.addService(Blog, svc.Handler(), svc.Patterns())
	return svc, nil
}

func (a *App) initWeb(context.Context) (modules.Service, error) {
	trusted, _ := httpx.ParseCIDRs(a.cfg.TrustedProxies)
	svc, err := web.New(a.cfg.Web, web.Deps{
		Version: a.build.Version, TrustedProxies: trusted, Auth: a.client(Auth), Users: a.client(Users), Blog: a.client(Blog),
		Logger: a.serviceLogger(Web), Registerer: a.registerer(Web),
		Tracer: a.tracer(Web), Propagator: a.trc.Propagator, Faults: a.faults,
	})
	if err != nil {
		return nil, err
	}
	a.addService(Web, svc.Handler(), svc.Patterns())
	return nil, nil
}

func (a *App) initGateway(context.Context) (modules.Service, error) {
	backends, local := map[string]http.Handler{}, map[string]bool{}
	urls := map[string]string{Auth: a.cfg.AuthURL, Users: a.cfg.UsersURL, Blog: a.cfg.BlogURL, Web: a.cfg.WebURL}
	for _, name := range []string{Auth, Users, Blog, Web} {
		if h, ok := a.handlers[name]; ok {
			backends[name], local[name] = h, true
			continue
		}
		h, err := gateway.NewRemote(name, urls[name], a.log)
		if err != nil {
			return nil, err
		}
		backends[name] = h
	}
	gw, err := gateway.New(a.cfg.Gateway, gateway.Deps{
		Backends: backends, Local: local, Verifier: a.verifier, Limiter: a.limiter,
		Logger: a.serviceLogger(Gateway), Registerer: a.registerer(Gateway), Tracer: a.tracer(Gateway), Propagator: a.trc.Propagator, Faults: a.faults,
	})
	if err != nil {
		return nil, err
	}
	a.handlers[Gateway] = gw.Handler()
	return nil, nil
}
