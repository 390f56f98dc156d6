package app

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tungsten-blog/tungsten/internal/auth"
	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/gateway"
	"github.com/tungsten-blog/tungsten/internal/platform/config"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
	"github.com/tungsten-blog/tungsten/internal/users"
	"github.com/tungsten-blog/tungsten/internal/web"
)

// Config is the root configuration of a Tungsten process.
type Config struct {
	Target    config.StringList
	HTTPAddr  string
	AdminAddr string
	// AdminPprof serves /debug/pprof on the admin listener.
	AdminPprof bool
	// AdminToken, when set, lets a request from any address change the log
	// level with "Authorization: Bearer <token>"; without it only loopback may.
	// Fault injection (/admin/faults) is refused without it (ADR 0016).
	AdminToken string
	// FaultsCrashOnStart makes the process exit non-zero right after
	// initialisation (a crash-looping pod, on purpose); it needs AdminToken.
	FaultsCrashOnStart bool
	DataDir            string

	PostgresURL      string
	PostgresMaxConns int
	MigrateOnStart   bool

	RedisURL    string
	RedisPrefix string

	NATSURL       string
	NATSNamespace string

	AuthURL  string
	UsersURL string
	BlogURL  string
	WebURL   string

	ClientTimeout   time.Duration
	TrustedProxies  config.StringList
	DrainDelay      time.Duration
	ShutdownTimeout time.Duration
	LogLevel        string

	// MigrateOnly is set by `tungsten migrate`: it calls no neighbour, so
	// their URLs are not required.
	MigrateOnly bool

	Auth    auth.Config
	Users   users.Config
	Blog    blog.Config
	Gateway gateway.Config
	Web     web.Config
}

// RegisterFlags registers every flag of the process.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	c.Target = config.StringList{"all"}
	f.Var(&c.Target, "target", "modules to run, comma-separated: all, gateway, auth, users, blog, web")
	f.StringVar(&c.HTTPAddr, "http-addr", ":8080", "public listener (API and web UI)")
	f.StringVar(&c.AdminAddr, "admin-addr", "127.0.0.1:9090", "admin listener: /healthz, /readyz, /metrics, /admin/log-level, /admin/faults and, with --admin.pprof, /debug/pprof; loopback by default (Kubernetes sets 0.0.0.0:9090 for probes and Prometheus)")
	f.BoolVar(&c.AdminPprof, "admin.pprof", false, "serve /debug/pprof on the admin listener (its cmdline shows every flag: pass secrets by environment)")
	f.StringVar(&c.AdminToken, "admin.token", "", "bearer token that allows changing the log level (POST/PUT /admin/log-level) from a non-loopback address, and that fault injection (/admin/faults, --faults.crash-on-start) requires; without it only loopback may change the level and fault injection is off (set it by environment, not by flag)")
	f.BoolVar(&c.FaultsCrashOnStart, "faults.crash-on-start", false, "fault injection: log an error and exit non-zero right after initialisation (needs --admin.token)")
	f.StringVar(&c.DataDir, "data-dir", "./data", "embedded storage: SQLite files and the embedded NATS store")

	f.StringVar(&c.PostgresURL, "postgres-url", "", "PostgreSQL URL; when set, services use PostgreSQL (a schema each) instead of SQLite")
	f.IntVar(&c.PostgresMaxConns, "postgres-max-conns", 16, "connection pool size per service")
	f.BoolVar(&c.MigrateOnStart, "migrate-on-start", true, "apply database migrations at start (turn off when a migration job runs them)")

	f.StringVar(&c.RedisURL, "redis-url", "", "Redis URL for the shared cache and rate limits; in-process equivalents when empty")
	f.StringVar(&c.RedisPrefix, "redis-prefix", "tungsten:", "prefix of every Redis key")

	f.StringVar(&c.NATSURL, "nats-url", "", "NATS URL (JetStream); an embedded server is started when empty")
	f.StringVar(&c.NATSNamespace, "nats-namespace", "tungsten", "prefix of NATS subjects, streams and consumers")

	f.StringVar(&c.AuthURL, "auth-url", "", "base URL of the auth service when it runs in another process")
	f.StringVar(&c.UsersURL, "users-url", "", "base URL of the users service when it runs in another process")
	f.StringVar(&c.BlogURL, "blog-url", "", "base URL of the blog service when it runs in another process")
	f.StringVar(&c.WebURL, "web-url", "", "base URL of the web UI when it runs in another process")

	f.DurationVar(&c.ClientTimeout, "client-timeout", 5*time.Second, "deadline of every call to another service")
	c.TrustedProxies = config.StringList{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
	f.Var(&c.TrustedProxies, "trusted-proxies", "CIDRs of the proxies (the gateway, web, a mesh sidecar) whose X-Forwarded-For/-Proto the services believe; the client is the right-most entry not in this list")
	f.DurationVar(&c.DrainDelay, "drain-delay", 2*time.Second, "on SIGTERM, how long to report not-ready before closing the listener")
	f.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 25*time.Second, "how long in-flight work may take to finish on shutdown")
	f.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error (changeable at run time on the admin port)")

	c.Auth.RegisterFlags(f)
	c.Users.RegisterFlags(f)
	c.Blog.RegisterFlags(f)
	c.Gateway.RegisterFlags(f)
	c.Web.RegisterFlags(f)
}

