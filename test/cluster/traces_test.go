package cluster

import (
	"testing"
	"time"

	"github.com/tungsten-blog/tungsten/test/internal/tracecheck"
)

// TestTraces: one authenticated write through the gateway Service with a known
// traceparent is one trace in the node's Jaeger, exported by every pod on its path
// through components/tracing: the gateway's server and client spans, the blog's server
// span, its SQL insert and Redis command, the NATS publish of the outbox relay and the
// consumer of the event (the same hops as the loopback test/observability).
func TestTraces(t *testing.T) {
	gate(t)
	gw := env(t, "TUNGSTEN_CLUSTER_GATEWAY")
	jaeger := env(t, "TUNGSTEN_CLUSTER_JAEGER")
	token := register(t, gw)

	traceID := tracedWrite(t, gw, token, "trace")

	// The exporters batch for up to 5 s (OTEL_BSP_SCHEDULE_DELAY's default), Jaeger for 1 s.
	tr := tracecheck.Check(t, jaeger, traceID, 60*time.Second)
	services := map[string]bool{}
	for _, p := range tr.Processes {
		services[p.ServiceName] = true
	}
	figure(t, "trace %s: %d spans from %d services %v", traceID, len(tr.Spans), len(services), services)
}
