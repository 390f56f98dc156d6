// Package faults is the fault suite (make test-faults): Tungsten distributed
// on PostgreSQL, Redis and NATS servers of its own, every datastore link and
// the gateway→blog link through a real TCP fault proxy (toxiproxy), and one
// scenario after another — kill -9 and SIGTERM of each target, a PostgreSQL
// restart, Redis and NATS down, latency, resets and a partition on each link
// — each under concurrent writers and readers; and the embedded default
// (one process on SQLite) with its data directory's disk full. Every acknowledged write is
// checked afterwards: present exactly once, visible through the API (list
// counts caught up), outboxes drained. The table goes to
// test-artifacts/faults/ and the test fails on a lost or duplicated write,
// derived state that did not catch up, an outbox left undrained, a 5xx
// during a fault without Retry-After, or a recovery slower than 10 s.
//
// scripts/test-faults.sh builds what it needs and sets the environment
// (harness_test.go); without it the suite skips.
package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const recoveryGoal = 10 * time.Second

// suite is everything one run shares.
type suite struct {
	e   env
	dir string
	ds  *datastores
	px  *proxies
	c   *cluster
	em  *embedded // started by the first scenario that needs it
}

// stack returns what sc runs against.
func (s *suite) stack(t *testing.T, sc scenario) stack {
	if !sc.embedded {
		return s.c
	}
	if s.em == nil {
		s.em = startEmbedded(t, s.e, s.dir)
	}
	return s.em
}

// scenario injects a fault and returns how to heal it; hold is how long the
// fault lasts before healing.
type scenario struct {
	name   string
	short  bool
	hold   time.Duration
	inject func(t *testing.T, s *suite) (heal func())
	// readsUp: the fault leaves the read path's store (the blog and
	// PostgreSQL, reached from the gateway) up, so reads must keep serving.
	readsUp bool
	// wantReplays: the fault loses answers to committed writes, so retries
	// must be answered from their Idempotency-Key (else the scenario did
	// not test what it claims).
	wantReplays bool
	// wantWriteErrors: the fault must make writes fail (else it did not
	// happen, and the scenario proved nothing).
	wantWriteErrors bool
	// embedded: run against the embedded default (one process, SQLite and
	// the embedded NATS in its data directory), not the cluster.
	embedded bool
	// check, when set, runs once the fault is on and says "ok" (perhaps
	// with a note) or what was wrong: what the scenario proves beyond the
	// load's figures.
	check func(t *testing.T, s *suite, st stack, follower writer) string
}

type result struct {
	Scenario            string         `json:"scenario"`
	Acknowledged        int            `json:"acknowledged"`
	Lost                int            `json:"lost"`
	Duplicated          int            `json:"duplicated"`
	GaveUp              int64          `json:"gave_up"`
	Replayed            int64          `json:"replayed"`
	WriteErrors         map[string]int `json:"write_errors_during_fault"`
	ReadErrors          map[string]int `json:"read_errors_during_fault"`
	NoRetryAfter        map[string]int `json:"5xx_without_retry_after_during_fault"`
	ReadsDuringFault    int64          `json:"reads_during_fault"`
	ReadsOKDuringFault  int64          `json:"reads_ok_during_fault"`
	RecoverySeconds     float64        `json:"recovery_seconds"`
	BacklogPeak         float64        `json:"outbox_backlog_peak"`
	BacklogDrainSeconds float64        `json:"outbox_drain_seconds"`
	OutboxLeft          int64          `json:"outbox_rows_left"`
	Derived             string         `json:"derived_state"`
	ReadsMustServe      bool           `json:"reads_must_serve"`
	WantReplays         bool           `json:"want_replays"`
	WantWriteErrors     bool           `json:"want_write_errors"`
	Check               string         `json:"scenario_check,omitempty"`
}