// neighbours says which services each module calls.
var neighbours = map[string][]string{
	gateway.Auth:  {gateway.Users},
	gateway.Blog:  {gateway.Users, gateway.Auth},
	gateway.Users: {gateway.Auth},
	gateway.Web:   {gateway.Auth, gateway.Users, gateway.Blog},
	"gateway":     {gateway.Auth, gateway.Users, gateway.Blog, gateway.Web},
}

// Validate checks the configuration against the modules it will run.
func (c *Config) Validate(modules []string) error {
	var errs []error
	if c.HTTPAddr == "" || c.AdminAddr == "" {
		errs = append(errs, fmt.Errorf("--http-addr and --admin-addr must be set"))
	}
	if c.HTTPAddr == c.AdminAddr && !strings.HasSuffix(c.HTTPAddr, ":0") {
		errs = append(errs, fmt.Errorf("--http-addr and --admin-addr must differ"))
	}
	if c.PostgresURL == "" && c.DataDir == "" {
		errs = append(errs, fmt.Errorf("--data-dir must be set when --postgres-url is empty"))
	}
	if c.ClientTimeout <= 0 || c.ShutdownTimeout <= 0 || c.DrainDelay < 0 {
		errs = append(errs, fmt.Errorf("--client-timeout and --shutdown-timeout must be positive, --drain-delay not negative"))
	}
	if c.FaultsCrashOnStart && c.AdminToken == "" {
		errs = append(errs, fmt.Errorf("--faults.crash-on-start needs --admin.token (TUNGSTEN_ADMIN_TOKEN): fault injection is off without an operator token"))
	}
	if _, err := telemetry.ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, fmt.Errorf("--log-level: %w", err))
	}
	if _, err := httpx.ParseCIDRs(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("--trusted-proxies: %w", err))
	}
	urls := map[string]string{gateway.Auth: c.AuthURL, gateway.Users: c.UsersURL, gateway.Blog: c.BlogURL, gateway.Web: c.WebURL}
	for _, m := range modules {
		if c.MigrateOnly {
			break
		}
		for _, n := range neighbours[m] {
			if !slices.Contains(modules, n) && urls[n] == "" {
				errs = append(errs, fmt.Errorf("%s calls %s, which is not in --target: set --%s-url", m, n, n))
			}
		}
	}
	if c.Auth.TokenTTL+time.Minute > events.StreamMaxAge {
		// A restarted process replays revocations from the stream for one
		// token lifetime (ADR 0011); older ones would be gone from it.
		errs = append(errs, fmt.Errorf("--auth.token-ttl must be shorter than the event streams' retention (%v) less a minute", events.StreamMaxAge))
	}
	for _, v := range []interface{ Validate() error }{&c.Auth, &c.Users, &c.Blog, &c.Gateway, &c.Web} {
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
