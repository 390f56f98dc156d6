package breaker

import (
	"testing"
	"time"
)

func TestBreakerOpensForTheCooldown(t *testing.T) {
	t.Parallel()
	now := time.Unix(100, 0)
	b := New(time.Second)
	b.now = func() time.Time { return now }
	if !b.Allow() {
		t.Fatal("a new breaker is closed")
	}
	b.Fail()
	if b.Allow() {
		t.Fatal("open right after a failure")
	}
	now = now.Add(999 * time.Millisecond)
	if b.Allow() {
		t.Fatal("still open within the cool-down")
	}
	now = now.Add(time.Millisecond)
	if !b.Allow() {
		t.Fatal("closed again after the cool-down")
	}
}