func kill(target string, sig syscall.Signal) func(*testing.T, *suite) func() {
	return func(t *testing.T, s *suite) func() {
		p := s.c.procs[target]
		p.signal(sig, 20*time.Second)
		return func() { require.NoError(t, p.start()) }
	}
}

func down(store string) func(*testing.T, *suite) func() {
	return func(t *testing.T, s *suite) func() {
		p := map[string]*proc{"postgres": s.ds.pg, "redis": s.ds.redis, "nats": s.ds.nats}[store]
		sig := syscall.SIGKILL
		if store == "postgres" {
			sig = syscall.SIGQUIT // immediate shutdown: a crash without the OOM killer
		}
		p.signal(sig, 20*time.Second)
		return func() { require.NoError(t, p.start()) }
	}
}

func toxic(link, kind string, attrs toxiproxy.Attributes) func(*testing.T, *suite) func() {
	return func(t *testing.T, s *suite) func() { return s.px.toxic(t, link, kind, attrs) }
}

func scenarios() []scenario {
	var out []scenario
	for _, tg := range targets {
		out = append(out, scenario{name: "kill -9 " + tg, short: tg == "blog", hold: time.Second, inject: kill(tg, syscall.SIGKILL),
			readsUp: tg != "blog" && tg != "gateway"})
	}
	for _, tg := range targets {
		out = append(out, scenario{name: "SIGTERM " + tg, hold: time.Second, inject: kill(tg, syscall.SIGTERM),
			readsUp: tg != "blog" && tg != "gateway"})
	}
	out = append(out,
		scenario{name: "PostgreSQL restart", hold: 2 * time.Second, inject: down("postgres")},
		scenario{name: "Redis down 10s", hold: 10 * time.Second, inject: down("redis"), readsUp: true},
		scenario{name: "NATS down 15s", hold: 15 * time.Second, inject: down("nats"), readsUp: true},
	)
	for _, link := range []string{"postgres", "redis", "nats", "blog"} {
		// Resets or a partition of Redis or NATS leave the read path's store up.
		readsUp := link == "redis" || link == "nats"
		out = append(out,
			scenario{name: link + " latency 200ms", short: link == "postgres", hold: 8 * time.Second,
				inject: toxic(link, "latency", toxiproxy.Attributes{"latency": 200, "jitter": 20}), readsUp: true},
			scenario{name: link + " resets", hold: 5 * time.Second,
				inject: toxic(link, "reset_peer", toxiproxy.Attributes{"timeout": 0}), readsUp: readsUp},
			scenario{name: link + " partition", hold: 5 * time.Second,
				inject: toxic(link, "timeout", toxiproxy.Attributes{"timeout": 0}), readsUp: readsUp},
		)
	}
	// The embedded default's data directory (SQLite files, the embedded
	// NATS store) on a full disk: writes fail with a 503 and Retry-After,
	// none acknowledged and lost; reads keep serving; once space is freed
	// writes succeed again in the same process.
	out = append(out, scenario{name: "disk full (embedded)", short: true, embedded: true, hold: 5 * time.Second, readsUp: true, wantWriteErrors: true,
		inject: func(t *testing.T, s *suite) func() { return s.em.fillDisk(t) }})
	// The token issuer's clock (auth's, through its admin fault switch)
	// ahead within the verifiers' leeway, behind, and ahead beyond it.
	out = append(out,
		scenario{name: "auth clock 20s ahead (within leeway)", hold: 4 * time.Second, readsUp: true,
			inject: clockSkew(20 * time.Second), check: tokensAccepted(20 * time.Second)},
		// Right after the one before, auth's service token is most likely
		// still fresh, so the login succeeds and the verifiers judge the
		// token; otherwise the login itself is refused (tokensRefused).
		scenario{name: "auth clock 2m ahead (beyond leeway)", hold: 4 * time.Second, readsUp: true,
			inject: clockSkew(2 * time.Minute), check: tokensRefused(2 * time.Minute)},
		scenario{name: "auth clock 2m behind", hold: 4 * time.Second, readsUp: true,
			inject: clockSkew(-2 * time.Minute), check: tokensAccepted(-2 * time.Minute)},
	)
	// Requests reach the blog and commit, their answers never come back:
	// the client times out and retries with the same key.
	out = append(out, scenario{name: "blog answers lost", short: true, hold: 7 * time.Second, wantReplays: true,
		inject: func(t *testing.T, s *suite) func() {
			return s.px.toxicOn(t, "blog", "timeout", toxiproxy.Attributes{"timeout": 0}, "downstream")
		}})
	return out
}

