package ratelimit_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/ratelimit"
)

// fakeClock is a time source a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// clocked is a limiter whose time a test controls.
type clocked interface {
	ratelimit.Limiter
	SetClock(func() time.Time)
}

// checkWindows sends requests for a few keys at random moments across
// several windows of rule and checks every decision against the model of a
// fixed window: a request is admitted when fewer than rule.Limit requests of
// its key came earlier in the same window (exact says the limiter counts
// every request, as Memory does; otherwise only "no more than Limit" is
// checked). It fails if a window's budget is forgotten early (more than
// Limit admitted) or kept late (a fresh window's first request refused).
func checkWindows(t *testing.T, l clocked, rule ratelimit.Rule, seed uint64, exact bool) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	clock := &fakeClock{now: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(time.Hour))))}
	l.SetClock(clock.Now)
	type slot struct {
		key   string
		start time.Time
	}
	seen, admitted := map[slot]int{}, map[slot]int{}
	keys := []string{"203.0.113.1", "203.0.113.2", "user:42"}
	// About 3·Limit requests per key and window, spread over the whole
	// window (so also long after its first 10 minutes), over 4 windows.
	step := max(rule.Window/time.Duration(3*rule.Limit*len(keys)), time.Millisecond)
	end := clock.Now().Add(4 * rule.Window)
	ctx := context.Background()
	for clock.Now().Before(end) {
		clock.Advance(time.Duration(rng.Int64N(int64(2 * step))))
		now := clock.Now()
		s := slot{keys[rng.IntN(len(keys))], now.Truncate(rule.Window)}
		d := l.Allow(ctx, rule, s.key)
		if d.Allowed {
			admitted[s]++
		} else {
			require.Positive(t, d.RetryAfter, "a refusal says when to retry")
			require.LessOrEqual(t, d.RetryAfter, s.start.Add(rule.Window).Sub(now), "Retry-After is the end of the window")
		}
		require.LessOrEqual(t, admitted[s], rule.Limit, "window %v of %s (%v long) admitted more than its limit at %v",
			s.start, s.key, rule.Window, now.Sub(s.start))
		if seen[s] == 0 {
			require.True(t, d.Allowed, "the first request of a new window is admitted")
		}
		if exact {
			require.Equal(t, seen[s] < rule.Limit, d.Allowed, "request %d of window %v of %s at +%v", seen[s]+1, s.start, s.key, now.Sub(s.start))
		}
		seen[s]++
	}
}

// windows are rule windows from a second to an hour, including the ones
// the services use (1 min, 15 min, 1 h).
var windows = []time.Duration{time.Second, 7 * time.Second, time.Minute, 10 * time.Minute, 11 * time.Minute, 15 * time.Minute, time.Hour}

// A window is forgotten only once it has ended: a limiter that dropped
// every window 10 minutes after it began turned the 1-hour sign-up limit
// into one per 10 minutes, and reset the 15-minute login limits early.
func TestAbuse_Costs_WindowsAreKeptUntilTheyEnd(t *testing.T) {
	t.Parallel()
	for _, w := range windows {
		for _, limit := range []int{1, 3, 20} {
			t.Run(fmt.Sprintf("%v/%d", w, limit), func(t *testing.T) {
				t.Parallel()
				rule := ratelimit.Rule{Name: "w", Limit: limit, Window: w}
				checkWindows(t, ratelimit.NewMemory(nil), rule, uint64(w)+uint64(limit), true)
			})
		}
	}
}

// The limiter still forgets windows that ended, so memory holds only the
// keys of current windows.
func TestAbuse_Costs_EndedWindowsAreDropped(t *testing.T) {
	t.Parallel()
	l := ratelimit.NewMemory(nil)
	clock := &fakeClock{now: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
	l.SetClock(clock.Now)
	long := ratelimit.Rule{Name: "long", Limit: 5, Window: time.Hour}
	short := ratelimit.Rule{Name: "short", Limit: 5, Window: time.Second}
	ctx := context.Background()
	for i := range 100 {
		l.Allow(ctx, short, fmt.Sprintf("k%03d", i))
	}
	l.Allow(ctx, long, "kept")
	clock.Advance(2 * time.Minute) // past every short window and a sweep interval
	l.Allow(ctx, long, "kept")
	require.Equal(t, len("long\x00kept"), l.KeyBytes(), "only the hour-long window is still held")
	clock.Advance(time.Hour)
	l.Allow(ctx, short, "new")
	require.Equal(t, len("short\x00new"), l.KeyBytes(), "the hour-long window is dropped once it ended")
}

// FuzzWindows checks the fixed-window model for any window from 1 s to 1 h,
// limit and request pattern.
func FuzzWindows(f *testing.F) {
	f.Add(uint64(1), uint16(1), uint8(1))
	f.Add(uint64(2), uint16(900), uint8(5))
	f.Add(uint64(3), uint16(3600), uint8(20))
	f.Add(uint64(4), uint16(601), uint8(2))
	f.Fuzz(func(t *testing.T, seed uint64, seconds uint16, limit uint8) {
		rule := ratelimit.Rule{
			Name:   "f",
			Limit:  1 + int(limit)%30,
			Window: time.Duration(1+int(seconds)%3600) * time.Second,
		}
		checkWindows(t, ratelimit.NewMemory(nil), rule, seed, true)
	})
}

// The shared limiter keeps windows as long: counted in Redis for every
// request, and counted locally in batches (whose local state was also
// dropped 10 minutes into a window, letting a replica admit another batch).
func TestAbuse_Costs_SharedWindowsAreKeptUntilTheyEnd(t *testing.T) {
	t.Parallel()
	client, prefix := sharedRedis(t)
	for _, w := range []time.Duration{time.Second, time.Minute, 15 * time.Minute, time.Hour} {
		for _, batch := range []int{0, 4} {
			t.Run(fmt.Sprintf("%v/batch=%d", w, batch), func(t *testing.T) {
				t.Parallel()
				l := ratelimit.NewRedis(client, fmt.Sprintf("%s%v:%d:", prefix, w, batch), slog.New(slog.DiscardHandler), nil)
				rule := ratelimit.Rule{Name: "w", Limit: 20, Window: w, Batch: batch}
				checkWindows(t, l, rule, uint64(w)+uint64(batch), batch == 0)
			})
		}
	}
}
