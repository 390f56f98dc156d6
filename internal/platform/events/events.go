// Package events carries domain events between services over NATS
// JetStream. Producers write events into an outbox table in the same
// transaction as the change they describe; a relay publishes them with the
// event ID as the JetStream message ID (so a retried publish is dropped as a
// duplicate); consumers record each event ID they handled in the same
// transaction as its effect, so redelivery never applies an event twice.
package events

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

// Event is a domain event as consumers see it.
type Event struct {
	ID         string          // unique, time-ordered
	Type       string          // e.g. "users.user.updated" (the subject without the namespace)
	OccurredAt time.Time       // when the producing transaction ran
	Data       json.RawMessage // the type's payload
}

// Header names on NATS messages.
const (
	HeaderEventID    = "Tungsten-Event-Id"
	HeaderOccurredAt = "Tungsten-Occurred-At"
)

// Namespace scopes stream, subject and consumer names so that several
// deployments (or test runs) can share one NATS server.
type Namespace string

// Subject is the NATS subject of an event type.
func (ns Namespace) Subject(eventType string) string { return string(ns) + "." + eventType }

// Durable is the JetStream name of the durable consumer called name.
func (ns Namespace) Durable(name string) string { return strings.ToUpper(string(ns)) + "_" + name }

// Stream is the name of the stream holding a producer's events.
func (ns Namespace) Stream(producer string) string {
	return strings.ToUpper(string(ns) + "_" + producer)
}

// Enqueue writes an event into the outbox of the transaction's database. The
// current trace context is stored with it so the publish and the consumers
// join the trace of the request that caused the event.
func Enqueue(ctx context.Context, tx database.Querier, prop propagation.TextMapPropagator, eventType string, data any) error {
	payload, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encoding %s event: %w", eventType, err)
	}
	carrier := propagation.MapCarrier{}
	prop.Inject(ctx, carrier)
	headers, err := json.Marshal(carrier)
	if err != nil {
		return fmt.Errorf("encoding trace headers: %w", err)
	}
	id, err := uuid.NewV7FromReader(rand.Reader)
	if err != nil {
		return fmt.Errorf("generating event ID: %w", err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO outbox (event_id, event_type, payload, headers, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id.String(), eventType, payload, string(headers), time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("writing %s event to outbox: %w", eventType, err)
	}
	return nil
}
