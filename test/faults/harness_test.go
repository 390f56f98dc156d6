package faults

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// The environment scripts/test-faults.sh sets; without TUNGSTEN_FAULTS the
// suite skips (plain `go test ./...`).
//
//	TUNGSTEN_FAULTS            short | full
//	TUNGSTEN_BIN               the tungsten binary
//	TUNGSTEN_TOXIPROXY_BIN     toxiproxy-server (github.com/Shopify/toxiproxy/v2/cmd/server)
//	TUNGSTEN_PG_BINDIR         directory with initdb and pg_ctl
//	TUNGSTEN_REDIS_SERVER      redis-server
//	TUNGSTEN_NATS_SERVER       nats-server
//	TUNGSTEN_FAULTS_ART        where logs and the table go (test-artifacts/faults)
type env struct {
	mode, bin, toxiproxy, pgBindir, redis, nats, art string
}

func loadEnv(t *testing.T) env {
	e := env{
		mode: os.Getenv("TUNGSTEN_FAULTS"), bin: os.Getenv("TUNGSTEN_BIN"),
		toxiproxy: os.Getenv("TUNGSTEN_TOXIPROXY_BIN"), pgBindir: os.Getenv("TUNGSTEN_PG_BINDIR"),
		redis: os.Getenv("TUNGSTEN_REDIS_SERVER"), nats: os.Getenv("TUNGSTEN_NATS_SERVER"),
		art: os.Getenv("TUNGSTEN_FAULTS_ART"),
	}
	if e.mode == "" {
		t.Skip("the fault suite needs its own servers: run scripts/test-faults.sh (make test-faults), which sets TUNGSTEN_FAULTS and the binaries")
	}
	for name, v := range map[string]string{"TUNGSTEN_BIN": e.bin, "TUNGSTEN_TOXIPROXY_BIN": e.toxiproxy,
		"TUNGSTEN_PG_BINDIR": e.pgBindir, "TUNGSTEN_REDIS_SERVER": e.redis, "TUNGSTEN_NATS_SERVER": e.nats, "TUNGSTEN_FAULTS_ART": e.art} {
		require.NotEmpty(t, v, "%s must be set", name)
	}
	return e
}

// freePort returns a loopback port nobody listens on, from 20000-32767:
// below Linux's ephemeral range, so that while a server is down (Redis for
// 10 s) no outgoing connection can take its port before it restarts there.
func freePort(t *testing.T) int {
	for range 200 {
		port := 20000 + mrand.IntN(12768)
		if usedPorts[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		usedPorts[port] = true
		return port
	}
	require.Fail(t, "no free loopback port in 20000-32767")
	return 0
}

// usedPorts: ports handed out in this run (the tests run sequentially).
var usedPorts = map[int]bool{}

func waitTCP(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not accept connections after %s: %w", addr, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// proc is one child process that can be killed and started again with the
// same command line (same ports, same data directory).
type proc struct {
	name string
	args []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	cred *syscall.Credential
	dir  string   // working directory (PostgreSQL's user may not enter the caller's)
	env  []string // added to the environment
}

func (p *proc) start() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "\n===== %s start %s\n", time.Now().UTC().Format(time.RFC3339Nano), p.name)
	cmd := exec.Command(p.args[0], p.args[1:]...)
	cmd.Stdout, cmd.Stderr, cmd.Dir = f, f, p.dir
	if len(p.env) > 0 {
		cmd.Env = append(os.Environ(), p.env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	return nil
}

// signal sends sig and waits up to d for the process to exit (SIGKILL after).
func (p *proc) signal(sig syscall.Signal, d time.Duration) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// datastores: PostgreSQL, Redis and NATS of this run only, on free loopback
// ports, with data in a temp dir. The machine's shared servers are never
// touched.
type datastores struct {
	pg, redis, nats             *proc
	pgPort, redisPort, natsPort int
	pgDir                       string
	pgBindir                    string
	pgCred                      *syscall.Credential
	adminPG                     string // DSN straight to PostgreSQL (no proxy), for checks
}

func startDatastores(t *testing.T, e env, dir string) *datastores {
	d := &datastores{pgPort: freePort(t), redisPort: freePort(t), natsPort: freePort(t), pgBindir: e.pgBindir}
	// Not under t.TempDir (mode 0700, owned by us): PostgreSQL runs as its own user.
	pgDir, err := os.MkdirTemp("", "tungsten-faults-pg-*")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(pgDir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(pgDir) })
	d.pgDir = pgDir
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "running as root needs the postgres user to start PostgreSQL")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		d.pgCred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		require.NoError(t, os.Chown(d.pgDir, uid, gid))
	}
	initdb := &proc{name: "initdb", log: filepath.Join(e.art, "initdb.log"), cred: d.pgCred,
		args: []string{filepath.Join(e.pgBindir, "initdb"), "-D", filepath.Join(d.pgDir, "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"}}
	initdb.dir = d.pgDir
	require.NoError(t, initdb.start())
	<-initdb.done
	require.Equal(t, 0, initdb.cmd.ProcessState.ExitCode(), "initdb failed: see %s", initdb.log)
	d.pg = &proc{name: "postgres", log: filepath.Join(e.art, "postgres.log"), cred: d.pgCred,
		args: []string{filepath.Join(e.pgBindir, "postgres"), "-D", filepath.Join(d.pgDir, "data"),
			"-h", "127.0.0.1", "-p", strconv.Itoa(d.pgPort), "-k", d.pgDir,
			"-c", "fsync=off", "-c", "synchronous_commit=on", "-c", "max_connections=200"}, dir: d.pgDir}
	d.redis = &proc{name: "redis", log: filepath.Join(e.art, "redis.log"),
		args: []string{e.redis, "--bind", "127.0.0.1", "--port", strconv.Itoa(d.redisPort), "--save", "", "--appendonly", "no", "--dir", dir}}
	d.nats = &proc{name: "nats", log: filepath.Join(e.art, "nats.log"),
		args: []string{e.nats, "-a", "127.0.0.1", "-p", strconv.Itoa(d.natsPort), "-js", "-sd", filepath.Join(dir, "js")}}
	for _, p := range []*proc{d.pg, d.redis, d.nats} {
		require.NoError(t, p.start())
	}
	t.Cleanup(func() {
		for _, p := range []*proc{d.pg, d.redis, d.nats} {
			p.signal(syscall.SIGTERM, 10*time.Second)
		}
	})
	for _, port := range []int{d.pgPort, d.redisPort, d.natsPort} {
		require.NoError(t, waitTCP(fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second))
	}
	d.adminPG = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", d.pgPort)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, d.adminPG)
		if err != nil {
			return false
		}
		defer c.Close(ctx)
		return c.Ping(ctx) == nil
	}, 30*time.Second, 200*time.Millisecond, "PostgreSQL does not answer")
	return d
}

