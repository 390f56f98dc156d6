// Package gateway is Tungsten's only public entry. It routes /api/* to the
// services and everything else to the web UI, and applies the edge
// policies: CORS, token verification, per-IP rate limits shared through
// Redis, body limits, deadlines, request IDs and the root span of every trace.
package gateway

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/api"
	authapi "github.com/tungsten-blog/tungsten/internal/auth/ports/httpapi"
	blogapi "github.com/tungsten-blog/tungsten/internal/blog/ports/httpapi"
	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/config"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
	usersapi "github.com/tungsten-blog/tungsten/internal/users/ports/httpapi"
)

// Backends the gateway routes to.
const (
	Auth  = "auth"
	Users = "users"
	Blog  = "blog"
	Web   = "web"
)

// Routes maps every public API route to the service that serves it, built
// from the route tables the services declare (their /api/ patterns), and
// everything outside /api/ to the web UI. API routes
// are listed one by one (not by prefix) so metrics and traces carry route
// templates and nothing else, such as /internal, can leak through.
var Routes = publicRoutes(map[string][]string{
	Auth:  authapi.Routes(),
	Users: usersapi.Routes(),
	Blog:  blogapi.Routes(),
})

// publicRoutes keeps the /api/ patterns of each service's table. A pattern
// claimed by two services is a programming error, caught at start-up.
func publicRoutes(tables map[string][]string) map[string]string {
	out := map[string]string{"/": Web}
	for service, patterns := range tables {
		for _, p := range patterns {
			if _, path, _ := strings.Cut(p, " "); !strings.HasPrefix(path, "/api/") {
				continue
			}
			if other, dup := out[p]; dup {
				panic(fmt.Sprintf("gateway: route %q declared by %s and %s", p, other, service))
			}
			out[p] = service
		}
	}
	return out
}

// Config is the gateway's configuration.
type Config struct {
	RateLimit      int
	RateWindow     time.Duration
	RateBatch      int
	MaxBodyBytes   int64
	RequestTimeout time.Duration
	CORSOrigins    config.StringList
	// TrustedProxies are the load balancers in front of the gateway whose
	// X-Forwarded-For and X-Forwarded-Proto it believes (httpx.ClientIP).
	TrustedProxies config.StringList
	HSTS           time.Duration
}

// RegisterFlags registers the gateway flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.IntVar(&c.RateLimit, "gateway.rate-limit", 600, "requests allowed per client IP per --gateway.rate-window (shared by replicas through Redis)")
	f.DurationVar(&c.RateWindow, "gateway.rate-window", 10*time.Second, "window of the per-IP rate limit")
	f.IntVar(&c.RateBatch, "gateway.rate-limit-batch", 20, "requests of one IP a replica counts locally before adding them to the shared count in Redis (also every 100ms); N replicas may admit up to about 2×N× this many requests over the limit per window; 0 counts every request in Redis")
	f.Int64Var(&c.MaxBodyBytes, "gateway.max-body-bytes", 1<<20, "largest accepted request body; larger bodies get 413")
	f.DurationVar(&c.RequestTimeout, "gateway.request-timeout", 10*time.Second, "deadline of every request, including the calls it makes")
	c.CORSOrigins = config.StringList{"*"}
	f.Var(&c.CORSOrigins, "gateway.cors-origins", `origins allowed by CORS, comma-separated ("*" for any)`)
	f.Var(&c.TrustedProxies, "gateway.trusted-proxies", "CIDRs of the load balancers in front of the gateway whose X-Forwarded-For/-Proto it believes (the client is the right-most entry not in this list); empty: the peer address is the client")
	f.DurationVar(&c.HSTS, "gateway.hsts-max-age", 365*24*time.Hour, "max-age of the Strict-Transport-Security header sent on requests that came over TLS (directly or per a trusted proxy); 0 sends none")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	var errs []error
	if c.RateLimit < 1 || c.RateWindow <= 0 {
		errs = append(errs, fmt.Errorf("--gateway.rate-limit and --gateway.rate-window must be positive"))
	}
	if c.RateBatch < 0 {
		errs = append(errs, fmt.Errorf("--gateway.rate-limit-batch must not be negative"))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("--gateway.max-body-bytes must be at least 1024"))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--gateway.request-timeout must be positive"))
	}
	if _, err := httpx.ParseCIDRs(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("--gateway.trusted-proxies: %w", err))
	}
	if c.HSTS < 0 {
		errs = append(errs, fmt.Errorf("--gateway.hsts-max-age must not be negative"))
	}
	return errors.Join(errs...)
}

// Deps are the gateway's collaborators. Backends maps each service name to
// its handler: the service itself when it runs in this process, a reverse
// proxy (NewRemote) otherwise; Local names the ones in this process.
type Deps struct {
	Backends   map[string]http.Handler
	Local      map[string]bool
	Verifier   *authn.Verifier
	Limiter    ratelimit.Limiter
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	Faults     *faults.Switch // injected latency, errors and dependency failures (ADR 0016); nil: none
}

// Service is the gateway module.
type Service struct{ handler http.Handler }

