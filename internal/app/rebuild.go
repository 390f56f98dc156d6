package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/tungsten-blog/tungsten/internal/blog"
	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/events"
	"github.com/tungsten-blog/tungsten/internal/users"
)

// RebuildReadModel runs `tungsten rebuild-read-model`: it replaces the
// blog's read model of authors and follows with a snapshot of the users
// service and resets the blog's consumer of users events, which replays
// what the stream still holds when the blog next starts (ADR 0011). The
// blog must be stopped. With users in --target the snapshot is read from
// the users database in process (the embedded default, stopped); otherwise
// from --users-url.
func (a *App) RebuildReadModel(ctx context.Context) (blog.RebuildStats, error) {
	if !a.runs(Blog) {
		return blog.RebuildStats{}, errors.New("--target must include blog")
	}
	ev, err := a.initEvents(ctx)
	if err != nil {
		return blog.RebuildStats{}, err
	}
	defer func() { _ = ev.Stop(context.WithoutCancel(ctx)) }()
	blogDB, err := a.openDB(ctx, Blog, a.cfg.MigrateOnStart)
	if err != nil {
		return blog.RebuildStats{}, err
	}
	defer func() { _ = blogDB.Close() }()
	if a.runs(Users) {
		usersDB, err := a.openDB(ctx, Users, a.cfg.MigrateOnStart)
		if err != nil {
			return blog.RebuildStats{}, err
		}
		defer func() { _ = usersDB.Close() }()
		noKeys := authn.NewVerifier(func(context.Context) (authn.JWKS, error) {
			return authn.JWKS{}, errors.New("rebuilding needs no token keys")
		})
		svc, err := users.New(a.cfg.Users, users.Deps{DB: usersDB, Verifier: noKeys})
		if err != nil {
			return blog.RebuildStats{}, fmt.Errorf("opening the users service in process: %w", err)
		}
		a.handlers[Users] = svc.Handler()
	}
	return blog.RebuildReadModel(ctx, blog.RebuildDeps{
		DB: blogDB, Users: a.client(Users), JetStream: a.js, Namespace: events.Namespace(a.cfg.NATSNamespace),
	})
}
