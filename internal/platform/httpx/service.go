package httpx

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
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
	Faults       *faults.Switch // latency and errors injected at the process's edge (nil: none)
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

// Route is one entry of a service's route table: the pattern
// ("METHOD /path/{param}") and its handler. A service declares its table
// once; it registers it, and the gateway and the docs read its patterns.
type Route struct {
	Pattern string
	Handler func(http.ResponseWriter, *http.Request) error
}

// HandleRoutes registers every route of a table.
func (rt *Router) HandleRoutes(routes []Route) {
	for _, r := range routes {
		rt.HandleFunc(r.Pattern, r.Handler)
	}
}

// Patterns returns the patterns of a route table, in its order.
func Patterns(routes []Route) []string {
	out := make([]string, len(routes))
	for i, r := range routes {
		out[i] = r.Pattern
	}
	return out
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
		Faults:     cfg.Faults,
	}, h)
}
