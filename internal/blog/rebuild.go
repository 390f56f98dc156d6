package blog

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tungsten-blog/tungsten/internal/blog/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/blog/adapters/usersclient"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/blog/ports/eventsub"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// RebuildDeps are what RebuildReadModel works on.
type RebuildDeps struct {
	DB        *database.DB
	Users     *httpx.Client
	JetStream jetstream.JetStream
	Namespace events.Namespace
}

// RebuildStats says what a rebuild loaded.
type RebuildStats struct{ Authors, Follows int }

// RebuildReadModel replaces the read model of authors and follows with a
// snapshot from the users service, and deletes the blog's durable consumer
// of users events, so that the blog's next start replays every event the
// stream still holds on top of it (ADR 0011, docs/operations.md). Run it
// with the blog stopped.
//
// Why that is exact: the snapshot is taken after the stream's oldest
// retained event, and the replay runs from that event to the present, so
// every change is in the snapshot, the replay, or both; applying the same
// change twice is harmless (profiles apply only when newer, follows by
// last write, deletions remove what is there), and within the replay the
// order is the stream's.
func RebuildReadModel(ctx context.Context, deps RebuildDeps) (RebuildStats, error) {
	var st RebuildStats
	users := usersclient.New(deps.Users)
	store := sqlstore.New(deps.DB, nil, nil)
	err := deps.DB.Transact(ctx, func(tx *database.Tx) error {
		st = RebuildStats{}
		for _, q := range []string{`DELETE FROM authors`, `DELETE FROM author_follows`} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("emptying the read model: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM processed_events WHERE consumer = $1`, eventsub.ConsumerName); err != nil {
			return fmt.Errorf("forgetting processed users events: %w", err)
		}
		for after := int64(0); ; {
			page, err := users.Snapshot(ctx, after)
			if err != nil {
				return err
			}
			for _, p := range page.Profiles {
				if _, err := store.UpsertAuthorTx(ctx, tx, domain.ProfileOf(p)); err != nil {
					return err
				}
				st.Authors++
			}
			for _, f := range page.Follows {
				if _, err := store.ApplyFollowTx(ctx, tx, domain.Follow{FollowerID: f.FollowerID, FolloweeID: f.FolloweeID,
					Following: true, At: int64(f.At)}); err != nil {
					return err
				}
				st.Follows++
			}
			if page.Next <= after {
				return nil
			}
			after = page.Next
		}
	})
	if err != nil {
		return RebuildStats{}, fmt.Errorf("rebuilding the read model: %w", err)
	}
	durable := deps.Namespace.Durable(eventsub.ConsumerName)
	err = deps.JetStream.DeleteConsumer(ctx, deps.Namespace.Stream("users"), durable)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) && !events.IsStreamMissing(err) {
		return st, fmt.Errorf("resetting consumer %s: %w", durable, err)
	}
	return st, nil
}