// shortForm is the CI subset: kill -9 blog, Redis down 5 s, NATS down 5 s,
// PostgreSQL latency, disk full (embedded, ~12 s), blog answers lost.
func shortForm(all []scenario) []scenario {
	var out []scenario
	for _, sc := range all {
		switch {
		case sc.short:
			out = append(out, sc)
		case sc.name == "Redis down 10s":
			sc.name, sc.hold = "Redis down 5s", 5*time.Second
			out = append(out, sc)
		case sc.name == "NATS down 15s":
			sc.name, sc.hold = "NATS down 5s", 5*time.Second
			out = append(out, sc)
		}
	}
	return out
}

func TestFaults(t *testing.T) {
	e := loadEnv(t)
	require.NoError(t, os.MkdirAll(e.art, 0o755))
	dir := t.TempDir()
	s := &suite{e: e, dir: dir}
	s.ds = startDatastores(t, e, dir)
	httpPorts := map[string]int{}
	for _, tg := range targets {
		httpPorts[tg] = freePort(t)
	}
	s.px = startProxies(t, e, map[string]string{
		"postgres": fmt.Sprintf("127.0.0.1:%d", s.ds.pgPort),
		"redis":    fmt.Sprintf("127.0.0.1:%d", s.ds.redisPort),
		"nats":     fmt.Sprintf("127.0.0.1:%d", s.ds.natsPort),
		"blog":     fmt.Sprintf("127.0.0.1:%d", httpPorts["blog"]),
	})
	s.c = startCluster(t, e, dir, s.ds, s.px, httpPorts)

	list := scenarios()
	if e.mode == "short" {
		list = shortForm(list)
	}
	if only := os.Getenv("TUNGSTEN_FAULTS_ONLY"); only != "" { // a developer's subset (FAULTS_ONLY)
		re, err := regexp.Compile(only)
		require.NoError(t, err, "TUNGSTEN_FAULTS_ONLY")
		var kept []scenario
		for _, sc := range list {
			if re.MatchString(sc.name) {
				kept = append(kept, sc)
			}
		}
		require.NotEmpty(t, kept, "no scenario matches TUNGSTEN_FAULTS_ONLY=%q", only)
		list = kept
	}
	var results []result
	for i, sc := range list {
		began := time.Now()
		r := s.run(t, i, sc)
		results = append(results, r)
		t.Logf("%s: %d acknowledged, %d lost, %d duplicated, recovery %.1fs (scenario took %.1fs)", r.Scenario, r.Acknowledged, r.Lost, r.Duplicated,
			r.RecoverySeconds, time.Since(began).Seconds())
	}
	table := renderTable(results)
	fmt.Println(table)
	require.NoError(t, os.WriteFile(filepath.Join(e.art, "faults.md"), []byte(table), 0o644))
	js, _ := json.MarshalIndent(results, "", "  ")
	require.NoError(t, os.WriteFile(filepath.Join(e.art, "faults.json"), js, 0o644))
	for _, r := range results {
		// assert: every scenario's every failure is reported, not the first only.
		assert.Zero(t, r.Lost, "%s: acknowledged writes lost", r.Scenario)
		assert.Zero(t, r.Duplicated, "%s: acknowledged writes duplicated", r.Scenario)
		assert.False(t, r.WantReplays && r.Replayed == 0,
			"%s: no retry was answered from its Idempotency-Key, so the scenario proved nothing about duplicates", r.Scenario)
		assert.False(t, r.WantWriteErrors && len(r.WriteErrors) == 0,
			"%s: no write failed during the fault, so the scenario proved nothing", r.Scenario)
		assert.True(t, r.Check == "" || strings.HasPrefix(r.Check, "ok"), "%s: %s", r.Scenario, r.Check)
		assert.Zero(t, r.GaveUp, "%s: writes were not acknowledged within their 60 s of retries", r.Scenario)
		assert.Equal(t, "ok", r.Derived, "%s: derived state did not catch up", r.Scenario)
		assert.False(t, r.ReadsMustServe && r.ReadsOKDuringFault < r.ReadsDuringFault,
			"%s: reads failed during a fault that leaves their store up: %s", r.Scenario, fmtCounts(r.ReadErrors))
		assert.Empty(t, r.NoRetryAfter,
			"%s: 5xx answered during the fault without Retry-After or the JSON error shape (a dependency was down: the client should be told what and when to retry)", r.Scenario)
		assert.True(t, r.BacklogDrainSeconds >= 0,
			"%s: the outbox backlog gauge never came back to 0 after the heal (peak %.0f)", r.Scenario, r.BacklogPeak)
		assert.Zero(t, r.OutboxLeft, "%s: outbox rows left in the store 30 s after the load stopped", r.Scenario)
		assert.True(t, r.RecoverySeconds >= 0 && r.RecoverySeconds <= recoveryGoal.Seconds(),
			"%s: recovery took %.1fs (goal < %s; -1: never)", r.Scenario, r.RecoverySeconds, recoveryGoal)
	}
}

