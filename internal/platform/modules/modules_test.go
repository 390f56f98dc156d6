package modules

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

type recorder struct{ events []string }

func (r *recorder) module(name string, failStart bool) func(context.Context) (Service, error) {
	return func(context.Context) (Service, error) {
		r.events = append(r.events, "init "+name)
		return Funcs{
			StartFunc: func(context.Context) error {
				r.events = append(r.events, "start "+name)
				if failStart {
					return errors.New("boom")
				}
				return nil
			},
			StopFunc: func(context.Context) error {
				r.events = append(r.events, "stop "+name)
				return nil
			},
		}, nil
	}
}

func newGraph(r *recorder, failing string) *Manager {
	m := New()
	m.Register("server", false, r.module("server", failing == "server"))
	m.Register("db", false, r.module("db", failing == "db"))
	m.Register("users", true, r.module("users", failing == "users"))
	m.Register("blog", true, r.module("blog", failing == "blog"))
	m.RegisterGroup("all")
	m.DependsOn("users", "server", "db")
	m.DependsOn("blog", "server", "db", "users")
	m.DependsOn("all", "users", "blog")
	return m
}

func TestStartsInDependencyOrderAndStopsInReverse(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	m := newGraph(r, "")
	ctx := context.Background()
	require.NoError(t, m.Init(ctx, []string{"all"}))
	require.NoError(t, m.Start(ctx))
	require.True(t, m.Running())
	require.NoError(t, m.Stop(ctx))
	require.False(t, m.Running())
	require.Equal(t, []string{
		"init db", "init server", "init users", "init blog",
		"start db", "start server", "start users", "start blog",
		"stop blog", "stop users", "stop server", "stop db",
	}, r.events)
}

func TestSingleTargetPullsOnlyItsDependencies(t *testing.T) {
	t.Parallel()
	m := newGraph(&recorder{}, "")
	order, err := m.Resolve([]string{"users"})
	require.NoError(t, err)
	require.Equal(t, []string{"db", "server", "users"}, order)
}

func TestInternalAndUnknownTargetsAreRefused(t *testing.T) {
	t.Parallel()
	m := newGraph(&recorder{}, "")
	_, err := m.Resolve([]string{"server"})
	require.ErrorContains(t, err, `unknown target "server"`)
	_, err = m.Resolve([]string{"nope"})
	require.ErrorContains(t, err, "targets: [all blog users]")
}

func TestFailedStartStopsWhatStarted(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	m := newGraph(r, "users")
	ctx := context.Background()
	require.NoError(t, m.Init(ctx, []string{"blog"}))
	require.ErrorContains(t, m.Start(ctx), "starting module users: boom")
	require.False(t, m.Running())
	require.Equal(t, []string{"stop server", "stop db"}, r.events[len(r.events)-2:])
}

func TestCycleIsReported(t *testing.T) {
	t.Parallel()
	m := New()
	m.Register("a", true, nil)
	m.Register("b", false, nil)
	m.DependsOn("a", "b")
	m.DependsOn("b", "a")
	_, err := m.Resolve([]string{"a"})
	require.ErrorContains(t, err, "dependency cycle")
}
