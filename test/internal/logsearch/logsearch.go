// Package logsearch queries VictoriaLogs' HTTP API (LogsQL) for the tests that prove a
// request's trace_id finds its log lines across services: test/observability (vlagent's
// file collector on loopback) and test/cluster (vlagent's Kubernetes collector).
package logsearch

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Query runs a LogsQL query against VictoriaLogs at base (e.g. http://127.0.0.1:19428)
// and returns the matching entries, each field as a string (VictoriaLogs stores every
// field as a string). The endpoint answers one JSON object per line.
func Query(ctx context.Context, base, query string, limit int) ([]map[string]string, error) {
	form := url.Values{"query": {query}, "limit": {fmt.Sprint(limit)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(base, "/")+"/select/logsql/query",
		strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("building the query request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying VictoriaLogs: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return nil, fmt.Errorf("VictoriaLogs answered %s: %s", res.Status, b)
	}
	var out []map[string]string
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var e map[string]string
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("decoding a VictoriaLogs entry %q: %w", sc.Text(), err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading VictoriaLogs' answer: %w", err)
	}
	return out, nil
}

// WaitTrace polls VictoriaLogs for `trace_id:<traceID>` until the entries come from at
// least minServices distinct values of the service field, or timeout passes (the collector
// ships about once a second; a busy machine may take longer). It requires every entry to
// carry the fields in required (e.g. kubernetes.pod_name) and returns the entries.
func WaitTrace(t *testing.T, base, traceID string, minServices int, timeout time.Duration, required ...string) []map[string]string {
	t.Helper()
	query := "trace_id:" + traceID
	deadline := time.Now().Add(timeout)
	var (
		entries []map[string]string
		err     error
	)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		entries, err = Query(ctx, base, query, 1000)
		cancel()
		if err == nil && len(Services(entries)) >= minServices {
			break
		}
		if time.Now().After(deadline) {
			require.NoError(t, err, "query %q", query)
			require.GreaterOrEqual(t, len(Services(entries)), minServices,
				"after %s, VictoriaLogs has %d lines for %q, from services %v: want lines of at least %d services",
				timeout, len(entries), query, Services(entries), minServices)
		}
		time.Sleep(time.Second)
	}
	for _, e := range entries {
		for _, f := range append([]string{"_msg", "_time", "level", "service"}, required...) {
			require.NotEmpty(t, e[f], "entry without field %s: %v", f, e)
		}
	}
	return entries
}

// Services lists the distinct service fields of entries, sorted.
func Services(entries []map[string]string) []string {
	seen := map[string]bool{}
	for _, e := range entries {
		if s := e["service"]; s != "" {
			seen[s] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
