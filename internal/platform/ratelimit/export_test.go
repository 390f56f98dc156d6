package ratelimit

import "time"

// SetClock makes the limiter read the time from now, for tests that move
// through windows without waiting.
func (l *Memory) SetClock(now func() time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = now
}

// SetClock makes the limiter and its local fallback read the time from now.
func (l *Redis) SetClock(now func() time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = now
	l.fallback.SetClock(now)
}