const writersPerScenario = 4

func (s *suite) run(t *testing.T, i int, sc scenario) result {
	st := s.stack(t, sc)
	api := st.apiURL()
	prefix := fmt.Sprintf("fault%02d", i)
	var ws []writer
	for w := 0; w < writersPerScenario; w++ {
		ws = append(ws, register(t, api, fmt.Sprintf("%sw%d%s", prefix, w, randomHex(2))))
	}
	// A reader following every writer: the feed is derived state fed by
	// the users service's follow events.
	follower := register(t, api, fmt.Sprintf("%sf%s", prefix, randomHex(2)))
	for _, w := range ws {
		st, b, err := do(context.Background(), http.MethodPost, api+"/api/profiles/"+url.PathEscape(w.username)+"/follow", follower.token, "", nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, st, "following %s: %s", w.username, b)
	}
	l := startLoad(api, prefix, ws, 3)

	// Outbox backlog sampled all along: its peak, and the first time it is
	// back at 0 after the fault was healed.
	var (
		peak       float64
		healedAt   atomic.Int64 // unix nanos; 0 while the fault is on
		drainedAt  time.Time
		samplingMu sync.Mutex
	)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-tick.C:
				b := st.backlog()
				samplingMu.Lock()
				if b > peak {
					peak = b
				}
				if h := healedAt.Load(); h != 0 && b == 0 && drainedAt.IsZero() {
					drainedAt = time.Now()
				}
				samplingMu.Unlock()
			}
		}
	}()

	time.Sleep(3 * time.Second) // steady state
	readsBefore, okBefore := l.reads.Load(), l.readsOK.Load()
	l.faultOn.Store(true)
	heal := sc.inject(t, s)
	injected := time.Now()
	var check string
	if sc.check != nil {
		check = sc.check(t, s, st, follower)
	}
	time.Sleep(sc.hold - time.Since(injected))
	heal()
	healed := time.Now()
	healedAt.Store(healed.UnixNano())
	// Full recovery: every target ready, the probe's reads and write
	// served, and the writers acknowledged again.
	recovery := waitRecovered(t, st, ws[0], healed, 60*time.Second)
	if recovery >= 0 {
		if w, ok := l.firstAckAfter(healed, 60*time.Second); !ok {
			recovery = -1
		} else if w > recovery {
			recovery = w
		}
	}
	l.faultOn.Store(false)
	r := result{Scenario: sc.name, RecoverySeconds: recovery, ReadsMustServe: sc.readsUp, WantReplays: sc.wantReplays, WantWriteErrors: sc.wantWriteErrors, Check: check,
		ReadsDuringFault: l.reads.Load() - readsBefore, ReadsOKDuringFault: l.readsOK.Load() - okBefore}
	time.Sleep(3 * time.Second) // load after recovery
	acked := l.finish()
	r.WriteErrors, r.ReadErrors, r.GaveUp, r.Replayed = l.writeErrs.snapshot(), l.readErrs.snapshot(), l.gaveUp.Load(), l.replayed.Load()
	r.NoRetryAfter = l.noRetryAfter.snapshot()
	r.Acknowledged = len(acked)

	// Outbox drained: the gauge back at 0 once the load stopped, at the latest.
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		samplingMu.Lock()
		done := !drainedAt.IsZero()
		samplingMu.Unlock()
		if done {
			break
		}
	}
	close(stopSampling)
	<-sampled
	r.BacklogPeak, r.BacklogDrainSeconds = peak, -1
	if !drainedAt.IsZero() {
		r.BacklogDrainSeconds = drainedAt.Sub(healed).Seconds()
	}

	r.OutboxLeft = outboxLeft(t, st)
	r.Lost, r.Duplicated = checkStored(t, st, prefix, acked)
	r.Derived = checkDerived(t, st, ws, follower)
	// Wait for everything to be ready before the next scenario.
	st.waitAllReady(t, 60*time.Second)
	return r
}

