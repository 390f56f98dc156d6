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
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
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
	Faults     *faults.Switch // a "nats" fault fails publishes (nil: none)
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
		cfg.BatchSize = 256
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
		MaxAge:     StreamMaxAge,
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
// during the drain are not left behind, and returns nil. A failed pass (the
// database or NATS is down) is retried with a capped backoff, during which
// kicks are ignored: a dependency outage costs one attempt and one log line
// per backoff step, not one per write. Run returns only when ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.PollInterval)
	defer t.Stop()
	var backoff time.Duration
	for {
		if backoff > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
		}
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = r.drain(fctx)
			cancel()
			return nil
		case <-r.kick:
		case <-t.C:
		}
		err := r.drain(ctx)
		switch {
		case err == nil:
			if backoff > 0 {
				r.deps.Logger.Info("publishing outbox again", "after", backoff.String())
			}
			backoff = 0
		case ctx.Err() == nil:
			backoff = min(max(2*backoff, r.cfg.PollInterval), 30*time.Second)
			r.deps.Logger.Warn("publishing outbox; will retry", "retry_in", backoff.String(), "error", err)
		}
	}
}

// drain publishes batches until the outbox is empty or a batch fails, and
// updates the backlog gauge whatever happened.
func (r *Relay) drain(ctx context.Context) error {
	defer func() {
		if err := r.updateBacklog(ctx); err != nil && ctx.Err() == nil {
			r.deps.Logger.Debug("counting outbox", "error", err)
		}
	}()
	last := time.Now()
	for {
		n, err := r.publishBatch(ctx)
		if err != nil {
			return err
		}
		if n < r.cfg.BatchSize {
			return nil
		}
		if time.Since(last) > time.Second { // a long drain keeps the gauge fresh
			_ = r.updateBacklog(ctx)
			last = time.Now()
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

const selectBatch = `SELECT seq, event_id, event_type, payload, headers, created_at FROM outbox ORDER BY seq LIMIT $1`

// publishBatch publishes up to BatchSize events in one go: it reads them,
// publishes them all asynchronously, waits for JetStream's acks and deletes
// the acknowledged rows in one statement. On PostgreSQL the rows are read
// FOR UPDATE SKIP LOCKED in a transaction that lasts until the delete, so
// relays on several replicas share the outbox instead of each publishing
// every row. (SQLite has one process, whose writer a transaction would hold
// during the publish, so there the rows are read and deleted without one.)
// It returns how many rows it read.
func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	if r.deps.DB.Dialect != database.Postgres {
		batch, err := r.readBatch(ctx, r.deps.DB, selectBatch)
		if err != nil || len(batch) == 0 {
			return 0, err
		}
		acked, perr := r.publishAll(ctx, batch)
		if err := r.deleteRows(ctx, r.deps.DB, acked); err != nil {
			return 0, err
		}
		return len(batch), perr
	}
	var n int
	var perr error
	err := r.deps.DB.Transact(ctx, func(tx *database.Tx) error {
		batch, err := r.readBatch(ctx, tx, selectBatch+` FOR UPDATE SKIP LOCKED`)
		if err != nil || len(batch) == 0 {
			return err
		}
		n = len(batch)
		var acked []int64
		acked, perr = r.publishAll(ctx, batch)
		return r.deleteRows(ctx, tx, acked)
	})
	if err != nil {
		return 0, err
	}
	return n, perr
}

func (r *Relay) readBatch(ctx context.Context, q database.Querier, query string) ([]outboxRow, error) {
	rows, err := q.QueryContext(ctx, query, r.cfg.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	defer rows.Close()
	var batch []outboxRow
	for rows.Next() {
		var o outboxRow
		if err := rows.Scan(&o.seq, &o.eventID, &o.eventType, &o.payload, &o.headers, &o.created); err != nil {
			return nil, fmt.Errorf("scanning outbox: %w", err)
		}
		batch = append(batch, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading outbox: %w", err)
	}
	return batch, nil
}

// deleteRows removes published rows in one statement. Deleting after the
// ack: a crash in between re-publishes the events, which JetStream's
// duplicate window and idempotent consumers absorb.
func (r *Relay) deleteRows(ctx context.Context, q database.Querier, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	var err error
	if r.deps.DB.Dialect == database.Postgres {
		_, err = q.ExecContext(ctx, `DELETE FROM outbox WHERE seq = ANY($1)`, seqs)
	} else {
		list, _ := json.Marshal(seqs)
		_, err = q.ExecContext(ctx, `DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each($1))`, string(list))
	}
	if err != nil {
		return fmt.Errorf("removing %d published events: %w", len(seqs), err)
	}
	return nil
}

// publishAll publishes the batch asynchronously and waits (5 s at most) for
// every ack. It returns the seqs of the acknowledged events and an error
// if any publish failed; those stay in the outbox for the next pass.
func (r *Relay) publishAll(ctx context.Context, batch []outboxRow) ([]int64, error) {
	type inflight struct {
		o    outboxRow
		span trace.Span
		fut  jetstream.PubAckFuture
	}
	flights := make([]inflight, 0, len(batch))
	var firstErr error
	fail := func(o outboxRow, span trace.Span, err error) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		span.End()
		r.failures.Inc()
		if firstErr == nil {
			firstErr = fmt.Errorf("publishing %s %s: %w", o.eventType, o.eventID, err)
		}
	}
	for _, o := range batch {
		msg, span := r.message(ctx, o)
		if err := r.deps.Faults.Fail(faults.NATS); err != nil {
			fail(o, span, err)
			break // as when the connection is down
		}
		fut, err := r.deps.JetStream.PublishMsgAsync(msg, jetstream.WithMsgID(o.eventID))
		if err != nil {
			fail(o, span, err)
			break // the connection is likely down: do not queue the rest
		}
		flights = append(flights, inflight{o: o, span: span, fut: fut})
	}
	timeout := time.NewTimer(5 * time.Second)
	defer timeout.Stop()
	acked := make([]int64, 0, len(flights))
	for _, f := range flights {
		select {
		case <-f.fut.Ok():
			f.span.End()
			acked = append(acked, f.o.seq)
			r.published.WithLabelValues(f.o.eventType).Inc()
		case err := <-f.fut.Err():
			fail(f.o, f.span, err)
		case <-timeout.C:
			fail(f.o, f.span, errors.New("no ack within 5s"))
			timeout.Reset(0) // the rest fail at once (their acks may still come; the duplicate window absorbs the re-publish)
		case <-ctx.Done():
			fail(f.o, f.span, ctx.Err())
		}
	}
	return acked, firstErr
}

// message builds the NATS message of an outbox row, in a producer span
// joined to the trace of the request that wrote the event.
func (r *Relay) message(ctx context.Context, o outboxRow) (*nats.Msg, trace.Span) {
	carrier := propagation.MapCarrier{}
	_ = json.Unmarshal([]byte(o.headers), &carrier)
	pctx := r.deps.Propagator.Extract(ctx, carrier)
	subject := r.cfg.Namespace.Subject(o.eventType)
	pctx, span := r.deps.Tracer.Start(pctx, "send "+subject, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(semconv.MessagingSystemKey.String("nats"), semconv.MessagingDestinationName(subject),
			semconv.MessagingOperationTypeSend, semconv.MessagingMessageID(o.eventID)))
	msg := nats.NewMsg(subject)
	msg.Data = o.payload
	msg.Header.Set(HeaderEventID, o.eventID)
	msg.Header.Set(HeaderOccurredAt, strconv.FormatInt(o.created, 10))
	r.deps.Propagator.Inject(pctx, propagation.HeaderCarrier(msg.Header))
	return msg, span
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
