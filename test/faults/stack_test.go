package faults

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the embedded default's files, read by the checks
)

// stack is what a scenario runs against: Tungsten distributed on
// PostgreSQL (the cluster), or the embedded default (one process, SQLite).
type stack interface {
	apiURL() string
	allReady() bool
	waitAllReady(t *testing.T, d time.Duration)
	// backlog sums tungsten_outbox_backlog over the processes with an
	// outbox; -1 when one cannot be scraped.
	backlog() float64
	// count answers a one-number query in the database of service svc
	// ("blog", "users"), read straight from the store (no proxy, no API);
	// tables are named as fmt's %[1]s + name ("%[1]sarticles").
	count(ctx context.Context, svc, query string, args ...any) (int64, error)
	// titles counts the blog's stored articles by title, for the titles
	// that start with prefix.
	titles(ctx context.Context, prefix string) (map[string]int, error)
}

const titlesQuery = `SELECT title, count(*) FROM %[1]sarticles WHERE title LIKE $1 GROUP BY title`

type rowScanner interface {
	Next() bool
	Scan(dst ...any) error
	Err() error
}

func scanTitles(rows rowScanner) (map[string]int, error) {
	out := map[string]int{}
	for rows.Next() {
		var title string
		var n int
		if err := rows.Scan(&title, &n); err != nil {
			return nil, err
		}
		out[title] = n
	}
	return out, rows.Err()
}

// The distributed cluster's store: PostgreSQL, one schema per service.
func (c *cluster) apiURL() string { return c.api }

func (c *cluster) allReady() bool {
	for _, tg := range targets {
		if !c.ready(tg) {
			return false
		}
	}
	return true
}

func (c *cluster) waitAllReady(t *testing.T, d time.Duration) { c.waitReady(t, d) }

func (c *cluster) count(ctx context.Context, svc, query string, args ...any) (int64, error) {
	conn, err := pgx.Connect(ctx, c.adminPG)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, fmt.Sprintf(query, svc+"."), args...).Scan(&n)
	return n, err
}

func (c *cluster) titles(ctx context.Context, prefix string) (map[string]int, error) {
	conn, err := pgx.Connect(ctx, c.adminPG)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, fmt.Sprintf(titlesQuery, "blog."), prefix+" %")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanTitles(rows)
}

// embedded is the all-in-one embedded default (--target=all, SQLite files
// and the embedded NATS in --data-dir), its data directory on a tmpfs of
// its own so that the disk can be filled without touching the machine's.
type embedded struct {
	p           *proc
	http, admin int
	mnt, data   string

	mu  sync.Mutex
	dbs map[string]*sql.DB
}

// embeddedDiskMiB is the size of the embedded stack's tmpfs: room for a
// scenario's writes (a few MB), small enough to fill in a moment.
const embeddedDiskMiB = 64

func startEmbedded(t *testing.T, e env, dir string) *embedded {
	require.Zero(t, os.Geteuid(), "the embedded stack mounts a tmpfs for its data directory: run as root")
	em := &embedded{http: freePort(t), admin: freePort(t), mnt: filepath.Join(dir, "embedded"), dbs: map[string]*sql.DB{}}
	em.data = filepath.Join(em.mnt, "data")
	require.NoError(t, os.MkdirAll(em.mnt, 0o755))
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%dm,mode=0755", embeddedDiskMiB), "tmpfs", em.mnt).CombinedOutput()
	require.NoError(t, err, "mounting a tmpfs on %s: %s", em.mnt, out)
	t.Cleanup(func() {
		em.mu.Lock()
		for _, db := range em.dbs {
			_ = db.Close()
		}
		em.mu.Unlock()
		em.p.signal(syscall.SIGTERM, 15*time.Second)
		if out, err := exec.Command("umount", em.mnt).CombinedOutput(); err != nil {
			t.Logf("unmounting %s: %v: %s", em.mnt, err, out)
		}
	})
	em.p = &proc{name: "embedded", log: filepath.Join(e.art, "embedded.log"), args: append([]string{e.bin, "serve", "--target=all",
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", em.http), "--admin-addr", fmt.Sprintf("127.0.0.1:%d", em.admin),
		"--data-dir", em.data, "--drain-delay", "0s"}, oneClientLimits...)}
	require.NoError(t, em.p.start())
	em.waitAllReady(t, 60*time.Second)
	return em
}

func (em *embedded) apiURL() string { return fmt.Sprintf("http://127.0.0.1:%d", em.http) }

func (em *embedded) allReady() bool {
	r, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", em.admin))
	if err != nil {
		return false
	}
	r.Body.Close()
	return r.StatusCode == http.StatusOK
}

func (em *embedded) waitAllReady(t *testing.T, d time.Duration) {
	require.Eventually(t, em.allReady, d, 100*time.Millisecond, "the embedded stack is not ready after %s (log %s)", d, em.p.log)
}

func (em *embedded) backlog() float64 {
	v, err := scrapeSum(fmt.Sprintf("http://127.0.0.1:%d/metrics", em.admin), "tungsten_outbox_backlog")
	if err != nil {
		return -1
	}
	return v
}

func (em *embedded) db(svc string) (*sql.DB, error) {
	em.mu.Lock()
	defer em.mu.Unlock()
	if db := em.dbs[svc]; db != nil {
		return db, nil
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(em.data, svc+".db")+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return nil, err
	}
	em.dbs[svc] = db
	return db, nil
}

func (em *embedded) titles(ctx context.Context, prefix string) (map[string]int, error) {
	db, err := em.db("blog")
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(titlesQuery, ""), prefix+" %")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanTitles(rows)
}

// count reads the service's SQLite file beside the running process (WAL:
// readers do not block its writer), query-only.
func (em *embedded) count(ctx context.Context, svc, query string, args ...any) (int64, error) {
	db, err := em.db(svc)
	if err != nil {
		return 0, err
	}
	var n int64
	err = db.QueryRowContext(ctx, fmt.Sprintf(query, ""), args...).Scan(&n)
	return n, err
}

// alive reports whether the process is still the one started (it was not
// restarted, did not exit).
func (em *embedded) alive() bool {
	select {
	case <-em.p.done:
		return false
	default:
		return em.p.cmd != nil
	}
}

// fillDisk writes a file on the embedded stack's tmpfs until the disk is
// full, and returns how to free it again.
func (em *embedded) fillDisk(t *testing.T) func() {
	path := filepath.Join(em.mnt, "filler")
	f, err := os.Create(path)
	require.NoError(t, err)
	chunk := make([]byte, 1<<20)
	written := 0
	for {
		n, err := f.Write(chunk)
		written += n
		if err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling %s: %v", em.mnt, err)
			break
		}
	}
	// The last bytes too: a write smaller than the chunk may still fit.
	for _, size := range []int{64 << 10, 4 << 10, 512} {
		for {
			n, err := f.Write(chunk[:size])
			written += n
			if err != nil {
				break
			}
		}
	}
	require.NoError(t, f.Close())
	t.Logf("disk full: %s MiB of filler on %s", strconv.Itoa(written>>20), em.mnt)
	return func() {
		require.NoError(t, os.Remove(path))
		require.True(t, em.alive(), "the embedded process exited while its disk was full (log %s): a restart is not recovery", em.p.log)
	}
}
