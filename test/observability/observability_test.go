// Package observability checks the observability contract against a live
// distributed deployment, a real Prometheus scraping it and a real Jaeger
// receiving its traces: every dashboard panel and every rule returns data,
// one POST /api/articles is one trace from gateway to consumer, its
// access-log line carries the same trace_id, and that trace_id finds the
// request's lines of several services in VictoriaLogs (shipped by vlagent).
//
// scripts/test-observability.sh starts all of that and sets the environment
// below; without it the test skips (plain `go test ./...`).
//
//	TUNGSTEN_OBS_API_URL         the gateway, e.g. http://127.0.0.1:8080
//	TUNGSTEN_OBS_PROMETHEUS_URL  Prometheus scraping every target's admin port
//	TUNGSTEN_OBS_JAEGER_URL      Jaeger's query HTTP endpoint
//	TUNGSTEN_OBS_VICTORIALOGS_URL VictoriaLogs, fed by vlagent from the log files
//	TUNGSTEN_OBS_LOG_DIR         directory holding gateway.log, blog.log, ...
//	TUNGSTEN_OBS_USERS_PID       the users process, killed to drive the 5xx path
package observability

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/doctor"
	"github.com/tungsten-blog/tungsten/internal/doctor/logs"
	"github.com/tungsten-blog/tungsten/internal/doctor/traces"
	"github.com/tungsten-blog/tungsten/test/internal/logsearch"
	"github.com/tungsten-blog/tungsten/test/internal/promcheck"
	"github.com/tungsten-blog/tungsten/test/internal/tracecheck"
)

// Where the dashboards and rules live, relative to this package.
const observabilityDir = "../../deploy/observability"

type env struct {
	api, prometheus, jaeger, victoriaLogs, logDir string
	usersPID                                      int
}

func loadEnv(t *testing.T) env {
	e := env{
		api:          os.Getenv("TUNGSTEN_OBS_API_URL"),
		prometheus:   os.Getenv("TUNGSTEN_OBS_PROMETHEUS_URL"),
		jaeger:       os.Getenv("TUNGSTEN_OBS_JAEGER_URL"),
		victoriaLogs: os.Getenv("TUNGSTEN_OBS_VICTORIALOGS_URL"),
		logDir:       os.Getenv("TUNGSTEN_OBS_LOG_DIR"),
	}
	e.usersPID, _ = strconv.Atoi(os.Getenv("TUNGSTEN_OBS_USERS_PID"))
	if e.usersPID <= 0 || e.api == "" || e.prometheus == "" || e.jaeger == "" || e.victoriaLogs == "" || e.logDir == "" {
		t.Skip("needs a live deployment with Prometheus and Jaeger: run scripts/test-observability.sh (make test-observability), " +
			"which sets TUNGSTEN_OBS_API_URL, TUNGSTEN_OBS_PROMETHEUS_URL, TUNGSTEN_OBS_JAEGER_URL, TUNGSTEN_OBS_VICTORIALOGS_URL, TUNGSTEN_OBS_LOG_DIR and TUNGSTEN_OBS_USERS_PID")
	}
	return e
}

