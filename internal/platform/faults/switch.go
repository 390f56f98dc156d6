package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Deps are the Switch's collaborators.
type Deps struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer // the process registry (nil: not exported)
	// MaxCores bounds cpu.cores; 0 means runtime.NumCPU().
	MaxCores int
}

// Switch holds the fault set of one process. The composition root creates
// one and hands it to every seam (database, cache, events, HTTP client and
// server); a nil *Switch injects nothing, so packages and tests that do not
// care pass none. Reading it is one atomic load while no fault is set.
type Switch struct {
	log      *slog.Logger
	maxCores int
	active   *prometheus.GaugeVec
	injected map[string]prometheus.Counter

	cur atomic.Pointer[state] // nil while no fault is set

	mu        sync.Mutex // serialises changes
	set       Set
	changedAt time.Time
	expiresAt time.Time
	timer     *time.Timer
	gen       uint64             // bumped by every change, so a stale expiry does nothing
	stop      context.CancelFunc // stops the CPU and memory workers
	workers   sync.WaitGroup
}

// state is what the hot paths read: the set with its percentages resolved.
type state struct {
	delay                         time.Duration
	latencyPct, errorsPct, depPct float64
	latency, errors, unready      bool
	dep                           string
	clock                         time.Duration
}

// New returns a switch with no fault set and registers its metrics:
// tungsten_fault_active{fault} (0 or 1, present for every fault from the
// start) and tungsten_fault_injections_total{fault}.
func New(deps Deps) *Switch {
	s := &Switch{
		log: deps.Logger, maxCores: deps.MaxCores, injected: map[string]prometheus.Counter{},
		changedAt: time.Now().UTC(),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tungsten_fault_active",
			Help: "Whether an operator-injected fault is set in this process (1) or not (0), by fault (ADR 0016).",
		}, []string{"fault"}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxCores <= 0 {
		s.maxCores = runtime.NumCPU()
	}
	injections := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tungsten_fault_injections_total",
		Help: "Requests, calls and probes an injected fault affected, by fault (ADR 0016).",
	}, []string{"fault"})
	for _, f := range Names() {
		s.active.WithLabelValues(f).Set(0)
		s.injected[f] = injections.WithLabelValues(f)
	}
	if deps.Registerer != nil {
		deps.Registerer.MustRegister(s.active, injections)
	}
	return s
}

// MaxCores is the bound of cpu.cores that Parse should apply.
func (s *Switch) MaxCores() int { return s.maxCores }

// Status is the answer of GET /admin/faults.
type Status struct {
	Faults    Set        `json:"faults"`
	ChangedAt time.Time  `json:"changed_at"`           // the last change (or the process's start)
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // when the set clears itself
}

// Status returns the current set.
func (s *Switch) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked()
}

func (s *Switch) statusLocked() Status {
	st := Status{Faults: s.set, ChangedAt: s.changedAt}
	if !s.expiresAt.IsZero() {
		t := s.expiresAt
		st.ExpiresAt = &t
	}
	return st
}

