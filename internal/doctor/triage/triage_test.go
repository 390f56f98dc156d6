package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tungsten-blog/tungsten/internal/doctor"
)

func valid(mut func(*Config)) Config {
	c := Config{Namespace: "tungsten", NoKube: true, AdminURLs: "http://127.0.0.1:9", Window: 2 * time.Minute, Timeout: 5 * time.Second, Output: "json"}
	if mut != nil {
		mut(&c)
	}
	return c
}

func TestValidate(t *testing.T) {
	c := valid(nil)
	require.NoError(t, c.Validate())
	require.Equal(t, 10*time.Minute, c.Baseline, "default baseline, want 5 windows")
	for name, mut := range map[string]func(*Config){
		"output":      func(c *Config) { c.Output = "yaml" },
		"window":      func(c *Config) { c.Window = time.Second },
		"baseline":    func(c *Config) { c.Baseline = time.Minute },
		"timeout":     func(c *Config) { c.Timeout = time.Hour },
		"url":         func(c *Config) { c.PrometheusURL = "127.0.0.1:9090" },
		"admin":       func(c *Config) { c.AdminURLs = "users=127.0.0.1:9092" },
		"no evidence": func(c *Config) { c.AdminURLs = "" },
	} {
		c := valid(mut)
		assert.Error(t, c.Validate(), "%s: Validate accepted %+v", name, c)
	}
}

// serve answers /readyz with body and code, after delay.
func serve(t *testing.T, code int, body string, delay time.Duration) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRunNamesTheFailingProcess(t *testing.T) {
	ok := serve(t, 200, `{"status":"ready","modules":["gateway"]}`, 0)
	bad := serve(t, 503, `{"status":"not ready","reason":"postgres: connection refused","modules":["users"]}`, 0)
	c := valid(func(c *Config) { c.AdminURLs = ok + "," + bad })
	require.NoError(t, c.Validate())
	rep, err := Run(context.Background(), c)
	require.NoError(t, err)
	require.Equal(t, "users", rep.Verdict.Component, "verdict %+v, want users and its runbook", rep.Verdict)
	require.Equal(t, "docs/runbooks/users.md", rep.Verdict.Runbook, "verdict %+v, want users and its runbook", rep.Verdict)
	var sources []string
	for _, n := range rep.NotConsulted {
		sources = append(sources, n.Source)
	}
	require.Equal(t, "kubernetes,prometheus,logsearch,traces", strings.Join(sources, ","), "not consulted")

	var buf bytes.Buffer
	require.NoError(t, WriteJSON(&buf, rep))
	var back map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &back))
	for _, k := range []string{"verdict", "ranked", "evidence", "not_consulted", "elapsed_ms", "window", "baseline"} {
		assert.Contains(t, back, k, "JSON report has no %q", k)
	}
	buf.Reset()
	require.NoError(t, WriteText(&buf, rep))
	for _, want := range []string{"verdict: users", "runbook: docs/runbooks/users.md", "[pods] users:", "$ curl -s " + bad + "/readyz", "not consulted:\n  kubernetes: --no-kube"} {
		assert.Contains(t, buf.String(), want, "text report lacks %q", want)
	}
}

func TestRunHealthyIsNoCulprit(t *testing.T) {
	c := valid(func(c *Config) {
		c.AdminURLs = serve(t, 200, `{"status":"ready","modules":["gateway","auth","users","blog","web"]}`, 0)
	})
	_ = c.Validate()
	rep, err := Run(context.Background(), c)
	require.NoError(t, err)
	require.Equal(t, doctor.None, rep.Verdict.Component, "verdict %+v, want none", rep.Verdict)
}

func TestRunKeepsItsDeadline(t *testing.T) {
	slow := serve(t, 200, `{"status":"success","data":{"resultType":"vector","result":[]}}`, 10*time.Second)
	c := valid(func(c *Config) {
		c.PrometheusURL = slow
		c.AdminURLs = serve(t, 200, `{"status":"ready","modules":["blog"]}`, 0)
		c.Timeout = time.Second
	})
	_ = c.Validate()
	start := time.Now()
	rep, err := Run(context.Background(), c)
	require.NoError(t, err)
	d := time.Since(start)
	require.LessOrEqual(t, d, 5*time.Second, "Run took %s with a 1 s timeout", d)
	found := false
	for _, n := range rep.NotConsulted {
		found = found || (n.Source == "prometheus" && n.Why != "")
	}
	require.True(t, found, "the slow Prometheus is not listed as not consulted: %+v", rep.NotConsulted)
}

func TestRunWithoutAnySource(t *testing.T) {
	c := valid(func(c *Config) { c.NoKube, c.AdminURLs, c.PrometheusURL = true, "", "http://127.0.0.1:1" })
	_ = c.Validate()
	_, err := Run(context.Background(), c)
	require.ErrorIs(t, err, ErrNoSource, "Run, want ErrNoSource")
}
