package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/app"
	"github.com/tungsten-blog/tungsten/internal/app/apptest"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

const faultToken = "fault-operator-token"

// faultClient drives one running process's admin and public listeners.
type faultClient struct {
	t             *testing.T
	admin, public string
}

func startFaultApp(t *testing.T, args ...string) (*faultClient, *syncBuffer) {
	t.Helper()
	a, logs := newApp(t, t.TempDir(), append(append([]string{"--drain-delay=0s", "--admin.token=" + faultToken}, apptest.OneClientLimits...), args...)...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, time.Now()) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-a.Started():
	case err := <-done:
		require.Failf(t, "run failed", "%v", err)
	case <-time.After(30 * time.Second):
		require.Fail(t, "not started")
	}
	return &faultClient{t: t, admin: "http://" + a.AdminAddr(), public: "http://" + a.PublicAddr()}, logs
}

// do sends a request and returns the status and body.
func (c *faultClient) do(method, url, token, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(c.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return res.StatusCode, string(b)
}

// put sets the fault set and requires it to be accepted.
func (c *faultClient) put(body string) {
	c.t.Helper()
	code, out := c.do("PUT", c.admin+"/admin/faults", faultToken, body)
	require.Equal(c.t, http.StatusOK, code, out)
}

func (c *faultClient) clear() {
	c.t.Helper()
	code, out := c.do("DELETE", c.admin+"/admin/faults", faultToken, "")
	require.Equal(c.t, http.StatusOK, code, out)
}

// metric returns the value of the sample whose name and labels start with
// prefix (e.g. `tungsten_fault_active{fault="latency"}`), 0 when absent.
func (c *faultClient) metric(prefix string) float64 {
	c.t.Helper()
	_, body := c.do("GET", c.admin+"/metrics", "", "")
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + `[^ ]* ([0-9.e+-]+)`)
	total := 0.0
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		v, err := strconv.ParseFloat(m[1], 64)
		require.NoError(c.t, err)
		total += v
	}
	return total
}

func TestFaultInjectionNeedsTheToken(t *testing.T) {
	t.Parallel()
	c, _ := startFaultApp(t)
	for _, m := range []string{"GET", "PUT", "DELETE"} {
		code, body := c.do(m, c.admin+"/admin/faults", "", `{"unready":true}`)
		require.Equal(t, http.StatusForbidden, code, "%s from loopback without the token", m)
		require.Contains(t, body, `"errors":{"body":[`)
		code, _ = c.do(m, c.admin+"/admin/faults", "wrong", `{"unready":true}`)
		require.Equal(t, http.StatusForbidden, code, "%s with a wrong token", m)
	}
	code, _ := c.do("PUT", c.public+"/admin/faults", faultToken, `{"unready":true}`)
	require.NotEqual(t, http.StatusOK, code, "never on the public listener")
	code, _ = c.do("GET", c.admin+"/readyz", "", "")
	require.Equal(t, http.StatusOK, code, "nothing was set")
}

func TestFaultSetIsValidated(t *testing.T) {
	t.Parallel()
	c, _ := startFaultApp(t)
	for _, body := range []string{
		`{"latency":{"delay":"300ms"},"bogus":1}`,
		`{"errors":{"percent":101}}`,
		`{"latency":{"delay":"31s"}}`,
		`{"cpu":{"cores":` + strconv.Itoa(runtime.NumCPU()+1) + `}}`,
		`{"memory":{"max_mib":1025}}`,
		`{"dependency":{"target":"mysql"}}`,
		`{"duration":"61m"}`,
		`{"unready":true,"pad":"` + strings.Repeat("x", 5000) + `"}`,
		`not json`,
	} {
		code, out := c.do("PUT", c.admin+"/admin/faults", faultToken, body)
		require.Equal(t, http.StatusUnprocessableEntity, code, body)
		require.Contains(t, out, `"errors":{"body":[`, body)
	}
	code, out := c.do("GET", c.admin+"/admin/faults", faultToken, "")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, out, `"faults":{}`, "a refused set changes nothing")
}