// proxies: one toxiproxy link per datastore and one between the gateway and
// the blog.
type proxies struct {
	server *proc
	client *toxiproxy.Client
	byName map[string]*toxiproxy.Proxy
	port   map[string]int
}

func startProxies(t *testing.T, e env, upstreams map[string]string) *proxies {
	apiPort := freePort(t)
	px := &proxies{byName: map[string]*toxiproxy.Proxy{}, port: map[string]int{}}
	px.server = &proc{name: "toxiproxy", log: filepath.Join(e.art, "toxiproxy.log"),
		args: []string{e.toxiproxy, "-host", "127.0.0.1", "-port", strconv.Itoa(apiPort)},
		// Without a level it logs every packet (trace): CPU and disk the
		// services under test need.
		env: []string{"LOG_LEVEL=info"}}
	require.NoError(t, px.server.start())
	t.Cleanup(func() { px.server.signal(syscall.SIGTERM, 5*time.Second) })
	require.NoError(t, waitTCP(fmt.Sprintf("127.0.0.1:%d", apiPort), 20*time.Second))
	px.client = toxiproxy.NewClient(fmt.Sprintf("127.0.0.1:%d", apiPort))
	names := make([]string, 0, len(upstreams))
	for n := range upstreams {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		port := freePort(t)
		p, err := px.client.CreateProxy(n, fmt.Sprintf("127.0.0.1:%d", port), upstreams[n])
		require.NoError(t, err, "creating proxy %s", n)
		px.byName[n], px.port[n] = p, port
	}
	return px
}

func (px *proxies) addr(name string) string { return fmt.Sprintf("127.0.0.1:%d", px.port[name]) }

// toxic adds one toxic in both directions of a link and returns how to remove it.
func (px *proxies) toxic(t *testing.T, link, kind string, attrs toxiproxy.Attributes) func() {
	return px.toxicOn(t, link, kind, attrs, "downstream", "upstream")
}

// toxicOn adds the toxic on the given streams only (downstream: the
// answers, upstream: the requests).
func (px *proxies) toxicOn(t *testing.T, link, kind string, attrs toxiproxy.Attributes, streams ...string) func() {
	p := px.byName[link]
	var names []string
	for _, stream := range streams {
		name := fmt.Sprintf("%s-%s-%s", link, kind, stream)
		_, err := p.AddToxic(name, kind, stream, 1.0, attrs)
		require.NoError(t, err, "adding %s to %s", kind, link)
		names = append(names, name)
	}
	return func() {
		for _, n := range names {
			require.NoError(t, p.RemoveToxic(n), "removing %s", n)
		}
	}
}
