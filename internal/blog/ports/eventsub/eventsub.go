// Package eventsub applies the users service's events to the blog's read
// model of authors and follows, and the blog's own events to its list cache.
package eventsub

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/tungsten-blog/tungsten/internal/blog/adapters/usersclient"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
)

// ConsumerName is the durable consumer's name.
const ConsumerName = "blog-users"

// EventTypes are the users events the blog consumes.
var EventTypes = []string{
	domain.EventUserRegistered, domain.EventUserUpdated, domain.EventFollowCreated, domain.EventFollowDeleted,
}

// ReadModel is where the events land; each write runs in the consumer's
// transaction, next to the processed_events record that makes it idempotent.
type ReadModel interface {
	UpsertAuthorTx(ctx context.Context, q database.Querier, p domain.Profile) (bool, error)
	ApplyFollowTx(ctx context.Context, q database.Querier, f domain.Follow) (bool, error)
}

// followPayload is the payload of users.follow.created and .deleted.
type followPayload struct {
	FollowerID int64              `json:"followerId"`
	FolloweeID int64              `json:"followeeId"`
	At         usersclient.Millis `json:"at"`
}

// Handler returns the consumer's handler. Users are applied only when newer
// than what the read model holds; follows by last write (At) wins. A payload
// that cannot be decoded is logged and dropped: redelivering it would never
// succeed.
func Handler(rm ReadModel, log *slog.Logger) events.HandlerFunc {
	return func(ctx context.Context, tx *database.Tx, ev events.Event) error {
		switch ev.Type {
		case domain.EventUserRegistered, domain.EventUserUpdated:
			var p usersclient.Profile
			if err := json.Unmarshal(ev.Data, &p); err != nil || p.ID <= 0 || p.Username == "" {
				log.ErrorContext(ctx, "dropping malformed users event", "event_id", ev.ID, "event_type", ev.Type, "error", err)
				return nil
			}
			if _, err := rm.UpsertAuthorTx(ctx, tx, p.Domain()); err != nil {
				return fmt.Errorf("applying %s %s: %w", ev.Type, ev.ID, err)
			}
		case domain.EventFollowCreated, domain.EventFollowDeleted:
			var f followPayload
			if err := json.Unmarshal(ev.Data, &f); err != nil || f.FollowerID <= 0 || f.FolloweeID <= 0 {
				log.ErrorContext(ctx, "dropping malformed follow event", "event_id", ev.ID, "event_type", ev.Type, "error", err)
				return nil
			}
			at := int64(f.At)
			if at == 0 && !ev.OccurredAt.IsZero() {
				at = ev.OccurredAt.UnixMilli()
			}
			follow := domain.Follow{FollowerID: f.FollowerID, FolloweeID: f.FolloweeID,
				Following: ev.Type == domain.EventFollowCreated, At: at}
			if _, err := rm.ApplyFollowTx(ctx, tx, follow); err != nil {
				return fmt.Errorf("applying %s %s: %w", ev.Type, ev.ID, err)
			}
		default:
			log.WarnContext(ctx, "ignoring unexpected event", "event_id", ev.ID, "event_type", ev.Type)
		}
		return nil
	}
}