// TestObservability runs in order: traffic, the article's trace and log line,
// then every dashboard panel and rule against what Prometheus scraped.
func TestObservability(t *testing.T) {
	e := loadEnv(t)
	c := &client{t: t, base: strings.TrimSuffix(e.api, "/")}

	requestID := "obs-article-" + randomHex(6)
	t.Run("traffic", func(t *testing.T) { driveTraffic(t, c, requestID) })
	if t.Failed() {
		return
	}

	var traceID string
	t.Run("access log carries the trace_id", func(t *testing.T) {
		line := waitLogLine(t, filepath.Join(e.logDir, "gateway.log"), requestID)
		traceID, _ = line["trace_id"].(string)
		require.Len(t, traceID, 32, "the gateway's access line of POST /api/articles has no trace_id: %v", line)
		require.Equal(t, "/api/articles", line["route"])
		require.EqualValues(t, 201, line["status"])
		blogLine := waitLogLine(t, filepath.Join(e.logDir, "blog.log"), requestID)
		require.Equal(t, traceID, blogLine["trace_id"], "the blog's access line of the same request is in another trace")
	})
	if traceID != "" {
		t.Run("POST /api/articles is one trace in Jaeger", func(t *testing.T) { tracecheck.Check(t, e.jaeger, traceID, 30*time.Second) })
		t.Run("trace_id finds the request's lines across services in VictoriaLogs", func(t *testing.T) {
			entries := logsearch.WaitTrace(t, e.victoriaLogs, traceID, 2, 30*time.Second, "file")
			t.Logf("VictoriaLogs: %d lines for trace_id:%s from services %v", len(entries), traceID, logsearch.Services(entries))
		})
		t.Run("dashboards' log links are valid LogsQL", func(t *testing.T) { checkLogLinks(t, e.victoriaLogs) })
	}

	waitScraped(t, e.prometheus)
	t.Run("users down: 5xx at the gateway, TungstenTargetDown pending", func(t *testing.T) { usersDown(t, c, e) })
	t.Run("doctor sources: Jaeger names users, VictoriaLogs counts the gateway's errors", func(t *testing.T) { doctorSources(t, e) })
	t.Run("tungsten doctor names users, its victims discounted", func(t *testing.T) { doctorVerdict(t, e) })
	time.Sleep(3 * time.Second) // a few rule evaluations (1 s) on the 503s
	t.Run("exemplars carry trace_id", func(t *testing.T) { checkExemplars(t, e.prometheus) })
	t.Run("dashboards", func(t *testing.T) {
		promcheck.CheckDashboards(t, e.prometheus, filepath.Join(observabilityDir, "dashboards"))
	})
	t.Run("rules", func(t *testing.T) { checkRules(t, e.prometheus) })
}

// --- traffic ---------------------------------------------------------------

type client struct {
	t    *testing.T
	base string
}

