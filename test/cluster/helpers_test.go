package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// namespace is where deploy/kubernetes/tests/cluster puts Tungsten.
const namespace = "tungsten"

// services are the Deployments of overlays/dev, one per service.
var services = []string{"auth", "users", "blog", "web", "gateway"}

// gate skips unless the harness (scripts/k8s-cluster.sh test) runs the tests.
func gate(t *testing.T) {
	t.Helper()
	if os.Getenv("TUNGSTEN_CLUSTER_TEST") == "" {
		t.Skip("needs the local Kubernetes cluster: run make test-cluster (scripts/k8s-cluster.sh test), which sets TUNGSTEN_CLUSTER_TEST=1")
	}
}

// env returns a variable the harness sets, failing the test when it is missing.
func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	require.NotEmptyf(t, v, "%s is not set (scripts/k8s-cluster.sh test sets it)", name)
	return v
}

// kubectl runs kubectl (the harness's build, $KUBECTL) and returns its stdout.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectlErr(args...)
	require.NoErrorf(t, err, "kubectl %s", strings.Join(args, " "))
	return out
}

// kubectlErr is kubectl without failing the test; the error carries stderr.
func kubectlErr(args ...string) (string, error) {
	bin := os.Getenv("KUBECTL")
	if bin == "" {
		bin = "kubectl"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// getJSON decodes `kubectl get ... -o json` into v.
func getJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := kubectl(t, append(append([]string{"-n", namespace, "get"}, args...), "-o", "json")...)
	require.NoError(t, json.Unmarshal([]byte(out), v))
}

// eventually polls cond every 250 ms until it holds or the timeout passes, and returns
// how long it took.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			require.FailNowf(t, "timed out", "%s: not within %s", what, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return time.Since(start)
}

// figures collects what the tests measured; TestMain-free: each test appends and the
// file test-artifacts/cluster/figures.txt is rewritten every time.
var figures struct {
	sync.Mutex
	lines []string
}

// figure prints a measured value and records it in test-artifacts/cluster/figures.txt.
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("%s: %s", t.Name(), fmt.Sprintf(format, args...))
	t.Log(line)
	figures.Lock()
	defer figures.Unlock()
	figures.lines = append(figures.lines, line)
	dir := os.Getenv("TUNGSTEN_CLUSTER_ARTIFACTS")
	if dir == "" {
		return
	}
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, "figures.txt"), []byte(strings.Join(figures.lines, "\n")+"\n"), 0o644)
}
