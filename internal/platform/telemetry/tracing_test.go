package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

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
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // do not try to reach the endpoint
		_ = trc.Shutdown(ctx)
	})
	tr := trc.Provider.Tracer("test")

	_, root := tr.Start(context.Background(), "root")
	root.End()
	if root.SpanContext().IsSampled() {
		t.Error("a root span was sampled with ratio 0")
	}

	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	_, child := tr.Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "child")
	child.End()
	if !child.SpanContext().IsSampled() || child.SpanContext().TraceID() != parent.TraceID() {
		t.Error("the child of a sampled remote parent was not sampled in the parent's trace")
	}
}

// Without an endpoint nothing is recorded, yet each request still gets a trace ID that
// the logs carry (and that travels to the next service), so logs join up without a backend.
func TestNoEndpointStillGivesLogsATraceID(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	trc, err := NewTracing(context.Background(), "test", "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = trc.Shutdown(context.Background()) })
	ctx, span := trc.Provider.Tracer("test").Start(context.Background(), "root")
	defer span.End()
	if span.IsRecording() || span.SpanContext().IsSampled() {
		t.Error("a span was recorded or sampled with no exporter")
	}
	if !span.SpanContext().IsValid() {
		t.Fatal("no trace ID without an exporter")
	}
	var buf bytes.Buffer
	NewLogger(&buf, new(slog.LevelVar)).InfoContext(ctx, "request")
	if want := `"trace_id":"` + span.SpanContext().TraceID().String() + `"`; !strings.Contains(buf.String(), want) {
		t.Errorf("log line %s lacks %s", buf.String(), want)
	}
}