// do sends a JSON request and requires the status; it returns the body.
func (c *client) do(method, path, token, body string, want int, header ...string) map[string]any {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(c.t, want, res.StatusCode, "%s %s: %s", method, path, b)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func (c *client) register(name string) string {
	out := c.do("POST", "/api/users", "", fmt.Sprintf(`{"user":{"username":%q,"email":"%s@example.com","password":"password123"}}`, name, name), 201)
	return out["user"].(map[string]any)["token"].(string)
}

// driveTraffic covers the success and the error paths every panel looks at:
// sign-ups, logins (good, bad, rate limited), articles, comments, favorites,
// follows, reads, 401, 404, 422 and 429.
func driveTraffic(t *testing.T, c *client, requestID string) {
	c.t = t
	run := randomHex(4)
	alice, bob := "alice"+run, "bob"+run
	ta := c.register(alice)
	tb := c.register(bob)
	c.do("POST", "/api/users", "", fmt.Sprintf(`{"user":{"username":%q,"email":"%s@example.com","password":"password123"}}`, alice, alice), 422)
	c.do("POST", "/api/users/login", "", fmt.Sprintf(`{"user":{"email":"%s@example.com","password":"password123"}}`, bob), 200)

	// The article whose trace and log line are checked.
	art := c.do("POST", "/api/articles", ta, `{"article":{"title":"Observability `+run+`","description":"one trace","body":"gateway to consumer","tagList":["obs"]}}`, 201,
		"X-Request-Id", requestID)
	slug := art["article"].(map[string]any)["slug"].(string)

	c.do("POST", "/api/articles/"+slug+"/comments", tb, `{"comment":{"body":"traced"}}`, 200)
	c.do("POST", "/api/articles/"+slug+"/favorite", tb, "", 200)
	c.do("POST", "/api/profiles/"+alice+"/follow", tb, "", 200)
	c.do("PUT", "/api/user", ta, `{"user":{"bio":"observable"}}`, 200)
	for range 20 {
		c.do("GET", "/api/articles", "", "", 200)
		c.do("GET", "/api/articles?tag=obs", tb, "", 200)
		c.do("GET", "/api/articles/"+slug, "", "", 200)
	}
	c.do("GET", "/api/articles/feed", tb, "", 200)
	c.do("GET", "/api/articles/"+slug+"/comments", "", "", 200)
	c.do("GET", "/api/tags", "", "", 200)
	c.do("GET", "/api/profiles/"+alice, "", "", 200)

	// Error paths.
	c.do("GET", "/api/user", "", "", 401)
	c.do("POST", "/api/articles", "", `{"article":{"title":"x"}}`, 401)
	c.do("GET", "/api/articles/no-such-article-"+run, "", "", 404)
	c.do("GET", "/api/no-such-route", "", "", 404)
	c.do("POST", "/api/articles", ta, `{"article":{"title":""}}`, 422)
	c.do("POST", "/api/articles", ta, `{not json`, 422)
	// Bad passwords until the per-account login limit answers 429.
	login := fmt.Sprintf(`{"user":{"email":"%s@example.com","password":"wrong-password"}}`, bob)
	got429 := false
	for range 30 {
		req, _ := http.NewRequest("POST", c.base+"/api/users/login", strings.NewReader(login))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		if res.StatusCode == http.StatusTooManyRequests {
			got429 = true
			break
		}
		require.Contains(t, []int{401, 403, 422}, res.StatusCode, "bad password")
	}
	require.True(t, got429, "the login limit never answered 429")
}

// usersDown kills the users process (the 5xx path every error-ratio panel and
// SLO rule needs real data for): its routes answer 503 through the gateway,
// and Prometheus notices the target down.
func usersDown(t *testing.T, c *client, e env) {
	c.t = t
	require.NoError(t, syscall.Kill(e.usersPID, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest("GET", c.base+"/api/profiles/anyone", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusServiceUnavailable
	}, 10*time.Second, 100*time.Millisecond, "with users down, the gateway never answered 503")
	for range 5 {
		c.do("GET", "/api/profiles/anyone", "", "", 503)
	}
	c.do("GET", "/api/articles", "", "", 200) // the blog keeps serving reads
	require.Eventually(t, func() bool {
		var r struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		if promcheck.GetJSON(e.prometheus+"/api/v1/alerts", &r) != nil {
			return false
		}
		for _, a := range r.Data.Alerts {
			if a.Labels["alertname"] == "TungstenTargetDown" && a.Labels["target"] == "users" {
				return true
			}
		}
		return false
	}, 30*time.Second, 500*time.Millisecond, "TungstenTargetDown never became pending for users")
	require.Eventually(t, func() bool {
		n, err := promcheck.Query(e.prometheus, `tungsten_http_requests_total{service="gateway",code="503"}`)
		return err == nil && n > 0
	}, 30*time.Second, 500*time.Millisecond, "Prometheus never scraped the gateway's 503s")
}

// doctorSources runs the doctor's trace and log-search sources against the
// real Jaeger and VictoriaLogs right after the users process died: the
// window (2 minutes) holds the 503s, the baseline (10 minutes before it)
// only the stack's start. The traces through the dead process must name
// users (the gateway's hop span to it fails with no deeper span), and the
// gateway's "request failed" lines must be counted, with a reproduce
// command that finds them.
func doctorSources(t *testing.T, e env) {
	w := doctor.Window{Window: 2 * time.Minute, Baseline: 10 * time.Minute}
	hc := &http.Client{Timeout: 20 * time.Second}
	var snap doctor.Snapshot
	var hop doctor.Hop
	require.Eventually(t, func() bool {
		snap = doctor.Snapshot{}
		require.NoError(t, (&traces.Client{URL: e.jaeger, HTTP: hc}).Collect(t.Context(), w, &snap))
		i := slices.IndexFunc(snap.Hops, func(h doctor.Hop) bool { return h.Component == "users" })
		if i >= 0 {
			hop = snap.Hops[i]
		}
		return i >= 0
	}, 30*time.Second, time.Second, "the trace source never named users: hops %+v, notes %+v", &snap.Hops, &snap.Notes)
	t.Logf("traces: hops %+v, notes %+v", snap.Hops, snap.Notes)
	require.True(t, hop.Error, "users' hop is a failing one: %+v", hop)
	require.True(t, strings.HasPrefix(hop.Reproduce, e.jaeger+"/trace/"+hop.TraceID), hop.Reproduce)
	var tr struct {
		Data []tracecheck.Trace `json:"data"`
	}
	require.NoError(t, promcheck.GetJSON(e.jaeger+"/api/traces/"+hop.TraceID, &tr))
	require.Len(t, tr.Data, 1, "the hop's trace %s", hop.TraceID)

	var gw doctor.LogErrors
	require.Eventually(t, func() bool {
		snap = doctor.Snapshot{}
		require.NoError(t, (&logs.Client{URL: e.victoriaLogs, HTTP: hc}).Collect(t.Context(), w, &snap))
		i := slices.IndexFunc(snap.LogErrors, func(l doctor.LogErrors) bool { return l.Component == "gateway" })
		if i >= 0 {
			gw = snap.LogErrors[i]
		}
		return i >= 0
	}, 30*time.Second, time.Second, "the log-search source never counted the gateway's errors")
	t.Logf("logs: errors %+v, notes %+v", snap.LogErrors, snap.Notes)
	require.Positive(t, gw.Now)
	require.Contains(t, gw.Sample, "users is unavailable")
	out, err := exec.CommandContext(t.Context(), "sh", "-c", gw.Reproduce).Output()
	require.NoError(t, err, gw.Reproduce)
	require.Contains(t, string(out), "users is unavailable", "%s found: %s", gw.Reproduce, out)
}

// --- logs ------------------------------------------------------------------

// waitLogLine returns the access line ("msg":"request") with request_id id.
func waitLogLine(t *testing.T, path, id string) map[string]any {
	t.Helper()
	var found map[string]any
	require.Eventually(t, func() bool {
		f, err := os.Open(path)
		if err != nil {
			return false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if !bytes.Contains(sc.Bytes(), []byte(id)) {
				continue
			}
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil && m["msg"] == "request" && m["request_id"] == id {
				found = m
				return true
			}
		}
		return false
	}, 10*time.Second, 100*time.Millisecond, "no JSON access line with request_id %s in %s", id, path)
	return found
}

// --- traces ----------------------------------------------------------------

// --- Prometheus ------------------------------------------------------------

// waitScraped waits until Prometheus has scraped the traffic a few times.
func waitScraped(t *testing.T, promURL string) {
	for _, q := range []string{
		// The last event of the traffic, and the sign-ups seen in a few scrapes
		// (the users process is killed next).
		`count_over_time(tungsten_events_published_total{event_type="blog.article.favorited"}[1m]) >= 3`,
		`count_over_time(tungsten_events_published_total{event_type="users.user.registered"}[1m]) >= 3`,
	} {
		require.Eventually(t, func() bool {
			n, err := promcheck.Query(promURL, q)
			return err == nil && n > 0
		}, 60*time.Second, 500*time.Millisecond, "Prometheus never scraped the traffic: %s", q)
	}
}

func checkExemplars(t *testing.T, promURL string) {
	var r struct {
		Status string `json:"status"`
		Data   []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	now := time.Now()
	u := fmt.Sprintf("%s/api/v1/query_exemplars?query=%s&start=%d&end=%d", promURL,
		url.QueryEscape("tungsten_http_request_duration_seconds_bucket"), now.Add(-time.Hour).Unix(), now.Unix())
	require.NoError(t, promcheck.GetJSON(u, &r))
	n := 0
	for _, s := range r.Data {
		for _, e := range s.Exemplars {
			if len(e.Labels["trace_id"]) == 32 {
				n++
			}
		}
	}
	require.Positive(t, n, "no latency exemplar with a trace_id reached Prometheus")
	t.Logf("%d exemplars with trace_id", n)
}

type ruleGroup struct {
	Name  string `json:"name"`
	File  string `json:"file"`
	Rules []struct {
		Name        string            `json:"name"`
		Query       string            `json:"query"`
		Type        string            `json:"type"`
		Health      string            `json:"health"`
		LastError   string            `json:"lastError"`
		Annotations map[string]string `json:"annotations"`
	} `json:"rules"`
}

// checkRules takes the rules from Prometheus (proving it loaded every file)
// and checks each: healthy, recording rules return data, every selector of
// every rule matches scraped series, alerts are documented.
func checkRules(t *testing.T, promURL string) {
	var r struct {
		Data struct {
			Groups []ruleGroup `json:"groups"`
		} `json:"data"`
	}
	require.NoError(t, promcheck.GetJSON(promURL+"/api/v1/rules", &r))
	files, err := filepath.Glob(filepath.Join(observabilityDir, "prometheus", "rules", "*.yml"))
	require.NoError(t, err)
	loaded := map[string]bool{}
	for _, g := range r.Data.Groups {
		loaded[filepath.Base(g.File)] = true
	}
	for _, f := range files {
		require.True(t, loaded[filepath.Base(f)], "Prometheus did not load %s", f)
	}
	recording, alerting := 0, 0
	for _, g := range r.Data.Groups {
		for _, rule := range g.Rules {
			t.Run(g.Name+"/"+rule.Name, func(t *testing.T) {
				require.Equal(t, "ok", rule.Health, "rule health: %s", rule.LastError)
				promcheck.CheckExpr(t, promURL, rule.Query, rule.Type == "recording")
				if rule.Type == "alerting" {
					for _, a := range []string{"summary", "description", "runbook_url"} {
						require.NotEmpty(t, rule.Annotations[a], "alert without %s", a)
					}
					require.True(t, strings.HasSuffix(rule.Annotations["runbook_url"], "docs/runbooks/"+rule.Name+".md"), rule.Annotations["runbook_url"])
					_, err := os.Stat(filepath.Join("../../docs/runbooks", rule.Name+".md"))
					require.NoError(t, err, "runbook of %s", rule.Name)
				}
			})
			if rule.Type == "recording" {
				recording++
			} else {
				alerting++
			}
		}
	}
	t.Logf("%d recording rules, %d alerts", recording, alerting)
}

// --- helpers ---------------------------------------------------------------

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkLogLinks runs the LogsQL query of every dashboard link into VictoriaLogs (the
// vmui's ?query=, with $service = blog) and requires that VictoriaLogs accepts it; the
// link without a level filter must find the blog's lines.
func checkLogLinks(t *testing.T, vlogsURL string) {
	files, err := filepath.Glob(filepath.Join(observabilityDir, "dashboards", "*.json"))
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var d struct {
			Links []struct{ Title, URL string } `json:"links"`
		}
		require.NoError(t, json.Unmarshal(b, &d), f)
		for _, l := range d.Links {
			if !strings.HasPrefix(l.URL, "${victorialogs_url}/select/vmui/?") {
				continue
			}
			u, err := url.Parse(strings.TrimPrefix(l.URL, "${victorialogs_url}"))
			require.NoError(t, err, "%s: link %q", f, l.Title)
			q := strings.ReplaceAll(u.Query().Get("query"), "${service}", "blog")
			require.NotEmpty(t, q, "%s: link %q has no query", f, l.Title)
			entries, err := logsearch.Query(t.Context(), vlogsURL, q, 10)
			require.NoError(t, err, "%s: link %q: %s", f, l.Title, q)
			if !strings.Contains(q, "level:") {
				require.NotEmpty(t, entries, "%s: link %q: %s finds nothing", f, l.Title, q)
			}
			n++
		}
	}
	require.Positive(t, n, "no dashboard links to VictoriaLogs")
	t.Logf("%d dashboard log links run in VictoriaLogs", n)
}
