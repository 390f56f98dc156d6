package triage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Baseline != 10*time.Minute {
		t.Fatalf("default baseline %s, want 5 windows", c.Baseline)
	}
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
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, c)
		}
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
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict.Component != "users" || rep.Verdict.Runbook != "docs/runbooks/users.md" {
		t.Fatalf("verdict %+v, want users and its runbook", rep.Verdict)
	}
	var sources []string
	for _, n := range rep.NotConsulted {
		sources = append(sources, n.Source)
	}
	if got := strings.Join(sources, ","); got != "kubernetes,prometheus,logsearch,traces" {
		t.Fatalf("not consulted %q", got)
	}

	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"verdict", "ranked", "evidence", "not_consulted", "elapsed_ms", "window", "baseline"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON report has no %q", k)
		}
	}
	buf.Reset()
	if err := WriteText(&buf, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"verdict: users", "runbook: docs/runbooks/users.md", "[pods] users:", "$ curl -s " + bad + "/readyz", "not consulted:\n  kubernetes: --no-kube"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestRunHealthyIsNoCulprit(t *testing.T) {
	c := valid(func(c *Config) {
		c.AdminURLs = serve(t, 200, `{"status":"ready","modules":["gateway","auth","users","blog","web"]}`, 0)
	})
	_ = c.Validate()
	rep, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict.Component != doctor.None {
		t.Fatalf("verdict %+v, want none", rep.Verdict)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run took %s with a 1 s timeout", d)
	}
	found := false
	for _, n := range rep.NotConsulted {
		found = found || (n.Source == "prometheus" && n.Why != "")
	}
	if !found {
		t.Fatalf("the slow Prometheus is not listed as not consulted: %+v", rep.NotConsulted)
	}
}

func TestRunWithoutAnySource(t *testing.T) {
	c := valid(func(c *Config) { c.NoKube, c.AdminURLs, c.PrometheusURL = true, "", "http://127.0.0.1:1" })
	_ = c.Validate()
	if _, err := Run(context.Background(), c); !errors.Is(err, ErrNoSource) {
		t.Fatalf("Run = %v, want ErrNoSource", err)
	}
}