// Apply replaces the whole set by set (as Parse returned it) and logs the
// change with who made it. An empty set is the same as Clear.
func (s *Switch) Apply(set Set, who string) Status {
	if set.Empty() {
		return s.Clear(who)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
	s.set, s.changedAt = set, time.Now().UTC()
	d := time.Duration(set.Duration)
	if d <= 0 {
		d = DefaultDuration
	}
	s.expiresAt = s.changedAt.Add(d)
	gen := s.gen
	s.timer = time.AfterFunc(d, func() { s.expire(gen) })
	st := &state{unready: set.Unready}
	if l := set.Latency; l != nil {
		st.latency, st.delay, st.latencyPct = true, time.Duration(l.Delay), *l.Percent
	}
	if e := set.Errors; e != nil {
		st.errors, st.errorsPct = true, *e.Percent
	}
	if dep := set.Dependency; dep != nil {
		st.dep, st.depPct = dep.Target, *dep.Percent
	}
	if c := set.Clock; c != nil {
		st.clock = time.Duration(c.Offset)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	if c := set.CPU; c != nil {
		for range min(c.Cores, s.maxCores) {
			s.workers.Go(func() { burn(ctx) })
		}
	}
	if m := set.Memory; m != nil {
		s.workers.Go(func() { grow(ctx, m.MiBPerSecond, m.MaxMiB) })
	}
	s.cur.Store(st)
	for f, on := range set.active() {
		s.active.WithLabelValues(f).Set(b2f(on))
	}
	s.log.Warn("fault injection set", "faults", setJSON(set), "who", who, "expires_at", s.expiresAt.Format(time.RFC3339))
	return s.statusLocked()
}

// Clear removes every fault: the hot paths stop injecting, the CPU burners
// stop and the grown memory is released.
func (s *Switch) Clear(who string) Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.set
	s.stopLocked()
	s.changedAt = time.Now().UTC()
	s.log.Warn("fault injection cleared", "faults", setJSON(was), "who", who)
	return s.statusLocked()
}

// Close stops the workers at shutdown, like Clear but without a log line.
func (s *Switch) Close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// expire clears the set of generation gen when its duration ends, unless
// another change came first.
func (s *Switch) expire(gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen {
		return
	}
	was := s.set
	s.stopLocked()
	s.changedAt = time.Now().UTC()
	s.log.Warn("fault injection expired", "faults", setJSON(was), "who", "expiry")
}

// stopLocked turns everything off and waits for the workers.
func (s *Switch) stopLocked() {
	s.gen++
	s.cur.Store(nil)
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.stop != nil {
		s.stop()
		s.stop = nil
		s.workers.Wait()
	}
	hadMemory := s.set.Memory != nil
	s.set, s.expiresAt = Set{}, time.Time{}
	for _, f := range Names() {
		s.active.WithLabelValues(f).Set(0)
	}
	if hadMemory {
		debug.FreeOSMemory() // the worker dropped its blocks: hand them back now
	}
}

// Active reports whether any fault is set: the one atomic load every seam
// pays when none is.
func (s *Switch) Active() bool { return s != nil && s.cur.Load() != nil }

// Delay returns the latency to add before this public request, zero for
// most requests. It counts the requests it delays.
func (s *Switch) Delay() time.Duration {
	if s == nil {
		return 0
	}
	st := s.cur.Load()
	if st == nil || !st.latency || !sample(st.latencyPct) {
		return 0
	}
	s.injected[Latency].Inc()
	return st.delay
}

// FailRequest reports whether this public API request is to be answered 500,
// and counts it.
func (s *Switch) FailRequest() bool {
	if s == nil {
		return false
	}
	st := s.cur.Load()
	if st == nil || !st.errors || !sample(st.errorsPct) {
		return false
	}
	s.injected[Errors].Inc()
	return true
}

// Unready reports whether readiness is to fail, and counts the probes it fails.
func (s *Switch) Unready() bool {
	if s == nil {
		return false
	}
	st := s.cur.Load()
	if st == nil || !st.unready {
		return false
	}
	s.injected[Unready].Inc()
	return true
}

// Now is the wall clock the process issues tokens by (the auth service):
// time.Now, moved by the clock fault's offset while one is set. It does not count
// injections (it is read on every token, not per affected request).
func (s *Switch) Now() time.Time {
	if s == nil {
		return time.Now()
	}
	if st := s.cur.Load(); st != nil && st.clock != 0 {
		return time.Now().Add(st.clock)
	}
	return time.Now()
}

// Fail returns an *Error when this call to target is to fail, nil
// otherwise; it counts the calls it fails.
func (s *Switch) Fail(target string) error {
	if s == nil {
		return nil
	}
	st := s.cur.Load()
	if st == nil || st.dep != target || !sample(st.depPct) {
		return nil
	}
	s.injected[Dependency].Inc()
	return &Error{Target: target}
}

// Error is an injected dependency failure. It wraps ECONNREFUSED so that the
// existing error paths classify it as an unavailable dependency (503 with
// Retry-After, a breaker opening, a retry), as a real outage would be.
type Error struct{ Target string }

func (e *Error) Error() string {
	return fmt.Sprintf("fault injection: %s unavailable (connection refused)", e.Target)
}

// Unwrap returns syscall.ECONNREFUSED.
func (e *Error) Unwrap() error { return syscall.ECONNREFUSED }

// sample reports true for pct% of calls.
func sample(pct float64) bool {
	return pct >= 100 || pct > 0 && rand.Float64()*100 < pct
}

// burn keeps one core busy until ctx ends. It checks ctx every few
// microseconds of work, so a clear stops it at once.
func burn(ctx context.Context) {
	x := uint64(1)
	for ctx.Err() == nil {
		for i := 0; i < 1<<14; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	_ = x
}

// grow allocates perSecond MiB a second, touching every page so the memory
// is resident, up to maxMiB, and holds it until ctx ends.
func grow(ctx context.Context, perSecond, maxMiB int) {
	var held [][]byte
	t := time.NewTicker(time.Second / time.Duration(perSecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return // held goes with the goroutine; Clear returns the pages
		case <-t.C:
			if len(held) >= maxMiB {
				continue
			}
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			held = append(held, b)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// setJSON renders a set for a log line.
func setJSON(s Set) string {
	b, _ := json.Marshal(s)
	return string(b)
}
