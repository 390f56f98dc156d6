package httpx

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// DefaultMaxBodyBytes bounds request bodies when a service sets no limit.
const DefaultMaxBodyBytes = 1 << 20

// ServiceConfig describes a service's HTTP surface.
type ServiceConfig struct {
	Name         string
	Logger       *slog.Logger
	Registerer   prometheus.Registerer // already labelled with the service
	Tracer       trace.Tracer
	Propagator   propagation.TextMapPropagator
	Verifier     *authn.Verifier // tokens are verified again in every service
	MaxBodyBytes int64
}

// Router collects a service's routes and builds its instrumented handler.
// The process router registers the same patterns, so any group of services
// can share one listener.
type Router struct {
	mux      *http.ServeMux
	patterns []string
}

// NewRouter returns an empty router.
func NewRouter() *Router { return &Router{mux: http.NewServeMux()} }

// Handle registers pattern ("METHOD /path/{param}").
func (rt *Router) Handle(pattern string, h http.Handler) {
	rt.mux.Handle(pattern, h)
	rt.patterns = append(rt.patterns, pattern)
}

// HandleFunc registers an error-returning handler.
func (rt *Router) HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request) error) {
	rt.Handle(pattern, Handler(h))
}

// Patterns returns the registered patterns.
func (rt *Router) Patterns() []string { return rt.patterns }

// Build wraps the routes in the service middleware chain:
// recover → request id → tracing → metrics → access log → auth → body limit.
func (rt *Router) Build(cfg ServiceConfig) http.Handler {
	max := cfg.MaxBodyBytes
	if max <= 0 {
		max = DefaultMaxBodyBytes
	}
	var h http.Handler = Routed(rt.mux)
	h = LimitBody(max, h)
	if cfg.Verifier != nil {
		h = authn.Middleware(cfg.Verifier, WriteError, h)
	}
	return Instrument(InstrumentConfig{
		Logger:     cfg.Logger,
		Metrics:    telemetry.NewHTTPMetrics(cfg.Registerer),
		Tracer:     cfg.Tracer,
		Propagator: cfg.Propagator,
	}, h)
}
