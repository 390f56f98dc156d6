package telemetry

import (
	"sync"
	"time"
)

// FailureInterval is how often a FailureLimiter lets a failure be logged.
const FailureInterval = 10 * time.Second

// FailureLimiter bounds the log lines of a worker whose every unit of work
// can fail the same way at once: while Redis is down the blog's cache
// consumer fails every event, hundreds a second under load, each with its
// own event ID (so the dedupe handler, keyed on the error text, lets every
// one through). It decides, and the worker logs:
//
//   - the first failure, and after it at most one failure per interval, whose
//     line carries "suppressed": how many failed since the last line written
//     (lines + suppressed is every failure, as with the dedupe handler);
//   - one recovery line at the first success after a failure was written,
//     with how many failed since the previous recovery line and for how long.
//
// A flapping dependency (successes between the failures) therefore writes
// at most one failure line and one recovery line per interval, and the log is
// never wrong for longer than an interval. Metrics are not its business: the
// worker counts every failure where it happens.
type FailureLimiter struct {
	interval time.Duration

	mu          sync.Mutex
	lastWritten time.Time // the last failure line; zero: none yet
	unwritten   int       // failures since lastWritten that were not written
	failures    int       // failures since the last recovery line
	since       time.Time // the first of them
	written     bool      // a failure line was written since the last recovery line
}

// NewFailureLimiter returns a limiter that lets one failure a interval be
// written (FailureInterval when interval is not positive).
func NewFailureLimiter(interval time.Duration) *FailureLimiter {
	if interval <= 0 {
		interval = FailureInterval
	}
	return &FailureLimiter{interval: interval}
}

// Fail records a failure at now. When write is true the caller logs it,
// with suppressed (the failures left out since the last line written, over
// within) if suppressed > 0.
func (l *FailureLimiter) Fail(now time.Time) (write bool, suppressed int, within time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures == 0 {
		l.since = now
	}
	l.failures++
	if !l.lastWritten.IsZero() && now.Sub(l.lastWritten) < l.interval {
		l.unwritten++
		return false, 0, 0
	}
	suppressed, within = l.unwritten, now.Sub(l.lastWritten)
	l.lastWritten, l.unwritten, l.written = now, 0, true
	return true, suppressed, within
}

// Succeed records a success at now. When recovered is true the caller logs
// that the work succeeds again, after failures failures over failingFor.
func (l *FailureLimiter) Succeed(now time.Time) (recovered bool, failures int, failingFor time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.written {
		return false, 0, 0
	}
	failures, failingFor = l.failures, now.Sub(l.since)
	l.failures, l.since, l.written = 0, time.Time{}, false
	return true, failures, failingFor
}
