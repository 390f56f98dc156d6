// Package eventsub applies the users service's events to the blog's read
// model of authors and follows, and the blog's own events to its list cache.
package eventsub

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/tungsten-blog/tungsten/internal/blog/adapters/usersclient"
	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/cache"
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
// succeed. A change that was applied bumps the cache generation (c may be
// nil), because cached pages carry authors' profiles and feeds carry
// follows. The bump lands just before the consumer commits; a read in that
// window may cache the old profile, which then lives for the cache TTL at
// most (ADR 0006).
func Handler(rm ReadModel, c cache.Cache, log *slog.Logger) events.HandlerFunc {
	return func(ctx context.Context, tx *database.Tx, ev events.Event) error {
		changed, err := apply(ctx, rm, tx, ev, log)
		if err != nil || !changed || c == nil {
			return err
		}
		if _, err := c.Incr(ctx, app.GenKey); err != nil {
			return fmt.Errorf("invalidating cached pages after %s %s: %w", ev.Type, ev.ID, err)
		}
		return nil
	}
}

func apply(ctx context.Context, rm ReadModel, tx *database.Tx, ev events.Event, log *slog.Logger) (bool, error) {
	switch ev.Type {
	case domain.EventUserRegistered, domain.EventUserUpdated:
		var p usersclient.Profile
		if err := json.Unmarshal(ev.Data, &p); err != nil || p.ID <= 0 || p.Username == "" {
			log.ErrorContext(ctx, "dropping malformed users event", "event_id", ev.ID, "event_type", ev.Type, "error", err)
			return false, nil
		}
		changed, err := rm.UpsertAuthorTx(ctx, tx, p.Domain())
		if err != nil {
			return false, fmt.Errorf("applying %s %s: %w", ev.Type, ev.ID, err)
		}
		return changed, nil
	case domain.EventFollowCreated, domain.EventFollowDeleted:
		var f followPayload
		if err := json.Unmarshal(ev.Data, &f); err != nil || f.FollowerID <= 0 || f.FolloweeID <= 0 {
			log.ErrorContext(ctx, "dropping malformed follow event", "event_id", ev.ID, "event_type", ev.Type, "error", err)
			return false, nil
		}
		at := int64(f.At)
		if at == 0 && !ev.OccurredAt.IsZero() {
			at = ev.OccurredAt.UnixMilli()
		}
		follow := domain.Follow{FollowerID: f.FollowerID, FolloweeID: f.FolloweeID,
			Following: ev.Type == domain.EventFollowCreated, At: at}
		changed, err := rm.ApplyFollowTx(ctx, tx, follow)
		if err != nil {
			return false, fmt.Errorf("applying %s %s: %w", ev.Type, ev.ID, err)
		}
		return changed, nil
	default:
		log.WarnContext(ctx, "ignoring unexpected event", "event_id", ev.ID, "event_type", ev.Type)
	}
	return false, nil
}
