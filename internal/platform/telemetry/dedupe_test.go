package telemetry

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A dead dependency fails every request the same way: its error is logged
// once per interval with a count, not once per request; other errors and
// info lines pass untouched.
func TestRepeatedErrorsAreLoggedOncePerInterval(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	log := slog.New(newDedupeHandler(slog.NewJSONHandler(&buf, nil), time.Second, clock)).With("service", "blog")
	down := errors.New("dial tcp 10.0.0.7:5432: connect: connection refused")
	for range 9000 {
		log.Error("request failed", "error", down, "request_id", "different each time")
	}
	log.Error("request failed", "error", errors.New("another cause"))
	log.Info("request served", "error", down)
	log.Info("request served", "error", down)
	log.With("service", "users").Error("request failed", "error", down)
	mu.Lock()
	now = now.Add(1100 * time.Millisecond)
	mu.Unlock()
	log.Error("request failed", "error", down)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 6, buf.String())
	require.Contains(t, lines[0], "connection refused")
	require.NotContains(t, lines[0], "suppressed")
	require.Contains(t, lines[1], "another cause")
	require.Contains(t, lines[4], `"service":"users"`, "another logger's identical error is its own")
	require.Contains(t, lines[5], `"suppressed":8999`)
}
