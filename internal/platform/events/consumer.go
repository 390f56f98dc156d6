package events

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// HandlerFunc applies one event inside the consumer's transaction.
type HandlerFunc func(ctx context.Context, tx *database.Tx, ev Event) error

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Name       string // durable consumer name, e.g. "blog-authors"
	Producer   string // whose stream to read
	EventTypes []string
	Namespace  Namespace
	Handler    HandlerFunc
	// Idempotent says that applying an event twice does no harm (a cache
	// invalidation): the handler then runs outside any transaction, with a
	// nil tx, and no processed_events row is written. Such a consumer costs
	// the database nothing per event, where the default one takes a write
	// transaction (on SQLite a turn of the only writer) and keeps one row
	// per event.
	Idempotent bool
}

// ConsumerDeps are the Consumer's collaborators.
type ConsumerDeps struct {
	DB         *database.DB
	JetStream  jetstream.JetStream
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
}

// Consumer is a durable JetStream consumer whose handler runs exactly once
// per event: the event ID is recorded in processed_events in the same
// transaction as the handler's writes. An Idempotent consumer's handler runs
// at least once instead, outside the database.
type Consumer struct {
	cfg      ConsumerConfig
	deps     ConsumerDeps
	cons     jetstream.Consumer
	handled  *prometheus.CounterVec
	pending  prometheus.Gauge
	lastSeen prometheus.Gauge
}

// NewConsumer registers the consumer's metrics.
func NewConsumer(cfg ConsumerConfig, deps ConsumerDeps) *Consumer {
	labels := prometheus.Labels{"consumer": cfg.Name}
	c := &Consumer{
		cfg: cfg, deps: deps,
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tungsten_events_consumed_total", Help: "Events handled by a consumer, by outcome (applied, duplicate, skipped, error).",
			ConstLabels: labels,
		}, []string{"outcome"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tungsten_events_consumer_pending", Help: "Events in the stream not yet delivered to the consumer (lag).",
			ConstLabels: labels,
		}),
		lastSeen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tungsten_events_consumer_last_event_timestamp_seconds", Help: "When the last event handled by the consumer occurred.",
			ConstLabels: labels,
		}),
	}
	deps.Registerer.MustRegister(c.handled, c.pending, c.lastSeen)
	return c
}

// Start creates the durable consumer and begins handling messages until ctx
// ends. The producer's stream must exist (its relay creates it): a caller
// that may start before the producer retries Start.
func (c *Consumer) Start(ctx context.Context) error {
	stream := c.cfg.Namespace.Stream(c.cfg.Producer)
	// One filter subject, or the whole stream with unwanted types skipped
	// in handle: multiple filter subjects need nats-server 2.10, and
	// Debian 12 ships 2.9.
	var filter string
	if len(c.cfg.EventTypes) == 1 {
		filter = c.cfg.Namespace.Subject(c.cfg.EventTypes[0])
	}
	durable := strings.ToUpper(string(c.cfg.Namespace)) + "_" + c.cfg.Name
	cons, err := c.deps.JetStream.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("creating consumer %s on %s: %w", durable, stream, err)
	}
	c.cons = cons
	cc, err := cons.Consume(func(msg jetstream.Msg) { c.handle(ctx, msg) })
	if err != nil {
		return fmt.Errorf("consuming %s: %w", durable, err)
	}
	go func() {
		<-ctx.Done()
		cc.Drain()
	}()
	go c.watchLag(ctx)
	return nil
}

func (c *Consumer) handle(ctx context.Context, msg jetstream.Msg) {
	h := msg.Headers()
	ev := Event{ID: h.Get(HeaderEventID), Type: strings.TrimPrefix(msg.Subject(), string(c.cfg.Namespace)+"."), Data: msg.Data()}
	if ms, err := strconv.ParseInt(h.Get(HeaderOccurredAt), 10, 64); err == nil {
		ev.OccurredAt = time.UnixMilli(ms)
	}
	pctx := c.deps.Propagator.Extract(ctx, propagation.HeaderCarrier(h))
	pctx, span := c.deps.Tracer.Start(pctx, "process "+msg.Subject(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(semconv.MessagingSystemKey.String("nats"), semconv.MessagingDestinationName(msg.Subject()),
			semconv.MessagingOperationTypeProcess, semconv.MessagingMessageID(ev.ID),
			semconv.MessagingConsumerGroupName(c.cfg.Name)))
	defer span.End()

	if !slices.Contains(c.cfg.EventTypes, ev.Type) {
		_ = msg.Ack()
		c.handled.WithLabelValues("skipped").Inc()
		return
	}
	if ev.ID == "" {
		c.deps.Logger.ErrorContext(pctx, "dropping event without ID", "subject", msg.Subject())
		_ = msg.Term()
		c.handled.WithLabelValues("error").Inc()
		return
	}
	duplicate := false
	var err error
	if c.cfg.Idempotent {
		err = c.cfg.Handler(pctx, nil, ev)
	} else {
		err = c.apply(pctx, ev, &duplicate)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "handler failed")
		c.deps.Logger.LogAttrs(pctx, slog.LevelError, "handling event", append(telemetry.ErrorAttrs(err),
			slog.String("consumer", c.cfg.Name), slog.String("event_type", ev.Type), slog.String("event_id", ev.ID))...)
		c.handled.WithLabelValues("error").Inc()
		_ = msg.NakWithDelay(time.Second)
		return
	}
	if err := msg.Ack(); err != nil {
		c.deps.Logger.WarnContext(pctx, "acking event", "event_id", ev.ID, "error", err)
	}
	outcome := "applied"
	if duplicate {
		outcome = "duplicate"
	}
	c.handled.WithLabelValues(outcome).Inc()
	if !ev.OccurredAt.IsZero() {
		c.lastSeen.Set(float64(ev.OccurredAt.UnixMilli()) / 1000)
	}
}

func (c *Consumer) watchLag(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if info, err := c.cons.Info(ictx); err == nil {
			c.pending.Set(float64(info.NumPending + uint64(info.NumAckPending)))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// apply runs the handler in a transaction that records the event as
// processed; an event recorded before is a duplicate and is not applied.
func (c *Consumer) apply(ctx context.Context, ev Event, duplicate *bool) error {
	return c.deps.DB.Transact(ctx, func(tx *database.Tx) error {
		*duplicate = false
		_, err := tx.ExecContext(ctx, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, $3)`,
			c.cfg.Name, ev.ID, time.Now().UnixMilli())
		if database.IsUniqueViolation(err) {
			*duplicate = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("recording event %s: %w", ev.ID, err)
		}
		return c.cfg.Handler(ctx, tx, ev)
	})
}
