package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/test/internal/logsearch"
)

// TestLogSearch: one authenticated write through the gateway Service with a known
// traceparent, then its trace_id in VictoriaLogs finds lines of at least two services in
// two pods, shipped by components/logging's vlagent with the pods' metadata.
func TestLogSearch(t *testing.T) {
	gate(t)
	gw := env(t, "TUNGSTEN_CLUSTER_GATEWAY")
	vlogs := env(t, "TUNGSTEN_CLUSTER_VICTORIALOGS")
	token := register(t, gw)

	traceID := tracedWrite(t, gw, token, "log search")

	entries := logsearch.WaitTrace(t, vlogs, traceID, 2, 90*time.Second,
		"kubernetes.pod_name", "kubernetes.container_name", "kubernetes.pod_namespace")
	pods := map[string]bool{}
	for _, e := range entries {
		require.Equal(t, namespace, e["kubernetes.pod_namespace"], "%v", e)
		pods[e["kubernetes.pod_name"]] = true
	}
	require.GreaterOrEqual(t, len(pods), 2, "lines of trace_id:%s from pods %v", traceID, pods)
	t.Logf("VictoriaLogs: %d lines for trace_id:%s from services %v in %d pods", len(entries), traceID, logsearch.Services(entries), len(pods))
}

// tracedWrite publishes one article through the gateway with a traceparent of its own,
// sampled, and returns its trace ID: the request the log and trace checks follow.
func tracedWrite(t *testing.T, gw, token, what string) string {
	t.Helper()
	id := make([]byte, 24)
	_, err := rand.Read(id)
	require.NoError(t, err)
	traceID, spanID := hex.EncodeToString(id[:16]), hex.EncodeToString(id[16:])
	body := `{"article":{"title":"` + what + ` ` + traceID[:8] + `","description":"d","body":"b","tagList":["traced"]}}`
	req, err := http.NewRequest(http.MethodPost, gw+"/api/articles", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+spanID+"-01")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	return traceID
}
