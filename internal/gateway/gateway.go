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
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/config"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// Backends the gateway routes to.
const (
	Auth  = "auth"
	Users = "users"
	Blog  = "blog"
	Web   = "web"
)

// Routes maps every public API route to the service that serves it. Routes
// are listed one by one (not by prefix) so metrics and traces carry route
// templates and nothing else, such as /internal, can leak through.
var Routes = map[string]string{
	"POST /api/users":                           Auth,
	"POST /api/users/login":                     Auth,
	"GET /api/user":                             Users,
	"PUT /api/user":                             Users,
	"GET /api/profiles/{username}":              Users,
	"POST /api/profiles/{username}/follow":      Users,
	"DELETE /api/profiles/{username}/follow":    Users,
	"GET /api/articles":                         Blog,
	"POST /api/articles":                        Blog,
	"GET /api/articles/feed":                    Blog,
	"GET /api/articles/{slug}":                  Blog,
	"PUT /api/articles/{slug}":                  Blog,
	"DELETE /api/articles/{slug}":               Blog,
	"GET /api/articles/{slug}/comments":         Blog,
	"POST /api/articles/{slug}/comments":        Blog,
	"DELETE /api/articles/{slug}/comments/{id}": Blog,
	"POST /api/articles/{slug}/favorite":        Blog,
	"DELETE /api/articles/{slug}/favorite":      Blog,
	"GET /api/tags":                             Blog,
	"GET /api/categories":                       Blog,
	"/":                                         Web,
}

// Config is the gateway's configuration.
type Config struct {
	RateLimit      int
	RateWindow     time.Duration
	RateBatch      int
	MaxBodyBytes   int64
	RequestTimeout time.Duration
	CORSOrigins    config.StringList
	TrustForwarded bool
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
	f.BoolVar(&c.TrustForwarded, "gateway.trust-forwarded-for", false, "take the client IP from X-Forwarded-For (only behind a trusted load balancer)")
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
}

// Service is the gateway module.
type Service struct{ handler http.Handler }

// New builds the gateway.
func New(cfg Config, deps Deps) (*Service, error) {
	mux := http.NewServeMux()
	for pattern, backend := range Routes {
		h, ok := deps.Backends[backend]
		if !ok {
			return nil, fmt.Errorf("gateway: no backend for %s (route %q)", backend, pattern)
		}
		local := deps.Local[backend]
		mux.Handle(pattern, forward(cfg, deps.Tracer, deps.Propagator, backend, local, h))
	}
	mux.HandleFunc("/api/", httpx.NotFound)

	rule := ratelimit.Rule{Name: "gateway-ip", Limit: cfg.RateLimit, Window: cfg.RateWindow, Batch: cfg.RateBatch}
	var h http.Handler = httpx.Routed(mux)
	h = httpx.Timeout(cfg.RequestTimeout, h)
	h = httpx.LimitBody(cfg.MaxBodyBytes, h)
	h = rateLimit(deps.Limiter, rule, cfg, h)
	h = authn.Middleware(deps.Verifier, httpx.WriteError, h)
	h = cors(cfg.CORSOrigins, h)
	h = httpx.Instrument(httpx.InstrumentConfig{
		Logger: deps.Logger, Metrics: telemetry.NewHTTPMetrics(deps.Registerer),
		Tracer: deps.Tracer, Propagator: deps.Propagator,
	}, h)
	return &Service{handler: h}, nil
}

// Handler returns the public handler.
func (s *Service) Handler() http.Handler { return s.handler }

// clientIP is the address limits and logs attribute a request to.
func clientIP(cfg Config, r *http.Request) string {
	if cfg.TrustForwarded {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(first)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// forward hands the request to a backend with the headers services rely on:
// the client IP, the request ID and, as trace parent, a client span of the
// hop (so the trace shows the time spent between gateway and backend).
func forward(cfg Config, tracer trace.Tracer, prop propagation.TextMapPropagator, backend string, local bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if local {
			httpx.HandOff(r.Context(), backend)
		}
		r.Header.Set("X-Real-Ip", clientIP(cfg, r))
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

func rateLimit(l ratelimit.Limiter, rule ratelimit.Rule, cfg Config, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := l.Allow(r.Context(), rule, clientIP(cfg, r)); !d.Allowed {
			httpx.WriteError(w, r, errs.TooManyRequests(d.RetryAfter))
			return
		}
		next.ServeHTTP(w, r)
	})
}

const (
	corsMethods = "GET, POST, PUT, DELETE, OPTIONS"
	corsHeaders = "Authorization, Content-Type, X-Requested-With, X-Request-Id"
	corsExpose  = "X-Request-Id, Retry-After"
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
