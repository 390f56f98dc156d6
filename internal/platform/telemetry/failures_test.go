package telemetry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A dependency down for a minute, failing 100 units of work a second, writes
// one failure line at once and one per interval after it, each counting what
// was left out since the one before; the first success writes one recovery
// line with the whole count.
func TestFailureLimiterWritesOneFailurePerIntervalAndOneRecovery(t *testing.T) {
	t.Parallel()
	l := NewFailureLimiter(10 * time.Second)
	start := time.Unix(1000, 0)
	type line struct {
		at         time.Duration
		suppressed int
	}
	var lines []line
	for i := range 6000 { // 60 s at 100/s
		at := time.Duration(i) * 10 * time.Millisecond
		if write, suppressed, within := l.Fail(start.Add(at)); write {
			lines = append(lines, line{at, suppressed})
			if suppressed > 0 {
				require.GreaterOrEqual(t, within, 10*time.Second)
			}
		}
	}
	require.Equal(t, []line{{0, 0}, {10 * time.Second, 999}, {20 * time.Second, 999}, {30 * time.Second, 999},
		{40 * time.Second, 999}, {50 * time.Second, 999}}, lines)
	recovered, failures, failingFor := l.Succeed(start.Add(61 * time.Second))
	require.True(t, recovered)
	require.Equal(t, 6000, failures)
	require.Equal(t, 61*time.Second, failingFor)

	again, _, _ := l.Succeed(start.Add(62 * time.Second))
	require.False(t, again, "one recovery line, not one per success")
}

// A flapping dependency (a success between every two failures) writes at
// most one failure and one recovery line per interval, and every failure is
// counted once: written or in a later line's suppressed.
func TestFailureLimiterBoundsAFlappingDependency(t *testing.T) {
	t.Parallel()
	l := NewFailureLimiter(10 * time.Second)
	start := time.Unix(1000, 0)
	failLines, recoveryLines, counted := 0, 0, 0
	for i := range 3000 { // 30 s: fail, succeed, fail, succeed, ...
		now := start.Add(time.Duration(i) * 10 * time.Millisecond)
		if i%2 == 0 {
			if write, suppressed, _ := l.Fail(now); write {
				failLines++
				counted += 1 + suppressed
			}
		} else if recovered, _, _ := l.Succeed(now); recovered {
			recoveryLines++
		}
	}
	require.Equal(t, 3, failLines, "at 0, 10 and 20 s")
	require.Equal(t, 3, recoveryLines)
	// The failures after the last line (20-30 s) wait for the next one.
	require.Equal(t, 1000+1, counted)
}

// After a quiet spell longer than the interval, a new outage's first
// failure is written at once, with nothing suppressed.
func TestFailureLimiterWritesANewOutageAtOnce(t *testing.T) {
	t.Parallel()
	l := NewFailureLimiter(0) // FailureInterval
	start := time.Unix(1000, 0)
	write, _, _ := l.Fail(start)
	require.True(t, write)
	recovered, failures, _ := l.Succeed(start.Add(time.Second))
	require.True(t, recovered)
	require.Equal(t, 1, failures)
	write, suppressed, _ := l.Fail(start.Add(time.Minute))
	require.True(t, write)
	require.Zero(t, suppressed)
	write, _, _ = l.Fail(start.Add(time.Minute + FailureInterval - time.Millisecond))
	require.False(t, write)
}
