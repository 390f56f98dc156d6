package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"
)

// Sampling follows the standard OTEL_TRACES_SAMPLER variables and is parent
// based: a sampled caller keeps its trace whole even when this process would
// not start one itself.
func TestSamplingIsParentBasedAndConfigurable(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1") // nothing is exported before the shutdown below
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0")
	trc, err := NewTracing(context.Background(), "test", "test")
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // do not try to reach the endpoint
		_ = trc.Shutdown(ctx)
	})
	tr := trc.Provider.Tracer("test")

	_, root := tr.Start(context.Background(), "root")
	root.End()
	assert.False(t, root.SpanContext().IsSampled(), "a root span was sampled with ratio 0")

	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	_, child := tr.Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "child")
	child.End()
	assert.True(t, child.SpanContext().IsSampled(), "the child of a sampled remote parent was not sampled")
	assert.Equal(t, parent.TraceID(), child.SpanContext().TraceID(), "the child of a sampled remote parent is not in the parent's trace")
}

// Without an endpoint nothing is recorded, yet each request still gets a trace ID that
// the logs carry (and that travels to the next service), so logs join up without a backend.
func TestNoEndpointStillGivesLogsATraceID(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	trc, err := NewTracing(context.Background(), "test", "test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = trc.Shutdown(context.Background()) })
	ctx, span := trc.Provider.Tracer("test").Start(context.Background(), "root")
	defer span.End()
	assert.False(t, span.IsRecording(), "a span was recorded with no exporter")
	assert.False(t, span.SpanContext().IsSampled(), "a span was sampled with no exporter")
	require.True(t, span.SpanContext().IsValid(), "no trace ID without an exporter")
	var buf bytes.Buffer
	NewLogger(&buf, new(slog.LevelVar)).InfoContext(ctx, "request")
	assert.Contains(t, buf.String(), `"trace_id":"`+span.SpanContext().TraceID().String()+`"`, "the log line lacks the trace ID")
}
