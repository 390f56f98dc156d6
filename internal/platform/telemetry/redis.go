package telemetry

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// RedisTracing is a go-redis hook that gives every command (and pipeline) a
// client span named after the command, with the database semantic
// conventions. It is a few lines instead of redisotel, whose releases pin
// OpenTelemetry versions of their own; statements are not recorded (keys may
// carry user data), only the command name.
type RedisTracing struct {
	tracer trace.Tracer
	attrs  []attribute.KeyValue
}

// NewRedisTracing returns the hook for a client of the server at addr.
func NewRedisTracing(tp trace.TracerProvider, addr string) *RedisTracing {
	attrs := []attribute.KeyValue{semconv.DBSystemNameRedis}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		attrs = append(attrs, semconv.ServerAddress(host))
		if n, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, semconv.ServerPort(n))
		}
	}
	return &RedisTracing{tracer: tp.Tracer("github.com/tungsten-blog/tungsten/internal/platform/telemetry/redis"), attrs: attrs}
}

// DialHook leaves dialing untraced: a connection is not a request's work.
func (h *RedisTracing) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook traces one command.
func (h *RedisTracing) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return next(ctx, cmd) // no request around it: background work stays untraced
		}
		op := strings.ToUpper(cmd.Name())
		ctx, span := h.tracer.Start(ctx, op, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(h.attrs...), trace.WithAttributes(semconv.DBOperationName(op)))
		defer span.End()
		err := next(ctx, cmd)
		recordRedisError(span, err)
		return err
	}
}

// ProcessPipelineHook traces a pipeline as one span.
func (h *RedisTracing) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !trace.SpanContextFromContext(ctx).IsValid() {
			return next(ctx, cmds)
		}
		ctx, span := h.tracer.Start(ctx, "PIPELINE", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(h.attrs...), trace.WithAttributes(semconv.DBOperationName("PIPELINE"),
				semconv.DBOperationBatchSize(len(cmds))))
		defer span.End()
		err := next(ctx, cmds)
		recordRedisError(span, err)
		return err
	}
}

func recordRedisError(span trace.Span, err error) {
	if err == nil || errors.Is(err, redis.Nil) { // a miss is an answer, not a failure
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, "redis command failed")
}
