package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
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
	// Retention is how long an event's processed_events row is kept (the
	// consumer prunes older rows hourly). It must exceed the time within
	// which an event can come back: the stream keeps events 7 days, so the
	// default is 14 days.
	Retention time.Duration
}

// DefaultRetention is ConsumerConfig.Retention's default.
const DefaultRetention = 14 * 24 * time.Hour

const pruneEvery = time.Hour

// ConsumerDeps are the Consumer's collaborators.
type ConsumerDeps struct {
	DB         *database.DB
	JetStream  jetstream.JetStream
	Faults     *faults.Switch // a "nats" fault fails deliveries, which are redelivered (nil: none)
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
}

// Consumer is a durable JetStream consumer whose handler's writes to tx take
// effect once per event: the event ID is recorded in processed_events in the
// same transaction, and a redelivered event already recorded is skipped. The
// handler itself runs at least once (an attempt that failed, or whose commit
// failed, is redelivered), so what it does outside tx, such as a cache
// invalidation, must bear repeating. The record is kept for Retention, longer
// than the stream keeps the event. An Idempotent consumer's handler runs at
// least once too, outside the database.
type Consumer struct {
	cfg      ConsumerConfig
	deps     ConsumerDeps
	cons     jetstream.Consumer
	handled  *prometheus.CounterVec
	pending  prometheus.Gauge
	lastSeen prometheus.Gauge
	// failLog bounds the handler's failure lines: with a dependency down
	// every event fails, and one ERROR line each buried everything else.
	failLog *telemetry.FailureLimiter
}

