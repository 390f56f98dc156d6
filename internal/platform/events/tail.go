package events

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamMaxAge is how long a stream keeps events. A read model rebuilt
// later than that starts from a snapshot (docs/operations.md).
const StreamMaxAge = 7 * 24 * time.Hour

// TailConfig configures Tail.
type TailConfig struct {
	Producer  string
	EventType string
	Namespace Namespace
	Since     time.Time // deliver the events stored from then on
	// Handle is called with each event, in stream order, from one goroutine.
	Handle func(Event)
	// CaughtUp is called once every event stored when Tail began has been
	// handled (at once when there are none, or the stream does not exist yet).
	CaughtUp func()
	Logger   *slog.Logger
}

// Tail follows one event type of a producer's stream with an ordered,
// ephemeral consumer: every process gets every event (unlike a durable
// consumer shared by a service's replicas), nothing is acknowledged and
// nothing is stored. It returns when ctx ends; a missing stream is retried.
func Tail(ctx context.Context, js jetstream.JetStream, cfg TailConfig) {
	caught := false
	caughtUp := func() {
		if !caught {
			caught = true
			cfg.CaughtUp()
		}
	}
	delay := 500 * time.Millisecond
	for ctx.Err() == nil {
		err := tailOnce(ctx, js, cfg, caughtUp)
		if ctx.Err() != nil {
			return
		}
		if IsStreamMissing(err) {
			caughtUp() // nothing was ever published
		} else if err != nil {
			cfg.Logger.WarnContext(ctx, "following events; will retry", "event_type", cfg.EventType, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func tailOnce(ctx context.Context, js jetstream.JetStream, cfg TailConfig, caughtUp func()) error {
	since := cfg.Since
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	cons, err := js.OrderedConsumer(cctx, cfg.Namespace.Stream(cfg.Producer), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{cfg.Namespace.Subject(cfg.EventType)},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	})
	if err != nil {
		cancel()
		return fmt.Errorf("following %s: %w", cfg.EventType, err)
	}
	info, err := cons.Info(cctx)
	cancel()
	if err != nil {
		return fmt.Errorf("following %s: %w", cfg.EventType, err)
	}
	msgs := make(chan jetstream.Msg, 64)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		select {
		case msgs <- m:
		case <-ctx.Done():
		}
	})
	if err != nil {
		return fmt.Errorf("following %s: %w", cfg.EventType, err)
	}
	defer cc.Stop()
	if info.NumPending == 0 {
		caughtUp()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-cc.Closed():
			return fmt.Errorf("following %s: the consumer closed", cfg.EventType)
		case m := <-msgs:
			h := m.Headers()
			ev := Event{ID: h.Get(HeaderEventID), Type: strings.TrimPrefix(m.Subject(), string(cfg.Namespace)+"."), Data: m.Data()}
			if ms, err := strconv.ParseInt(h.Get(HeaderOccurredAt), 10, 64); err == nil {
				ev.OccurredAt = time.UnixMilli(ms)
			}
			cfg.Handle(ev)
			if md, err := m.Metadata(); err == nil && md.NumPending == 0 {
				caughtUp()
			}
		}
	}
}
