package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// limits lift the per-IP limits: the benchmark sends everything from one
// address and measures serving, not throttling.
var limits = []string{"--gateway.rate-limit=100000000", "--auth.login-ip-limit=1000000", "--auth.login-account-limit=1000000", "--auth.login-ip-account-limit=1000000", "--auth.register-ip-limit=1000000", "--blog.write-limit=1000000", "--blog.favorite-limit=1000000", "--users.follow-limit=1000000", "--drain-delay=0s"}

// proc is one started tungsten process.
type proc struct {
	name  string
	cmd   *exec.Cmd
	admin string // host:port of its admin listener
	exit  chan error
}

// startProc starts the binary with its output in logDir/name.log. The child
// dies with the harness even on SIGKILL (Pdeathsig), and is stopped by the
// returned cleanup otherwise.
func startProc(name, bin, logDir, admin string, args ...string) (*proc, error) {
	logf, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, fmt.Errorf("creating the log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, admin: admin, exit: make(chan error, 1)}
	go func() { p.exit <- cmd.Wait(); logf.Close() }()
	return p, nil
}

// stop sends SIGTERM and, after 15 s, SIGKILL.
func (p *proc) stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exit:
		return nil
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exit
		return fmt.Errorf("%s did not stop within 15 s after SIGTERM; killed", p.name)
	}
}

// rssMiB reads the resident set size of the process from /proc.
func (p *proc) rssMiB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// cpuSeconds reads the user+system CPU time the process has used, from
// /proc/<pid>/stat (clock ticks of 1/100 s on Linux).
func (p *proc) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from after it.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
}