// NewConsumer registers the consumer's metrics.
func NewConsumer(cfg ConsumerConfig, deps ConsumerDeps) *Consumer {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	labels := prometheus.Labels{"consumer": cfg.Name}
	c := &Consumer{
		cfg: cfg, deps: deps, failLog: telemetry.NewFailureLimiter(telemetry.FailureInterval),
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

// Start creates (or updates) the durable consumer. The producer's stream
// must exist (its relay creates it): a caller that may start before the
// producer retries Start. Run then handles messages.
func (c *Consumer) Start(ctx context.Context) error {
	stream := c.cfg.Namespace.Stream(c.cfg.Producer)
	// One filter subject, or the whole stream with unwanted types skipped
	// in handle: multiple filter subjects need nats-server 2.10, and
	// Debian 12 ships 2.9.
	var filter string
	if len(c.cfg.EventTypes) == 1 {
		filter = c.cfg.Namespace.Subject(c.cfg.EventTypes[0])
	}
	durable := c.cfg.Namespace.Durable(c.cfg.Name)
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
	return nil
}

// Run handles messages until ctx ends (it then returns nil) or the
// subscription ends for good (the durable consumer was deleted, the
// connection closed): that error is returned, for the caller to report as a
// dead worker. Disconnections in between are ridden out by the client. Once
// ctx is cancelled no further message is handled, even one already
// buffered: unacknowledged, it is redelivered (to this or another replica)
// after the ack wait. Run returns after its lag watcher has stopped.
func (c *Consumer) Run(ctx context.Context) error {
	if c.cons == nil {
		return errors.New("consumer " + c.cfg.Name + " was not started")
	}
	// Missed heartbeats are reported, so that a consumer deleted under us
	// (which nats-server 2.9 does not announce) is noticed within seconds.
	it, err := c.cons.Messages(jetstream.PullExpiry(10*time.Second), jetstream.PullHeartbeat(2*time.Second),
		jetstream.WithMessagesErrOnMissingHeartbeat(true))
	if err != nil {
		return fmt.Errorf("consuming %s: %w", c.cfg.Name, err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	hctx, stopHelpers := context.WithCancel(ctx)
	defer stopHelpers() // before wg.Wait: Run may end on an error, not on ctx
	wg.Go(func() { c.watchLag(hctx) })
	if !c.cfg.Idempotent {
		wg.Go(func() { c.pruneLoop(hctx) })
	}
	stop := context.AfterFunc(ctx, it.Stop) // unblocks Next
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if ctx.Err() != nil {
			return nil // msg, if any, stays unacknowledged and comes back
		}
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
				errors.Is(err, jetstream.ErrBadRequest) || errors.Is(err, jetstream.ErrConnectionClosed) {
				return fmt.Errorf("consumer %s: %w", c.cfg.Name, err)
			}
			if errors.Is(err, jetstream.ErrNoHeartbeat) {
				ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, ierr := c.cons.Info(ictx)
				cancel()
				if errors.Is(ierr, jetstream.ErrConsumerNotFound) {
					return fmt.Errorf("consumer %s: %w", c.cfg.Name, ierr)
				}
			}
			// NATS unreachable and the like: the iterator recovers when it is back.
			c.deps.Logger.DebugContext(ctx, "reading events", "consumer", c.cfg.Name, "error", err)
			continue
		}
		c.handle(ctx, msg)
	}
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
	if ferr := c.deps.Faults.Fail(faults.NATS); ferr != nil {
		err = fmt.Errorf("receiving event %s: %w", ev.ID, ferr)
	} else if c.cfg.Idempotent {
		err = c.cfg.Handler(pctx, nil, ev)
	} else {
		err = c.apply(pctx, ev, &duplicate)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "handler failed")
		c.handled.WithLabelValues("error").Inc()
		c.logFailure(pctx, ev, err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	c.logRecovery(pctx)
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

// logFailure writes a failed event at ERROR: the first of a run in full,
// then at most one per telemetry.FailureInterval carrying how many failed in
// between (suppressed). The metrics count every one.
func (c *Consumer) logFailure(ctx context.Context, ev Event, err error) {
	write, suppressed, within := c.failLog.Fail(time.Now())
	if !write {
		return
	}
	attrs := append(telemetry.ErrorAttrs(err),
		slog.String("consumer", c.cfg.Name), slog.String("event_type", ev.Type), slog.String("event_id", ev.ID))
	msg := "handling event"
	if suppressed > 0 {
		msg = "handling events still failing"
		attrs = append(attrs, slog.Int("suppressed", suppressed), slog.String("suppressed_within", within.Round(time.Second).String()))
	}
	c.deps.Logger.LogAttrs(ctx, slog.LevelError, msg, attrs...)
}

// logRecovery writes one INFO line at the first event handled after
// failures were logged.
func (c *Consumer) logRecovery(ctx context.Context) {
	if recovered, failures, failingFor := c.failLog.Succeed(time.Now()); recovered {
		c.deps.Logger.LogAttrs(ctx, slog.LevelInfo, "handling events again", slog.String("consumer", c.cfg.Name),
			slog.Int("failures", failures), slog.String("failing_for", failingFor.Round(time.Millisecond).String()))
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
// ON CONFLICT DO NOTHING, not a caught unique violation: on PostgreSQL a
// failed statement aborts the transaction, whose commit would then fail and
// the redelivered event be retried for ever.
func (c *Consumer) apply(ctx context.Context, ev Event, duplicate *bool) error {
	return c.deps.DB.Transact(ctx, func(tx *database.Tx) error {
		*duplicate = false
		res, err := tx.ExecContext(ctx, `INSERT INTO processed_events (consumer, event_id, processed_at) VALUES ($1, $2, $3)
			ON CONFLICT (consumer, event_id) DO NOTHING`,
			c.cfg.Name, ev.ID, time.Now().UnixMilli())
		if err != nil {
			return fmt.Errorf("recording event %s: %w", ev.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("recording event %s: %w", ev.ID, err)
		} else if n == 0 {
			*duplicate = true
			return nil
		}
		return c.cfg.Handler(ctx, tx, ev)
	})
}

// Prune deletes the processed_events rows of this consumer older than the
// retention and returns how many it deleted. Run calls it hourly.
func (c *Consumer) Prune(ctx context.Context, now time.Time) (int64, error) {
	res, err := c.deps.DB.ExecContext(ctx, `DELETE FROM processed_events WHERE consumer = $1 AND processed_at < $2`,
		c.cfg.Name, now.Add(-c.cfg.Retention).UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("pruning processed events of %s: %w", c.cfg.Name, err)
	}
	return res.RowsAffected()
}

func (c *Consumer) pruneLoop(ctx context.Context) {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := c.Prune(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			c.deps.Logger.WarnContext(ctx, "pruning processed events", "consumer", c.cfg.Name, "error", err)
		case n > 0:
			c.deps.Logger.InfoContext(ctx, "pruned processed events", "consumer", c.cfg.Name, "rows", n)
		}
	}
}