// waitRecovered polls until a write and a read succeed through the gateway
// and every target is ready; returns the seconds since healed, -1 if never.
func waitRecovered(t *testing.T, st stack, w writer, healed time.Time, max time.Duration) float64 {
	for time.Since(healed) < max {
		if st.allReady() && probe(st.apiURL(), w) {
			return time.Since(healed).Seconds()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("not recovered %s after the fault was healed", max)
	return -1
}

func probe(api string, w writer) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, _, err := do(ctx, http.MethodGet, api+"/api/articles?limit=1", "", "", nil)
	if err != nil || st != http.StatusOK {
		return false
	}
	st, _, err = do(ctx, http.MethodGet, api+"/api/user", w.token, "", nil)
	if err != nil || st != http.StatusOK {
		return false
	}
	// A write that changes nothing durable: favoriting is idempotent, but
	// needs an article; following oneself is refused. Use the feed (auth +
	// blog + read model) as the authenticated read and a comment-free write
	// path: PUT /api/user with the same bio.
	st, _, err = do(ctx, http.MethodPut, api+"/api/user", w.token, "", map[string]any{"user": map[string]any{"bio": "faults"}})
	if err != nil || st != http.StatusOK {
		return false
	}
	st, _, err = do(ctx, http.MethodGet, api+"/api/articles/feed?limit=1", w.token, "", nil)
	if err != nil || st != http.StatusOK {
		return false
	}
	// A login: auth issuing a token and calling users with its service
	// token (a service token issued by a skewed clock and still cached
	// refused every login after the clock was set right).
	st, _, err = login(api, w)
	return err == nil && st == http.StatusOK
}

// outboxLeft counts, in the stores themselves, the rows left in the users'
// and the blog's outboxes, polling for up to 30 s until there are none: the
// relays must drain what the scenario wrote (the gauge is the relays' own
// view; the table is the truth).
func outboxLeft(t *testing.T, st stack) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var n int64
		for _, svc := range []string{"users", "blog"} {
			c, err := st.count(ctx, svc, `SELECT count(*) FROM %[1]soutbox`)
			require.NoError(t, err, "counting the %s outbox", svc)
			n += c
		}
		if n == 0 || time.Now().After(deadline) {
			return n
		}
	}
}

