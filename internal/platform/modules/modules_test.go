package modules

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

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

func TestFailedInitClosesWhatEarlierModulesOpened(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	m := New()
	m.Register("db", false, r.module("db", false))
	m.Register("server", false, r.module("server", false))
	m.Register("users", true, func(context.Context) (Service, error) { return nil, errors.New("bad config") })
	m.DependsOn("users", "server", "db")
	err := m.Init(context.Background(), []string{"users"})
	require.ErrorContains(t, err, "initialising module users: bad config")
	require.Equal(t, []string{"init db", "init server", "stop server", "stop db"}, r.events)
}

type failing struct {
	Funcs
	failed <-chan error
}

func (f failing) Failed() <-chan error { return f.failed }

func TestBackgroundFailureIsReported(t *testing.T) {
	t.Parallel()
	w := &Workers{}
	m := New()
	m.Register("relay", true, func(context.Context) (Service, error) {
		return failing{Funcs: Funcs{StopFunc: w.Stop}, failed: w.Failed()}, nil
	})
	ctx := context.Background()
	require.NoError(t, m.Init(ctx, []string{"relay"}))
	require.NoError(t, m.Start(ctx))
	w.Go("outbox relay", func(context.Context) error { return errors.New("database gone") })
	select {
	case err := <-m.Failed():
		require.ErrorContains(t, err, "module relay failed: outbox relay: database gone")
	case <-time.After(5 * time.Second):
		require.Fail(t, "the worker's failure was not reported")
	}
	require.NoError(t, m.Stop(ctx))
}

func TestWorkersReportPanicsAndWaitOnStop(t *testing.T) {
	t.Parallel()
	w := &Workers{}
	w.Go("consumer", func(context.Context) error { panic("nil map") })
	select {
	case err := <-w.Failed():
		require.ErrorContains(t, err, "consumer: panic: nil map")
	case <-time.After(5 * time.Second):
		require.Fail(t, "the panic was not reported")
	}

	w = &Workers{}
	var exited atomic.Bool
	w.Go("relay", func(ctx context.Context) error {
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // a final pass
		exited.Store(true)
		return ctx.Err()
	})
	require.NoError(t, w.Stop(context.Background()))
	require.True(t, exited.Load(), "Stop returned before the worker did")
	select {
	case err := <-w.Failed():
		require.Failf(t, "a worker stopped by Stop was reported", "%v", err)
	default:
	}
}
