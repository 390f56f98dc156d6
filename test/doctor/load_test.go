package doctor

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// load is the steady background traffic of the evaluation: a vegeta attack on the
// gateway Service at a fixed rate, a read/write mix touching every service, with the
// last minutes of results kept per route so the harness can tell when a fault shows
// and when it is gone.
type load struct {
	targeter vegeta.Targeter
	rate     int
	until    time.Time // the attack stops by itself then

	mu       sync.Mutex
	attacker *vegeta.Attacker
	done     chan struct{} // closed when the current attack's results are all read
	recent   []sample      // the last keep of results, oldest first
	sent     int
	failed   int
	restarts int
}

type sample struct {
	at      time.Time
	route   string
	latency time.Duration
	failed  bool // transport error or 5xx
}

const keep = 3 * time.Minute

func unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// register creates a user through the gateway and returns its name and token.
func register(gw string) (string, string, error) {
	name := unique("dr")
	body, _ := json.Marshal(map[string]any{"user": map[string]any{"username": name, "email": name + "@example.com", "password": "password123"}})
	res, err := (&http.Client{Timeout: 15 * time.Second}).Post(gw+"/api/users", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	defer res.Body.Close()
	var v struct {
		User struct {
			Token string `json:"token"`
		} `json:"user"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil || res.StatusCode != http.StatusCreated || v.User.Token == "" {
		return "", "", fmt.Errorf("register through %s: %d %v", gw, res.StatusCode, err)
	}
	return name, v.User.Token, nil
}

// signInAccounts is the pool the load signs in with, in turn. auth allows an account
// 10 sign-ins from one IP per 15 minutes (--auth.login-ip-account-limit), and every
// request of the load comes from the host: at one sign-in in sixty requests and 30
// requests/s, 64 accounts keep each one near 7 sign-ins per 15 minutes, so every
// sign-in is answered from auth's database and a fault of it shows.
const signInAccounts = 64

// startLoad attacks gw at rate requests/s for at most d (it stops by itself): one request
// in sixty a sign-in (auth, its database), one in five an article write (blog), the others
// reads of the tags and articles (blog), the web UI (web), the current user (auth, users)
// and a profile (users).
func startLoad(gw string, rate int, d time.Duration) (*load, error) {
	name, token, err := register(gw)
	if err != nil {
		return nil, err
	}
	auth := http.Header{"Authorization": {"Token " + token}}
	reads := []vegeta.Target{
		{Method: http.MethodGet, URL: gw + "/api/tags"},
		{Method: http.MethodGet, URL: gw + "/api/articles?limit=5"},
		{Method: http.MethodGet, URL: gw + "/"},
		{Method: http.MethodGet, URL: gw + "/api/user", Header: auth},
		{Method: http.MethodGet, URL: gw + "/api/profiles/" + name},
	}
	logins := make([][]byte, signInAccounts)
	for i := range logins {
		other, _, err := register(gw)
		if err != nil {
			return nil, err
		}
		logins[i], _ = json.Marshal(map[string]any{"user": map[string]any{"email": other + "@example.com", "password": "password123"}})
	}
	var n atomic.Int64
	targeter := func(tgt *vegeta.Target) error {
		i := n.Add(1)
		if i%60 == 15 {
			*tgt = vegeta.Target{Method: http.MethodPost, URL: gw + "/api/users/login", Body: logins[(i/60)%signInAccounts],
				Header: http.Header{"Content-Type": {"application/json"}}}
			return nil
		}
		if i%5 == 0 {
			body, _ := json.Marshal(map[string]any{"article": map[string]any{
				"title": "doctor eval " + unique(""), "description": "background load", "body": "steady writes", "tagList": []string{"doctor"},
			}})
			*tgt = vegeta.Target{Method: http.MethodPost, URL: gw + "/api/articles", Body: body,
				Header: http.Header{"Authorization": {"Token " + token}, "Content-Type": {"application/json"}}}
			return nil
		}
		*tgt = reads[int(i-i/5)%len(reads)] // the reads' own count: every read is drawn in turn
		return nil
	}
	l := &load{targeter: targeter, rate: rate, until: time.Now().Add(d)}
	l.attack()
	return l, nil
}

// attack starts a new attacker for the rest of the load's duration.
func (l *load) attack() {
	a := vegeta.NewAttacker(vegeta.Timeout(10*time.Second), vegeta.KeepAlive(true), vegeta.Workers(8),
		vegeta.MaxWorkers(64), vegeta.MaxBody(64<<10), vegeta.Redirects(vegeta.NoFollow))
	done := make(chan struct{})
	results := a.Attack(l.targeter, vegeta.Rate{Freq: l.rate, Per: time.Second}, time.Until(l.until), "doctor-eval")
	go func() {
		defer close(done)
		for r := range results {
			l.add(r)
		}
	}()
	l.mu.Lock()
	l.attacker, l.done = a, done
	l.mu.Unlock()
}

// restart replaces an attack that stopped sending (on 2026-12-06 one did after the
// gateway was OOM-killed, cause not found): the goroutines of the test process go
// to dump first, so the next occurrence can be explained, then a new attacker takes
// over and the old one is told to stop without waiting for it.
func (l *load) restart(dump string) error {
	f, err := os.Create(dump)
	if err != nil {
		return err
	}
	werr := pprof.Lookup("goroutine").WriteTo(f, 2)
	if err := errors.Join(werr, f.Close()); err != nil {
		return err
	}
	l.mu.Lock()
	old := l.attacker
	l.restarts++
	l.mu.Unlock()
	old.Stop()
	l.attack()
	return nil
}

// route names a request by what it exercises.
func route(method, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	switch p := u.Path; {
	case p == "/api/users/login":
		return "login"
	case method == http.MethodPost:
		return "write"
	case p == "/":
		return "web"
	case strings.HasPrefix(p, "/api/profiles/"):
		return "profile"
	default:
		return strings.TrimPrefix(p, "/api/")
	}
}

func (l *load) add(r *vegeta.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := sample{at: r.Timestamp.Add(r.Latency), route: route(r.Method, r.URL), latency: r.Latency,
		failed: r.Code == 0 || r.Code >= 500} // vegeta sets Error for a 4xx too: refused logins are answers
	l.sent++
	if s.failed {
		l.failed++
	}
	l.recent = append(l.recent, s)
	cut := 0
	for cut < len(l.recent) && time.Since(l.recent[cut].at) > keep {
		cut++
	}
	l.recent = l.recent[cut:]
}

// routeStats is one route over a window.
type routeStats struct {
	N      int
	Failed int
	P50    time.Duration
}

// window returns the stats per route of the results of the last d.
func (l *load) window(d time.Duration) map[string]routeStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	lat := map[string][]time.Duration{}
	out := map[string]routeStats{}
	for _, s := range l.recent {
		if time.Since(s.at) > d {
			continue
		}
		st := out[s.route]
		st.N++
		if s.failed {
			st.Failed++
		}
		out[s.route] = st
		lat[s.route] = append(lat[s.route], s.latency)
	}
	for r, ls := range lat {
		sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
		st := out[r]
		st.P50 = ls[len(ls)/2]
		out[r] = st
	}
	return out
}

// degraded lists the routes of w that fail (over 5%) or are slow (p50 over three times
// the baseline's plus 100 ms) compared with base.
func degraded(w, base map[string]routeStats) []string {
	var out []string
	for r, s := range w {
		if s.N < 5 {
			continue
		}
		if ratio := float64(s.Failed) / float64(s.N); ratio > 0.05 {
			out = append(out, fmt.Sprintf("%s failing %.0f%%", r, 100*ratio))
		}
		if b, ok := base[r]; ok && s.P50 > 3*b.P50+100*time.Millisecond {
			out = append(out, fmt.Sprintf("%s p50 %s (baseline %s)", r, s.P50.Round(time.Millisecond), b.P50.Round(time.Millisecond)))
		}
	}
	sort.Strings(out)
	return out
}

// stop ends the current attack (a replaced one may still be stuck; it ends with the
// process) and returns the totals.
func (l *load) stop() (sent, failed, restarts int) {
	l.mu.Lock()
	a, done := l.attacker, l.done
	l.mu.Unlock()
	a.Stop()
	select {
	case <-done:
	case <-time.After(15 * time.Second): // the results of requests in flight: at most the 10 s timeout
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent, l.failed, l.restarts
}