// New builds the gateway.
func New(cfg Config, deps Deps) (*Service, error) {
	trusted, err := httpx.ParseCIDRs(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("gateway: --gateway.trusted-proxies: %w", err)
	}
	mux := http.NewServeMux()
	for pattern, backend := range Routes {
		h, ok := deps.Backends[backend]
		if !ok {
			return nil, fmt.Errorf("gateway: no backend for %s (route %q)", backend, pattern)
		}
		local := deps.Local[backend]
		mux.Handle(pattern, forward(trusted, deps.Tracer, deps.Propagator, backend, local, h))
	}
	mux.HandleFunc(OpenAPIRoute, serveOpenAPI)
	mux.HandleFunc("/api/", httpx.NotFound)

	rule := ratelimit.Rule{Name: "gateway-ip", Limit: cfg.RateLimit, Window: cfg.RateWindow, Batch: cfg.RateBatch}
	var h http.Handler = httpx.Routed(mux)
	h = httpx.Timeout(cfg.RequestTimeout, h)
	h = httpx.LimitBody(cfg.MaxBodyBytes, h)
	h = rateLimit(deps.Limiter, rule, trusted, h)
	h = authn.Middleware(deps.Verifier, httpx.WriteError, h)
	h = cors(cfg.CORSOrigins, h)
	h = hsts(cfg.HSTS, trusted, h)
	h = httpx.Instrument(httpx.InstrumentConfig{
		Logger: deps.Logger, Metrics: telemetry.NewHTTPMetrics(deps.Registerer),
		Tracer: deps.Tracer, Propagator: deps.Propagator, Faults: deps.Faults,
	}, h)
	return &Service{handler: h}, nil
}

// OpenAPIRoute is the one public route the gateway answers itself: the
// API's contract (api/openapi.yml, embedded), documented in itself.
const OpenAPIRoute = "GET /api/openapi.yml"

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Length", strconv.Itoa(len(api.OpenAPI)))
	_, _ = w.Write(api.OpenAPI)
}

// Handler returns the public handler.
func (s *Service) Handler() http.Handler { return s.handler }

// forward hands the request to a backend with the headers services rely on:
// the client IP and scheme (replacing whatever the client sent), the request ID and, as trace parent, a client span of the
// hop (so the trace shows the time spent between gateway and backend).
func forward(trusted []*net.IPNet, tracer trace.Tracer, prop propagation.TextMapPropagator, backend string, local bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if local {
			httpx.HandOff(r.Context(), backend)
		}
		httpx.SetForwarded(r.Header, httpx.ClientIP(r, trusted), httpx.ForwardedHTTPS(r, trusted))
		if id := w.Header().Get(httpx.RequestIDHeader); id != "" {
			r.Header.Set(httpx.RequestIDHeader, id)
		}
		ctx, span := tracer.Start(r.Context(), r.Method, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.PeerService(backend)))
		defer span.End()
		prop.Inject(ctx, propagation.HeaderCarrier(r.Header))
		sw := &httpx.StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		span.SetAttributes(semconv.HTTPResponseStatusCode(sw.Status()))
		if sw.Status() >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.Status()))
		}
	})
}

func rateLimit(l ratelimit.Limiter, rule ratelimit.Rule, trusted []*net.IPNet, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := l.Allow(r.Context(), rule, httpx.ClientIP(r, trusted)); !d.Allowed {
			httpx.WriteError(w, r, errs.TooManyRequests(d.RetryAfter))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hsts tells browsers that reached us over TLS to keep using it. Over plain
// HTTP the header means nothing (and must not be sent: RFC 6797 §7.2).
func hsts(maxAge time.Duration, trusted []*net.IPNet, next http.Handler) http.Handler {
	if maxAge <= 0 {
		return next
	}
	value := "max-age=" + strconv.Itoa(int(maxAge/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if httpx.ForwardedHTTPS(r, trusted) {
			w.Header().Set("Strict-Transport-Security", value)
		}
		next.ServeHTTP(w, r)
	})
}

const (
	corsMethods = "GET, POST, PUT, DELETE, OPTIONS"
	corsHeaders = "Authorization, Content-Type, X-Requested-With, X-Request-Id, Idempotency-Key"
	corsExpose  = "X-Request-Id, Retry-After, Idempotent-Replayed"
)

// cors answers preflights itself and marks every response for allowed
// origins. Tokens travel in the Authorization header, not cookies, so
// credentials are never allowed cross-origin.
func cors(origins []string, next http.Handler) http.Handler {
	anyOrigin := len(origins) == 1 && origins[0] == "*"
	allowed := map[string]bool{}
	for _, o := range origins {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		origin := r.Header.Get("Origin")
		if origin != "" && strings.HasPrefix(r.URL.Path, "/api/") {
			h.Add("Vary", "Origin")
			switch {
			case anyOrigin:
				h.Set("Access-Control-Allow-Origin", "*")
			case allowed[origin]:
				h.Set("Access-Control-Allow-Origin", origin)
			}
			h.Set("Access-Control-Expose-Headers", corsExpose)
		}
		if r.Method == http.MethodOptions && strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Access-Control-Allow-Methods", corsMethods)
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
