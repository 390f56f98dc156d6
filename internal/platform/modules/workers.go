package modules

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// Workers runs a service's background goroutines. Stop cancels them and
// waits for every one; a worker that returns an error, or panics, while the
// group runs is reported on Failed (the first one only), which makes the
// service a Failer. A worker returning nil or ctx.Err() after Stop is a
// normal exit.
//
// Workers decide themselves what is worth retrying (a database or NATS
// error in one pass of a loop): returning from fn means the work is dead.
type Workers struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	failed chan error
}

func (w *Workers) init() {
	w.once.Do(func() {
		w.ctx, w.cancel = context.WithCancel(context.Background())
		w.failed = make(chan error, 1)
	})
}

// Go starts fn with the group's context; name says what died in the report.
func (w *Workers) Go(name string, fn func(ctx context.Context) error) {
	w.init()
	w.wg.Go(func() {
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
				}
			}()
			return fn(w.ctx)
		}()
		if w.ctx.Err() != nil {
			return // stopping: whatever it returned is expected
		}
		if err == nil {
			err = fmt.Errorf("stopped unexpectedly")
		}
		select {
		case w.failed <- fmt.Errorf("%s: %w", name, err):
		default:
		}
	})
}

// Failed implements Failer.
func (w *Workers) Failed() <-chan error {
	w.init()
	return w.failed
}

// Stop cancels the workers and waits for them, or for ctx to end.
func (w *Workers) Stop(ctx context.Context) error {
	w.init()
	w.cancel()
	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for background workers: %w", ctx.Err())
	}
}
