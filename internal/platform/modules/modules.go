// Package modules runs a process's modules in dependency order, in the style
// of Loki's and Mimir's module managers: every module names the modules it
// depends on; asking for a target initialises its transitive dependencies
// first; services start in that order and stop in reverse.
package modules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Service is what a module's init returns: something to start and stop.
// A module with nothing to run returns nil.
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Failer is implemented by a service that runs background work (an outbox
// relay, event consumers): Failed delivers the error that ended such work
// while the service was meant to be running. The manager then reports the
// module as failed (see Manager.Failed) and the process shuts down, instead
// of carrying on without it.
type Failer interface {
	Failed() <-chan error
}

// Funcs adapts two functions to Service.
type Funcs struct {
	StartFunc func(ctx context.Context) error
	StopFunc  func(ctx context.Context) error
}

// Start implements Service.
func (f Funcs) Start(ctx context.Context) error {
	if f.StartFunc == nil {
		return nil
	}
	return f.StartFunc(ctx)
}

// Stop implements Service.
func (f Funcs) Stop(ctx context.Context) error {
	if f.StopFunc == nil {
		return nil
	}
	return f.StopFunc(ctx)
}

type module struct {
	init   func(ctx context.Context) (Service, error)
	deps   []string
	public bool // selectable as a target
}

// Manager holds the module graph.
type Manager struct {
	modules map[string]*module

	mu       sync.Mutex
	order    []string // initialised modules, dependencies first
	services map[string]Service
	running  bool

	failed   chan error    // the first module failure after Start
	stopping chan struct{} // closed by Stop: ends the failure watchers
	watchers sync.WaitGroup
}

// New returns an empty manager.
func New() *Manager {
	return &Manager{
		modules: map[string]*module{}, services: map[string]Service{},
		failed: make(chan error, 1), stopping: make(chan struct{}),
	}
}

// Register adds a module. Public modules can be asked for as targets;
// internal ones (server, database, ...) only come in as dependencies.
func (m *Manager) Register(name string, public bool, init func(ctx context.Context) (Service, error)) {
	m.modules[name] = &module{init: init, public: public}
}

// RegisterGroup adds a public target that is only the sum of its
// dependencies (e.g. "all").
func (m *Manager) RegisterGroup(name string) {
	m.modules[name] = &module{public: true}
}

// DependsOn sets a module's dependencies.
func (m *Manager) DependsOn(name string, deps ...string) {
	m.modules[name].deps = deps
}

// Targets lists the public modules, sorted.
func (m *Manager) Targets() []string {
	var out []string
	for n, mod := range m.modules {
		if mod.public {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Resolve returns targets plus their transitive dependencies in
// initialisation order (dependencies first), or an error for an unknown or
// internal target or a dependency cycle.
func (m *Manager) Resolve(targets []string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(name string, path []string) error
	visit = func(name string, path []string) error {
		mod, ok := m.modules[name]
		if !ok {
			return fmt.Errorf("unknown module %q", name)
		}
		switch state[name] {
		case 1:
			return fmt.Errorf("dependency cycle: %v", append(path, name))
		case 2:
			return nil
		}
		state[name] = 1
		deps := slices.Clone(mod.deps)
		sort.Strings(deps)
		for _, d := range deps {
			if err := visit(d, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, name)
		return nil
	}
	for _, t := range targets {
		mod, ok := m.modules[t]
		if !ok || !mod.public {
			return nil, fmt.Errorf("unknown target %q (targets: %v)", t, m.Targets())
		}
		if err := visit(t, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// Init initialises targets and their dependencies, in order. If one fails,
// the services of the modules initialised before it are stopped in reverse
// order, so what they opened (databases, connections) is closed.
func (m *Manager) Init(ctx context.Context, targets []string) error {
	order, err := m.Resolve(targets)
	if err != nil {
		return err
	}
	for _, name := range order {
		mod := m.modules[name]
		if mod.init == nil {
			continue
		}
		svc, err := mod.init(ctx)
		if err != nil {
			err = fmt.Errorf("initialising module %s: %w", name, err)
			m.mu.Lock()
			order := slices.Clone(m.order)
			m.mu.Unlock()
			return errors.Join(err, m.stop(context.WithoutCancel(ctx), order))
		}
		m.mu.Lock()
		m.order = append(m.order, name)
		if svc != nil {
			m.services[name] = svc
		}
		m.mu.Unlock()
	}
	return nil
}

// Start starts the services in dependency order. If one fails, those already
// started are stopped in reverse order.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	order := slices.Clone(m.order)
	m.mu.Unlock()
	for i, name := range order {
		svc, ok := m.services[name]
		if !ok {
			continue
		}
		if err := svc.Start(ctx); err != nil {
			err = fmt.Errorf("starting module %s: %w", name, err)
			return errors.Join(err, m.stop(context.WithoutCancel(ctx), order[:i]))
		}
	}
	m.mu.Lock()
	m.running = true
	m.mu.Unlock()
	for _, name := range order {
		f, ok := m.services[name].(Failer)
		if !ok {
			continue
		}
		m.watchers.Go(func() {
			select {
			case err := <-f.Failed():
				select {
				case m.failed <- fmt.Errorf("module %s failed: %w", name, err):
				default: // one failure is enough to shut down
				}
			case <-m.stopping:
			}
		})
	}
	return nil
}

// Failed delivers the first failure of a running module's background work.
// The process should then shut down (Stop) and exit non-zero.
func (m *Manager) Failed() <-chan error { return m.failed }

// Running reports whether every module has started and none has stopped.
func (m *Manager) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running
}

// Stop marks the manager not running and stops every service in reverse
// order, collecting errors.
func (m *Manager) Stop(ctx context.Context) error {
	m.mu.Lock()
	m.running = false
	order := slices.Clone(m.order)
	select {
	case <-m.stopping:
	default:
		close(m.stopping)
	}
	m.mu.Unlock()
	m.watchers.Wait()
	return m.stop(ctx, order)
}

func (m *Manager) stop(ctx context.Context, order []string) error {
	var errs []error
	for i := len(order) - 1; i >= 0; i-- {
		svc, ok := m.services[order[i]]
		if !ok {
			continue
		}
		if err := svc.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping module %s: %w", order[i], err))
		}
	}
	return errors.Join(errs...)
}