// Each fault has its observable effect on a real process (the embedded
// default: SQLite, in-memory cache, embedded NATS), and clearing ends it.
func TestFaultEffects(t *testing.T) {
	t.Parallel()
	c, logs := startFaultApp(t)
	for _, f := range []string{"latency", "errors", "cpu", "memory", "dependency", "unready"} {
		require.Contains(t, func() string { _, b := c.do("GET", c.admin+"/metrics", "", ""); return b }(),
			`tungsten_fault_active{fault="`+f+`"} 0`, "exported at 0 from the start")
	}

	t.Run("latency", func(t *testing.T) {
		c.put(`{"latency":{"delay":"300ms","percent":100}}`)
		start := time.Now()
		code, _ := c.do("GET", c.public+"/api/tags", "", "")
		require.Equal(t, http.StatusOK, code)
		require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
		start = time.Now()
		c.do("GET", c.admin+"/healthz", "", "")
		require.Less(t, time.Since(start), 250*time.Millisecond, "probes are not delayed")
		require.Equal(t, 1.0, c.metric(`tungsten_fault_active{fault="latency"}`))
		require.GreaterOrEqual(t, c.metric(`tungsten_fault_injections_total{fault="latency"}`), 1.0)
		c.clear()
		require.Equal(t, 0.0, c.metric(`tungsten_fault_active{fault="latency"}`))
	})

	t.Run("errors", func(t *testing.T) {
		c.put(`{"errors":{}}`)
		code, body := c.do("GET", c.public+"/api/tags", "", "")
		require.Equal(t, http.StatusInternalServerError, code)
		require.JSONEq(t, `{"errors":{"body":["internal error"]}}`, body)
		code, body = c.do("GET", c.public+"/login", "", "")
		require.Equal(t, http.StatusInternalServerError, code, "the web UI's pages fail too (web serves no /api/)")
		require.Equal(t, "Internal Server Error\n", body)
		require.Regexp(t, `"level":"ERROR","msg":"request failed".*fault injection`, logs.String())
		require.Regexp(t, `tungsten_http_requests_total\{code="500",method="GET",route="/api/tags",service="gateway"\} 1`,
			func() string { _, b := c.do("GET", c.admin+"/metrics", "", ""); return b }(), "the request metrics count the injected 500 on its route")
		c.clear()
		code, _ = c.do("GET", c.public+"/api/tags", "", "")
		require.Equal(t, http.StatusOK, code)
	})

	t.Run("unready", func(t *testing.T) {
		c.put(`{"unready":true}`)
		code, body := c.do("GET", c.admin+"/readyz", "", "")
		require.Equal(t, http.StatusServiceUnavailable, code)
		require.Contains(t, body, `"reason":"fault injection: unready"`)
		code, _ = c.do("GET", c.public+"/api/tags", "", "")
		require.Equal(t, http.StatusOK, code, "unready is not broken")
		c.clear()
		code, _ = c.do("GET", c.admin+"/readyz", "", "")
		require.Equal(t, http.StatusOK, code)
	})

	t.Run("dependency postgres on SQLite", func(t *testing.T) {
		dependencyPostgres(t, c)
	})

	t.Run("dependency redis on the in-memory cache", func(t *testing.T) {
		dependencyRedis(t, c)
	})

	t.Run("dependency users: auth's calls to it", func(t *testing.T) {
		login := `{"user":{"email":"neighbour@example.com","password":"longenough"}}`
		code, body := c.do("POST", c.public+"/api/users", "", `{"user":{"username":"neighbour","email":"neighbour@example.com","password":"longenough"}}`)
		require.Equal(t, http.StatusCreated, code, body)
		c.put(`{"dependency":{"target":"users"}}`)
		code, body = c.do("POST", c.public+"/api/users/login", "", login)
		require.Equal(t, http.StatusServiceUnavailable, code, "signing in asks users, which is unreachable: %s", body)
		c.clear()
		code, body = c.do("POST", c.public+"/api/users/login", "", login)
		require.Equal(t, http.StatusOK, code, body)
	})

	t.Run("dependency nats: the relay's publishes", func(t *testing.T) {
		c.put(`{"dependency":{"target":"nats"}}`)
		before := c.metric(`tungsten_outbox_publish_failures_total{service="users"}`)
		// Registering writes an event to the users outbox; the relay cannot publish it.
		code, body := c.do("POST", c.public+"/api/users", "", `{"user":{"username":"evented","email":"evented@example.com","password":"longenough"}}`)
		require.Equal(t, http.StatusCreated, code, body)
		require.Eventually(t, func() bool { return c.metric(`tungsten_outbox_publish_failures_total{service="users"}`) > before },
			10*time.Second, 50*time.Millisecond)
		require.Positive(t, c.metric(`tungsten_outbox_backlog{service="users"}`))
		c.clear()
		require.Eventually(t, func() bool { return c.metric(`tungsten_outbox_backlog{service="users"}`) == 0 }, 15*time.Second, 100*time.Millisecond,
			"the backlog drains once the fault is cleared")
	})

	t.Run("duration and GET", func(t *testing.T) {
		c.put(`{"unready":true,"duration":"300ms"}`)
		code, body := c.do("GET", c.admin+"/admin/faults", faultToken, "")
		require.Equal(t, http.StatusOK, code)
		var st struct {
			Faults    map[string]any `json:"faults"`
			ChangedAt time.Time      `json:"changed_at"`
			ExpiresAt *time.Time     `json:"expires_at"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &st))
		require.Equal(t, true, st.Faults["unready"])
		require.Equal(t, "300ms", st.Faults["duration"])
		require.NotNil(t, st.ExpiresAt)
		require.WithinDuration(t, time.Now(), st.ChangedAt, 5*time.Second)
		require.Eventually(t, func() bool { code, _ := c.do("GET", c.admin+"/readyz", "", ""); return code == 200 },
			5*time.Second, 50*time.Millisecond, "the set clears itself")
		_, body = c.do("GET", c.admin+"/admin/faults", faultToken, "")
		require.Contains(t, body, `"faults":{}`)
		require.Contains(t, logs.String(), `"msg":"fault injection expired"`)
	})

	t.Run("cpu and memory", func(t *testing.T) {
		before := c.metric("go_memstats_alloc_bytes_total")
		c.put(`{"cpu":{"cores":1},"memory":{"mib_per_second":64,"max_mib":16}}`)
		require.Equal(t, 1.0, c.metric(`tungsten_fault_active{fault="cpu"}`))
		require.Eventually(t, func() bool {
			return c.metric("go_memstats_alloc_bytes_total") >= before+16<<20 && c.metric("go_memstats_heap_inuse_bytes") >= 16<<20
		}, 5*time.Second, 100*time.Millisecond, "16 MiB allocated and held")
		c.clear()
		require.Equal(t, 0.0, c.metric(`tungsten_fault_active{fault="memory"}`))
	})

	require.Regexp(t, `"level":"WARN","msg":"fault injection set","faults":"\{.*\}","who":"127\.0\.0\.1:\d+"`, logs.String())
	require.Contains(t, logs.String(), `"msg":"fault injection cleared"`)
}

// dependencyPostgres: every statement fails as an unavailable database
// (503, the existing error path), and the database span/log paths see it.
func dependencyPostgres(t *testing.T, c *faultClient) {
	t.Helper()
	c.put(`{"dependency":{"target":"postgres","percent":100}}`)
	code, body := c.do("GET", c.public+"/api/profiles/nobody", "", "")
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	code, body = c.do("POST", c.public+"/api/users", "", `{"user":{"username":"faulty","email":"faulty@example.com","password":"longenough"}}`)
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	require.GreaterOrEqual(t, c.metric(`tungsten_fault_injections_total{fault="dependency"}`), 2.0)
	c.clear()
	code, body = c.do("GET", c.public+"/api/profiles/nobody", "", "")
	require.Equal(t, http.StatusNotFound, code, body)
}

// dependencyRedis: the cache fails (a miss, counted as a cache error) and
// the API still answers from the database.
func dependencyRedis(t *testing.T, c *faultClient) {
	t.Helper()
	before := c.metric("tungsten_cache_errors_total")
	c.put(`{"dependency":{"target":"redis"}}`)
	for range 3 {
		code, body := c.do("GET", c.public+"/api/articles", "", "")
		require.Equal(t, http.StatusOK, code, body)
	}
	require.Greater(t, c.metric("tungsten_cache_errors_total"), before)
	c.clear()
}

// With the production shape's servers (PostgreSQL, Redis), the dependency
// faults fail the real clients' calls the same way.
func TestFaultDependencyOnRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL and Redis")
	}
	t.Parallel()
	redisURL := testenv.URL(t, testenv.EnvRedis)
	c, _ := startFaultApp(t, "--postgres-url="+freshPostgres(t), "--redis-url="+redisURL, "--redis-prefix="+testenv.Name("faults")+":")
	t.Run("postgres", func(t *testing.T) { dependencyPostgres(t, c) })
	t.Run("redis", func(t *testing.T) { dependencyRedis(t, c) })
}

func TestCrashOnStart(t *testing.T) {
	t.Parallel()
	var cfg app.Config
	require.NoError(t, newFlagSet(&cfg).Parse([]string{"--faults.crash-on-start", "--data-dir=" + t.TempDir()}))
	err := cfg.Validate([]string{"all"})
	require.ErrorContains(t, err, "--faults.crash-on-start needs --admin.token")

	a, logs := newApp(t, t.TempDir(), "--drain-delay=0s", "--admin.token=x", "--faults.crash-on-start")
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background(), time.Now()) }()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "crash on start")
	case <-time.After(30 * time.Second):
		require.Fail(t, "did not crash")
	}
	require.Regexp(t, `"level":"ERROR","msg":"fault injection: crashing on start \(--faults.crash-on-start\)","fault":"crash-on-start"`, logs.String())
}