// waitReady polls every process's /readyz; it fails when one exits first.
func waitReady(ctx context.Context, procs []*proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for _, p := range procs {
		for {
			select {
			case err := <-p.exit:
				p.exit <- err // stop() waits on it too
				return fmt.Errorf("%s exited before it was ready: %v (see its log)", p.name, err)
			case <-ctx.Done():
				return ctx.Err()
			default:
			}
			resp, err := hc.Get("http://" + p.admin + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s not ready after %s (see its log)", p.name, timeout)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// freeAddr asks the kernel for a free loopback port.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// running is a started shape.
type running struct {
	name    string
	baseURL string
	procs   []*proc
	ready   time.Duration // start to every /readyz answering 200
}

// cpu returns each process's CPU seconds so far.
func (r *running) cpu() map[string]float64 {
	out := map[string]float64{}
	for _, p := range r.procs {
		out[p.name] = p.cpuSeconds()
	}
	return out
}

func (r *running) rss() map[string]float64 {
	out := map[string]float64{}
	for _, p := range r.procs {
		out[p.name] = p.rssMiB()
	}
	return out
}

// startEmbedded starts `tungsten serve --target=all` on a fresh data dir.
func startEmbedded(ctx context.Context, o options, work string, cl *cleanups) (*running, error) {
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := freeAddr()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	args := append([]string{"serve", "--target=all", "--data-dir=" + filepath.Join(work, "data-all"),
		"--http-addr=" + httpAddr, "--admin-addr=" + admin}, limits...)
	p, err := startProc("all-in-one", o.bin, o.out, admin, args...)
	if err != nil {
		return nil, err
	}
	cl.add(p.stop)
	if err := waitReady(ctx, []*proc{p}, o.readyTimeout); err != nil {
		return nil, err
	}
	return &running{name: "all-in-one", baseURL: "http://" + httpAddr, procs: []*proc{p}, ready: time.Since(started)}, nil
}

// startDistributed starts gateway, auth, users, blog and web as five
// processes the way scripts/cluster.sh does: a database, a Redis prefix and a
// NATS namespace of their own, all removed by the cleanups.
func startDistributed(ctx context.Context, o options, work string, cl *cleanups) (*running, error) {
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	runID := hex.EncodeToString(id)
	db := "tungsten_bench_" + runID
	pgURL, err := withDatabase(o.postgresURL, db)
	if err != nil {
		return nil, err
	}
	if err := pgExec(ctx, o.postgresURL, "CREATE DATABASE "+db); err != nil {
		return nil, fmt.Errorf("creating database %s: %w", db, err)
	}
	cl.add(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pgExec(ctx, o.postgresURL, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("dropping database %s: %w", db, err)
		}
		return nil
	})
	prefix, ns := "bench-"+runID+":", "bench_"+runID
	cl.add(func() error { return deleteRedisKeys(o.redisURL, prefix) })
	cl.add(func() error { return deleteStreams(o.natsURL, ns) })

	mig := exec.CommandContext(ctx, o.bin, "migrate", "--postgres-url="+pgURL)
	if out, err := mig.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tungsten migrate: %w: %s", err, out)
	}

	services := []string{"gateway", "auth", "users", "blog", "web"}
	httpAddr, adminAddr := map[string]string{}, map[string]string{}
	for _, s := range services {
		if httpAddr[s], err = freeAddr(); err != nil {
			return nil, err
		}
		if adminAddr[s], err = freeAddr(); err != nil {
			return nil, err
		}
	}
	started := time.Now()
	r := &running{name: "distributed", baseURL: "http://" + httpAddr["gateway"]}
	for _, s := range services {
		args := append([]string{"serve", "--target=" + s,
			"--http-addr=" + httpAddr[s], "--admin-addr=" + adminAddr[s], "--data-dir=" + filepath.Join(work, "data-"+s),
			"--postgres-url=" + pgURL, "--redis-url=" + o.redisURL, "--redis-prefix=" + prefix,
			"--nats-url=" + o.natsURL, "--nats-namespace=" + ns,
			"--auth-url=http://" + httpAddr["auth"], "--users-url=http://" + httpAddr["users"],
			"--blog-url=http://" + httpAddr["blog"], "--web-url=http://" + httpAddr["web"],
		}, limits...)
		p, err := startProc(s, o.bin, o.out, adminAddr[s], args...)
		if err != nil {
			return nil, err
		}
		// Registered after the database and stream cleanups, so processes stop first.
		cl.add(p.stop)
		r.procs = append(r.procs, p)
	}
	if err := waitReady(ctx, r.procs, o.readyTimeout); err != nil {
		return nil, err
	}
	r.ready = time.Since(started)
	return r, nil
}

// withDatabase swaps the database of a PostgreSQL URL, keeping its options.
func withDatabase(raw, db string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("parsing the PostgreSQL URL: %w", err)
	}
	u.Path = "/" + db
	return u.String(), nil
}

func pgExec(ctx context.Context, dsn, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

func deleteRedisKeys(rawURL, prefix string) error {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return fmt.Errorf("parsing the Redis URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("listing Redis keys %s*: %w", prefix, err)
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := rdb.Del(ctx, keys[:n]...).Err(); err != nil {
			return fmt.Errorf("deleting Redis keys %s*: %w", prefix, err)
		}
		keys = keys[n:]
	}
	return nil
}

// deleteStreams removes the JetStream streams of a namespace (Tungsten names
// them UPPER(namespace_producer), see internal/platform/events).
func deleteStreams(natsURL, ns string) error {
	nc, err := nats.Connect(natsURL, nats.Timeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("connecting to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("opening JetStream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	prefix := strings.ToUpper(ns) + "_"
	names := js.StreamNames(ctx)
	var errs []error
	for name := range names.Name() {
		if strings.HasPrefix(name, prefix) {
			if err := js.DeleteStream(ctx, name); err != nil {
				errs = append(errs, fmt.Errorf("deleting stream %s: %w", name, err))
			}
		}
	}
	if err := names.Err(); err != nil {
		errs = append(errs, fmt.Errorf("listing streams: %w", err))
	}
	return errors.Join(errs...)
}

// captured is one real answer, replayed by the ceiling.
type captured struct {
	Status      int
	ContentType string
	Body        []byte
}

// ceilingHandler answers each endpoint with the bytes captured from the real
// server: the most a Go HTTP server can do for that answer on this machine,
// with no work behind it.
func ceilingHandler(answers map[string]captured) http.Handler {
	write := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			a, ok := answers[name]
			if !ok {
				http.Error(w, "not captured", http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", a.ContentType)
			w.Header().Set("Content-Length", strconv.Itoa(len(a.Body)))
			w.WriteHeader(a.Status)
			_, _ = w.Write(a.Body)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/articles", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Has("q"):
			write("search")(w, r)
		case r.Header.Get("Authorization") != "":
			write("list-auth")(w, r)
		case len(q) > 0:
			write("browse")(w, r)
		default:
			write("list")(w, r)
		}
	})
	mux.HandleFunc("GET /api/articles/feed", write("feed"))
	mux.HandleFunc("GET /api/articles/{slug}", write("article"))
	mux.HandleFunc("GET /api/articles/{slug}/comments", write("comments"))
	mux.HandleFunc("GET /api/tags", write("tags"))
	mux.HandleFunc("GET /api/categories", write("categories"))
	mux.HandleFunc("GET /api/profiles/{username}", write("profile"))
	mux.HandleFunc("POST /api/users/login", write("login"))
	mux.HandleFunc("POST /api/articles", write("publish"))
	mux.HandleFunc("POST /api/articles/{slug}/comments", write("comment"))
	mux.HandleFunc("POST /api/articles/{slug}/favorite", write("favorite"))
	mux.HandleFunc("DELETE /api/articles/{slug}/favorite", write("favorite"))
	return mux
}

// startCeiling runs the ceiling as a process of its own (this binary,
// re-executed with --serve-ceiling), like the real shapes: the load
// generator's garbage collection does not land on the server's time.
func startCeiling(ctx context.Context, o options, answers map[string]captured, cl *cleanups) (*running, error) {
	file := filepath.Join(o.out, "ceiling-answers.json")
	b, err := json.Marshal(answers)
	if err != nil {
		return nil, fmt.Errorf("encoding the captured answers: %w", err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return nil, fmt.Errorf("writing the captured answers: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the harness binary: %w", err)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	started := time.Now()
	p, err := startProc("ceiling", self, o.out, addr, "--serve-ceiling="+file, "--ceiling-addr="+addr)
	if err != nil {
		return nil, err
	}
	cl.add(p.stop)
	if err := waitReady(ctx, []*proc{p}, o.readyTimeout); err != nil {
		return nil, err
	}
	return &running{name: "ceiling", baseURL: "http://" + addr, procs: []*proc{p}, ready: time.Since(started)}, nil
}

// serveCeiling is the ceiling process: it serves the answers in file on addr
// until SIGTERM.
func serveCeiling(ctx context.Context, file, addr string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading the captured answers: %w", err)
	}
	var answers map[string]captured
	if err := json.Unmarshal(b, &answers); err != nil {
		return fmt.Errorf("decoding the captured answers: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", ceilingHandler(answers))
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving the ceiling: %w", err)
	}
	return nil
}
