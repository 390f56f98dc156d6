package telemetry

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
)

// NewRegistry returns a fresh registry with the Go runtime and process
// collectors and tungsten_build_info. There is one per process; modules
// register through ServiceRegisterer so their series carry a service label.
func NewRegistry(version, revision string) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "tungsten_build_info",
		Help:        "Build information of the running binary; always 1.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion()},
	})
	info.Set(1)
	reg.MustRegister(info)
	return reg
}

// ServiceRegisterer wraps reg so every metric registered through it carries
// service=<name>. Two services in one process thus never collide.
func ServiceRegisterer(reg prometheus.Registerer, service string) prometheus.Registerer {
	return prometheus.WrapRegistererWith(prometheus.Labels{"service": service}, reg)
}

// LatencyBuckets are the request-duration buckets, chosen around the
// 250 ms latency SLO with resolution below 50 ms where most requests land.
var LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// HTTPMetrics are the RED metrics of an HTTP server.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

// NewHTTPMetrics registers the HTTP server metrics with reg.
func NewHTTPMetrics(reg prometheus.Registerer) *HTTPMetrics {
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tungsten_http_requests_total",
			Help: "HTTP requests served, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tungsten_http_request_duration_seconds",
			Help:    "HTTP request latency, by route template, method and status code.",
			Buckets: LatencyBuckets,
		}, []string{"route", "method", "code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tungsten_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.inflight)
	return m
}

// Begin counts a request in flight and returns the function that records it.
func (m *HTTPMetrics) Begin() func(ctx context.Context, route, method string, status int, elapsed time.Duration) {
	m.inflight.Inc()
	return func(ctx context.Context, route, method string, status int, elapsed time.Duration) {
		m.inflight.Dec()
		code := strconv.Itoa(status)
		m.requests.WithLabelValues(route, method, code).Inc()
		ObserveWithExemplar(ctx, m.duration.WithLabelValues(route, method, code), elapsed.Seconds())
	}
}

// ObserveWithExemplar records v and, when ctx holds a sampled span, attaches
// its trace ID as an exemplar so a latency outlier links to its trace.
func ObserveWithExemplar(ctx context.Context, o prometheus.Observer, v float64) {
	sc := trace.SpanContextFromContext(ctx)
	if eo, ok := o.(prometheus.ExemplarObserver); ok && sc.IsSampled() {
		eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": sc.TraceID().String()})
		return
	}
	o.Observe(v)
}
