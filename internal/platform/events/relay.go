package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	Producer     string // service name; names the stream
	EventTypes   []string
	Namespace    Namespace
	PollInterval time.Duration // how often to look when nobody kicks; default 1s
	BatchSize    int
}

// RelayDeps are the Relay's collaborators.
type RelayDeps struct {
	DB         *database.DB
	JetStream  jetstream.JetStream
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
}

// Relay publishes a service's outbox to JetStream.
type Relay struct {
	cfg       RelayConfig
	deps      RelayDeps
	kick      chan struct{}
	backlog   prometheus.Gauge
	published *prometheus.CounterVec
	failures  prometheus.Counter
}

// NewRelay registers the relay's metrics; Run starts it.
func NewRelay(cfg RelayConfig, deps RelayDeps) *Relay {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	r := &Relay{
		cfg: cfg, deps: deps, kick: make(chan struct{}, 1),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tungsten_outbox_backlog",
			Help: "Events written to the outbox and not yet published.",
		}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tungsten_events_published_total",
			Help: "Events published to JetStream, by event type.",
		}, []string{"event_type"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tungsten_outbox_publish_failures_total",
			Help: "Failed attempts to publish an outbox event.",
		}),
	}
	deps.Registerer.MustRegister(r.backlog, r.published, r.failures)
	return r
}

// EnsureStream creates or updates the producer's stream. The duplicate window
// lets JetStream drop a re-published event (same message ID).
func (r *Relay) EnsureStream(ctx context.Context) error {
	subjects := make([]string, 0, len(r.cfg.EventTypes))
	for _, t := range r.cfg.EventTypes {
		subjects = append(subjects, r.cfg.Namespace.Subject(t))
	}
	_, err := r.deps.JetStream.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       r.cfg.Namespace.Stream(r.cfg.Producer),
		Subjects:   subjects,
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     7 * 24 * time.Hour,
		Duplicates: 10 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("creating stream %s: %w", r.cfg.Namespace.Stream(r.cfg.Producer), err)
	}
	return nil
}

// Kick asks the relay to publish now; producers call it after a commit so an
// event usually leaves within milliseconds.
func (r *Relay) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run publishes until ctx ends, then makes one last pass so events written
// during the drain are not left behind.
func (r *Relay) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = r.drain(fctx)
			cancel()
			return
		case <-r.kick:
		case <-t.C:
		}
		if err := r.drain(ctx); err != nil && ctx.Err() == nil {
			r.deps.Logger.Warn("publishing outbox", "error", err)
		}
	}
}

// drain publishes batches until the outbox is empty or a publish fails.
func (r *Relay) drain(ctx context.Context) error {
	for {
		n, err := r.publishBatch(ctx)
		if err != nil {
			return err
		}
		if n < r.cfg.BatchSize {
			return r.updateBacklog(ctx)
		}
	}
}

type outboxRow struct {
	seq       int64
	eventID   string
	eventType string
	payload   []byte
	headers   string
	created   int64
}

func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	rows, err := r.deps.DB.QueryContext(ctx,
		`SELECT seq, event_id, event_type, payload, headers, created_at FROM outbox ORDER BY seq LIMIT $1`, r.cfg.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("reading outbox: %w", err)
	}
	var batch []outboxRow
	for rows.Next() {
		var o outboxRow
		if err := rows.Scan(&o.seq, &o.eventID, &o.eventType, &o.payload, &o.headers, &o.created); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scanning outbox: %w", err)
		}
		batch = append(batch, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reading outbox: %w", err)
	}
	for _, o := range batch {
		if err := r.publish(ctx, o); err != nil {
			r.failures.Inc()
			return 0, err
		}
		// Deleting after the ack: a crash in between re-publishes the event,
		// which JetStream's duplicate window and idempotent consumers absorb.
		if _, err := r.deps.DB.ExecContext(ctx, `DELETE FROM outbox WHERE seq = $1`, o.seq); err != nil {
			return 0, fmt.Errorf("removing published event %s: %w", o.eventID, err)
		}
		r.published.WithLabelValues(o.eventType).Inc()
	}
	return len(batch), nil
}

func (r *Relay) publish(ctx context.Context, o outboxRow) error {
	carrier := propagation.MapCarrier{}
	_ = json.Unmarshal([]byte(o.headers), &carrier)
	pctx := r.deps.Propagator.Extract(ctx, carrier)
	subject := r.cfg.Namespace.Subject(o.eventType)
	pctx, span := r.deps.Tracer.Start(pctx, "send "+subject, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(semconv.MessagingSystemKey.String("nats"), semconv.MessagingDestinationName(subject),
			semconv.MessagingOperationTypeSend, semconv.MessagingMessageID(o.eventID)))
	defer span.End()

	msg := nats.NewMsg(subject)
	msg.Data = o.payload
	msg.Header.Set(HeaderEventID, o.eventID)
	msg.Header.Set(HeaderOccurredAt, strconv.FormatInt(o.created, 10))
	r.deps.Propagator.Inject(pctx, propagation.HeaderCarrier(msg.Header))
	pubCtx, cancel := context.WithTimeout(pctx, 5*time.Second)
	defer cancel()
	if _, err := r.deps.JetStream.PublishMsg(pubCtx, msg, jetstream.WithMsgID(o.eventID)); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return fmt.Errorf("publishing %s %s: %w", o.eventType, o.eventID, err)
	}
	return nil
}

func (r *Relay) updateBacklog(ctx context.Context) error {
	var n int64
	if err := r.deps.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil {
		return fmt.Errorf("counting outbox: %w", err)
	}
	r.backlog.Set(float64(n))
	return nil
}

// IsStreamMissing reports whether err means the stream does not exist yet.
func IsStreamMissing(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || strings.Contains(fmt.Sprint(err), "stream not found")
}
