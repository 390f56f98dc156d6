package faults

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// targets in start order; stopped in reverse.
var targets = []string{"auth", "users", "blog", "web", "gateway"}

// oneClientLimits mirrors apptest.OneClientLimits: the suite sends everything
// from one address as a handful of users.
var oneClientLimits = []string{
	"--auth.login-ip-limit=1000", "--gateway.rate-limit=100000",
	"--auth.register-ip-limit=100000", "--blog.write-limit=100000",
	"--blog.favorite-limit=100000", "--users.follow-limit=100000",
}

// cluster is Tungsten distributed: five processes, each datastore reached
// through its proxy, the gateway reaching the blog through a proxy too.
type cluster struct {
	http, admin map[string]int
	procs       map[string]*proc
	api         string
	adminPG     string // straight to PostgreSQL (no proxy), for the checks
	adminToken  string // the operator token of auth's fault switch (ADR 0016)
}

func startCluster(t *testing.T, e env, dir string, ds *datastores, px *proxies, httpPorts map[string]int) *cluster {
	c := &cluster{http: httpPorts, admin: map[string]int{}, procs: map[string]*proc{}, adminPG: ds.adminPG, adminToken: randomHex(16)}
	for _, s := range targets {
		c.admin[s] = freePort(t)
	}
	dsn := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", px.addr("postgres"))
	mig := exec.Command(e.bin, "migrate", "--postgres-url", dsn)
	out, err := mig.CombinedOutput()
	require.NoError(t, err, "tungsten migrate: %s", out)
	url := func(s string) string { return fmt.Sprintf("http://127.0.0.1:%d", c.http[s]) }
	for _, s := range targets {
		blogURL := url("blog")
		if s == "gateway" {
			blogURL = "http://" + px.addr("blog")
		}
		args := append([]string{e.bin, "serve", "--target=" + s,
			"--http-addr", fmt.Sprintf("127.0.0.1:%d", c.http[s]), "--admin-addr", fmt.Sprintf("127.0.0.1:%d", c.admin[s]),
			"--data-dir", filepath.Join(dir, "data-"+s), "--drain-delay", "0s",
			"--postgres-url", dsn,
			"--redis-url", "redis://" + px.addr("redis") + "/0", "--redis-prefix", "faults:",
			"--nats-url", "nats://" + px.addr("nats"), "--nats-namespace", "faults",
			"--auth-url", url("auth"), "--users-url", url("users"), "--blog-url", blogURL, "--web-url", url("web"),
		}, oneClientLimits...)
		c.procs[s] = &proc{name: s, args: args, log: filepath.Join(e.art, s+".log")}
		if s == "auth" { // its fault switch skews the token issuer's clock
			c.procs[s].env = []string{"TUNGSTEN_ADMIN_TOKEN=" + c.adminToken}
		}
	}
	t.Cleanup(func() {
		for i := len(targets) - 1; i >= 0; i-- {
			c.procs[targets[i]].signal(syscall.SIGTERM, 15*time.Second)
		}
	})
	for _, s := range targets {
		require.NoError(t, c.procs[s].start())
	}
	c.api = url("gateway")
	c.waitReady(t, 60*time.Second)
	return c
}

func (c *cluster) ready(s string) bool {
	r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", c.admin[s]))
	if err != nil {
		return false
	}
	r.Body.Close()
	return r.StatusCode == http.StatusOK
}

func (c *cluster) waitReady(t *testing.T, d time.Duration) {
	deadline := time.Now().Add(d)
	for _, s := range targets {
		for !c.ready(s) {
			require.True(t, time.Now().Before(deadline), "%s not ready after %s (log %s)", s, d, c.procs[s].log)
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// backlog sums tungsten_outbox_backlog over the admin /metrics of every
// target that has an outbox; -1 when one of them cannot be scraped.
func (c *cluster) backlog() float64 {
	total := 0.0
	for _, s := range []string{"users", "blog"} {
		v, err := scrapeSum(fmt.Sprintf("http://127.0.0.1:%d/metrics", c.admin[s]), "tungsten_outbox_backlog")
		if err != nil {
			return -1
		}
		total += v
	}
	return total
}

func scrapeSum(url, metric string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %d", url, r.StatusCode)
	}
	sum, found := 0.0, false
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric) || (len(line) > len(metric) && line[len(metric)] != '{' && line[len(metric)] != ' ') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			// a trailing timestamp or exemplar: the value is the second field after the labels
			continue
		}
		sum, found = sum+v, true
	}
	if !found {
		return 0, fmt.Errorf("%s: no %s", url, metric)
	}
	return sum, sc.Err()
}