// checkStored counts, in the store itself (not through a proxy or the
// API), the articles of this scenario by title: an acknowledged title
// missing is lost, any title stored more than once is duplicated.
func checkStored(t *testing.T, st stack, prefix string, acked map[string]string) (lost, dup int) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stored map[string]int
	require.Eventually(t, func() bool {
		var err error
		stored, err = st.titles(ctx, prefix)
		return err == nil
	}, 30*time.Second, 200*time.Millisecond)
	for _, n := range stored {
		if n > 1 {
			dup += n - 1
		}
	}
	for title := range acked {
		if stored[title] == 0 {
			lost++
		}
	}
	return lost, dup
}

// checkDerived: each writer's articles, as the public list counts them
// (cache and all), and the follower's feed match what the store holds,
// within 10 s.
func checkDerived(t *testing.T, st stack, ws []writer, follower writer) string {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var bad []string
	total := int64(0)
	for _, w := range ws {
		want, err := st.count(ctx, "blog", `SELECT count(*) FROM %[1]sarticles WHERE author_username = $1`, w.username)
		require.NoError(t, err)
		total += want
		if got := countWithin(ctx, st.apiURL(), "/api/articles?limit=1&author="+url.QueryEscape(w.username), "", want); got != want {
			bad = append(bad, fmt.Sprintf("%s: list counts %d, stored %d", w.username, got, want))
		}
	}
	if got := countWithin(ctx, st.apiURL(), "/api/articles/feed?limit=1", follower.token, total); got != total {
		bad = append(bad, fmt.Sprintf("feed of %s counts %d, stored %d", follower.username, got, total))
	}
	if len(bad) > 0 {
		return strings.Join(bad, "; ")
	}
	return "ok"
}

// countWithin polls path's articlesCount for up to 10 s until it is want;
// returns the last one read (-1: none).
func countWithin(ctx context.Context, api, path, token string, want int64) int64 {
	got := int64(-1)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		st, b, err := do(ctx, http.MethodGet, api+path, token, "", nil)
		if err != nil || st != http.StatusOK {
			continue
		}
		var out struct {
			ArticlesCount int64 `json:"articlesCount"`
		}
		if json.Unmarshal(b, &out) == nil {
			got = out.ArticlesCount
			if got == want {
				break
			}
		}
	}
	return got
}

func fmtCounts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func renderTable(rs []result) string {
	var b strings.Builder
	b.WriteString("| scenario | acknowledged | lost | duplicated | replayed | write errors during fault | read errors during fault | 5xx without Retry-After or error JSON | reads served during fault | seconds to full recovery | outbox backlog peak | outbox drained after (s) | derived state | scenario check |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		served := "-"
		if r.ReadsDuringFault > 0 {
			served = fmt.Sprintf("%.1f%%", 100*float64(r.ReadsOKDuringFault)/float64(r.ReadsDuringFault))
		}
		if !r.ReadsMustServe {
			served += " (read path down)"
		}
		drained := fmt.Sprintf("%.1f", r.BacklogDrainSeconds)
		if r.BacklogDrainSeconds < 0 {
			drained = "never"
		}
		if r.OutboxLeft > 0 {
			drained += fmt.Sprintf(" (%d rows left)", r.OutboxLeft)
		}
		check := r.Check
		if check == "" {
			check = "-"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %s | %s | %s | %.1f | %.0f | %s | %s | %s |\n", r.Scenario, r.Acknowledged, r.Lost, r.Duplicated, r.Replayed,
			fmtCounts(r.WriteErrors), fmtCounts(r.ReadErrors), fmtCounts(r.NoRetryAfter), served, r.RecoverySeconds, r.BacklogPeak, drained, r.Derived, check)
	}
	return b.String()
}
