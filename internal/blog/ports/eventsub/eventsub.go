// Package eventsub applies the users service's events to the blog's read
// model of authors and follows, and the blog's own events to its list cache.
package eventsub

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/users/userevents"
)

// ConsumerName is the durable consumer's name.
const ConsumerName = "blog-users"

// EventTypes are the users events the blog consumes.
var EventTypes = []string{
	userevents.UserRegistered, userevents.UserUpdated, userevents.FollowCreated, userevents.FollowDeleted,
	userevents.UserDeleted,
}

// ReadModel is where the events land; each write runs in the consumer's
// transaction, next to the processed_events record that makes it idempotent.
type ReadModel interface {
	UpsertAuthorTx(ctx context.Context, q database.Querier, p domain.Profile) (bool, error)
	ApplyFollowTx(ctx context.Context, q database.Querier, f domain.Follow) (bool, error)
	DeleteAuthorTx(ctx context.Context, q database.Querier, id int64) (bool, error)
}

// Invalidator makes cached reads stale after a change; the user it names
// (0: none) sees it at once (app.Service.Invalidate).
type Invalidator interface {
	Invalidate(ctx context.Context, userID int64) error
}

// Handler returns the consumer's handler. Users are applied only when newer
// than what the read model holds; follows by last write (At) wins. A payload
// that cannot be decoded is logged and dropped: redelivering it would never
// succeed. A change that was applied invalidates cached reads (inv may be
// nil), because cached pages carry authors' profiles and feeds and flags
// carry follows; the user who made it (the follower, the updated user)
// reads strictly for a while, so their change shows to them at once. A
// registration invalidates nothing: no cached page can carry an author the
// read model did not know (such pages are not cached), and a registration
// is the oldest profile of its user. The invalidation lands just before the
// consumer commits; a read in that window may cache the old profile, which
// then lives for the cache TTL at most (ADR 0006).
func Handler(rm ReadModel, inv Invalidator, log *slog.Logger) events.HandlerFunc {
	return func(ctx context.Context, tx *database.Tx, ev events.Event) error {
		changed, actor, err := apply(ctx, rm, tx, ev, log)
		if err != nil || !changed || inv == nil || ev.Type == userevents.UserRegistered {
			return err
		}
		if err := inv.Invalidate(ctx, actor); err != nil {
			return fmt.Errorf("invalidating cached pages after %s %s: %w", ev.Type, ev.ID, err)
		}
		return nil
	}
}

// apply applies ev and reports whether it changed the read model, and whose
// change it was.
func apply(ctx context.Context, rm ReadModel, tx *database.Tx, ev events.Event, log *slog.Logger) (bool, int64, error) {
	switch ev.Type {
	case userevents.UserRegistered, userevents.UserUpdated:
		var p userevents.User
		if err := json.Unmarshal(ev.Data, &p); err != nil || p.ID <= 0 || p.Username == "" {
			log.ErrorContext(ctx, "dropping malformed users event", "event_id", ev.ID, "event_type", ev.Type, "error", err)
			return false, 0, nil
		}
		changed, err := rm.UpsertAuthorTx(ctx, tx, domain.ProfileOf(p))
		if err != nil {
			return false, 0, fmt.Errorf("applying %s %s: %w", ev.Type, ev.ID, err)
		}
		return changed, p.ID, nil
	case userevents.FollowCreated, userevents.FollowDeleted:
		var f userevents.Follow
		if err := json.Unmarshal(ev.Data, &f); err != nil || f.FollowerID <= 0 || f.FolloweeID <= 0 {
			log.ErrorContext(ctx, "dropping malformed follow event", "event_id", ev.ID, "event_type", ev.Type, "error", err)
			return false, 0, nil
		}
		at := int64(f.At)
		if at == 0 && !ev.OccurredAt.IsZero() {
			at = ev.OccurredAt.UnixMilli()
		}
		follow := domain.Follow{FollowerID: f.FollowerID, FolloweeID: f.FolloweeID,
			Following: ev.Type == userevents.FollowCreated, At: at}
		changed, err := rm.ApplyFollowTx(ctx, tx, follow)
		if err != nil {
			return false, 0, fmt.Errorf("applying %s %s: %w", ev.Type, ev.ID, err)
		}
		return changed, f.FollowerID, nil
	case userevents.UserDeleted:
		var d userevents.Deleted
		if err := json.Unmarshal(ev.Data, &d); err != nil || d.ID <= 0 {
			log.ErrorContext(ctx, "dropping malformed users event", "event_id", ev.ID, "event_type", ev.Type, "error", err)
			return false, 0, nil
		}
		changed, err := rm.DeleteAuthorTx(ctx, tx, d.ID)
		if err != nil {
			return false, 0, fmt.Errorf("applying %s %s: %w", ev.Type, ev.ID, err)
		}
		return changed, d.ID, nil
	default:
		log.WarnContext(ctx, "ignoring unexpected event", "event_id", ev.ID, "event_type", ev.Type)
	}
	return false, 0, nil
}
