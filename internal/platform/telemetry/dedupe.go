package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DedupeInterval is how long identical warnings and errors are logged once.
const DedupeInterval = 10 * time.Second

// maxDedupeKeys bounds the memory of a dedupeHandler: past it, it forgets
// and starts again.
const maxDedupeKeys = 1024

// dedupeHandler logs the first of identical WARN and ERROR records that carry
// an "error" attribute (same logger attributes, level, message and error
// text) within DedupeInterval and only counts the others; the first one
// after the interval carries "suppressed": how many were left out. A dead
// dependency fails every request the same way: this keeps its ~3,000
// lines a second down to one per interval. Metrics are untouched: they are
// counted where the failure happens, not from logs. (The count of a burst
// that stops is only known to the metrics.)
type dedupeHandler struct {
	slog.Handler
	st    *dedupeState
	scope string // the logger's own attributes, part of the key
}

type dedupeState struct {
	mu       sync.Mutex
	interval time.Duration
	now      func() time.Time
	seen     map[string]*dedupeEntry
}

type dedupeEntry struct {
	since      time.Time
	suppressed int
}

func newDedupeHandler(next slog.Handler, interval time.Duration, now func() time.Time) dedupeHandler {
	return dedupeHandler{Handler: next, st: &dedupeState{interval: interval, now: now, seen: map[string]*dedupeEntry{}}}
}

func (h dedupeHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.Handler.Handle(ctx, r)
	}
	var errText string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			errText = a.Value.String()
			return false
		}
		return true
	})
	if errText == "" {
		return h.Handler.Handle(ctx, r)
	}
	key := h.scope + "\x00" + r.Level.String() + "\x00" + r.Message + "\x00" + errText
	st := h.st
	st.mu.Lock()
	now := st.now()
	e := st.seen[key]
	if e != nil && now.Sub(e.since) < st.interval {
		e.suppressed++
		st.mu.Unlock()
		return nil
	}
	suppressed := 0
	if e != nil {
		suppressed = e.suppressed
	}
	if len(st.seen) >= maxDedupeKeys {
		clear(st.seen)
	}
	st.seen[key] = &dedupeEntry{since: now}
	st.mu.Unlock()
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", suppressed), slog.String("suppressed_within", st.interval.String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h dedupeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	scope := h.scope
	for _, a := range attrs {
		scope += "\x00" + a.String()
	}
	return dedupeHandler{Handler: h.Handler.WithAttrs(attrs), st: h.st, scope: scope}
}

func (h dedupeHandler) WithGroup(name string) slog.Handler {
	return dedupeHandler{Handler: h.Handler.WithGroup(name), st: h.st, scope: h.scope + "\x00[" + name + "]"}
}
