package observability

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/doctor/triage"
)

// doctorVerdict runs the built `tungsten doctor` the way an operator outside
// Kubernetes would — Prometheus, VictoriaLogs, Jaeger and every process's
// admin listener — after the users process was killed: it must name users
// (exit 1), not the gateway, auth or blog that failed because of it, with
// evidence from several steps, within its 60 s budget.
func doctorVerdict(t *testing.T, e env) {
	bin, admin := os.Getenv("TUNGSTEN_OBS_BIN"), os.Getenv("TUNGSTEN_OBS_ADMIN_URLS")
	require.NotEmpty(t, bin, "TUNGSTEN_OBS_BIN (set by scripts/test-observability.sh)")
	require.NotEmpty(t, admin, "TUNGSTEN_OBS_ADMIN_URLS (set by scripts/test-observability.sh)")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "doctor", "--no-kube", "--prometheus-url", e.prometheus,
		"--logs-url", e.victoriaLogs, "--jaeger-url", e.jaeger, "--admin-urls", admin,
		"--window", "2m", "--baseline", "10m", "--output", "json")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.Equal(t, 1, cmd.ProcessState.ExitCode(), "exit status (1 = culprit named): %v\nstderr: %s", err, stderr.String())
	var rep triage.Report
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep), stdout.String())
	t.Logf("verdict %s (%.2f): %s; ranked %+v; %d ms", rep.Verdict.Component, rep.Verdict.Confidence, rep.Verdict.Reason, rep.Ranked, rep.ElapsedMS)
	require.Equal(t, "users", rep.Verdict.Component, "ranked %+v", rep.Ranked)
	require.Equal(t, "docs/runbooks/users.md", rep.Verdict.Runbook)
	require.Less(t, rep.ElapsedMS, int64(60_000))

	steps := map[string]bool{}
	for _, ev := range rep.Evidence {
		if ev.Component == "users" {
			steps[ev.Step] = true
		}
	}
	require.True(t, steps["pods"], "no process evidence for users (its admin listener is gone): %+v", rep.Evidence)
	require.True(t, steps["traces"], "no trace hop naming users: %+v", rep.Evidence)
	for _, n := range rep.NotConsulted {
		require.NotContains(t, []string{"prometheus", "logsearch", "traces", "admin"}, n.Source, "source not consulted: %s: %s", n.Source, n.Why)
	}
	var sources []string
	for _, n := range rep.NotConsulted {
		sources = append(sources, n.Source)
	}
	require.Equal(t, "kubernetes", strings.Join(sources, ","))
}
