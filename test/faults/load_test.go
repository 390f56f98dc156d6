package faults

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writer is one registered user posting articles.
type writer struct {
	username, token string
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var httpClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func do(ctx context.Context, method, url, token, key string, body any) (int, []byte, error) {
	st, b, _, err := doHeader(ctx, method, url, token, key, body)
	return st, b, err
}

// doHeader is do that also returns the response's headers.
func doHeader(ctx context.Context, method, url, token, key string, body any) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	r, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	return r.StatusCode, b, r.Header, err
}

func register(t *testing.T, api, name string) writer {
	body := map[string]any{"user": map[string]string{"username": name, "email": name + "@example.com", "password": "password123"}}
	var st int
	var b []byte
	require.Eventually(t, func() bool {
		var err error
		st, b, err = do(context.Background(), http.MethodPost, api+"/api/users", "", "", body)
		return err == nil && st == http.StatusCreated
	}, 30*time.Second, 200*time.Millisecond, "registering %s: %d %s", name, st, b)
	var out struct {
		User struct {
			Token string `json:"token"`
		} `json:"user"`
	}
	require.NoError(t, json.Unmarshal(b, &out))
	return writer{username: name, token: out.User.Token}
}

// statusCounts counts answers by status ("conn" for transport errors).
type statusCounts struct {
	mu sync.Mutex
	m  map[string]int
}

func (s *statusCounts) add(k string) {
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string]int{}
	}
	s.m[k]++
	s.mu.Unlock()
}

func (s *statusCounts) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.m))
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

func statusKey(st int, err error) string {
	if err != nil {
		return "conn"
	}
	return strconv.Itoa(st)
}

// load is the concurrent write + read traffic of one scenario. Writers
// retry a failed POST with the same Idempotency-Key until it is
// acknowledged (or the retry budget ends); every acknowledged title is
// recorded. Failures are counted only while the fault is on.
type load struct {
	api, prefix string
	writers     []writer
	faultOn     atomic.Bool

	mu    sync.Mutex
	acked map[string]string // title -> author
	ackAt []time.Time       // when each write was acknowledged

	writeErrs, readErrs statusCounts
	// noRetryAfter: 5xx answers during the fault without a Retry-After
	// header (or without the JSON error shape), by status. Every fault of the suite is a dependency down or
	// degraded, so every such 5xx is one a client should be told when to
	// retry (the "with Retry-After where it helps").
	noRetryAfter   statusCounts
	reads, readsOK atomic.Int64
	attempts       atomic.Int64
	gaveUp         atomic.Int64
	replayed       atomic.Int64
	wg             sync.WaitGroup
	stop           chan struct{}
}

func startLoad(api, prefix string, writers []writer, readers int) *load {
	l := &load{api: api, prefix: prefix, writers: writers, acked: map[string]string{}, stop: make(chan struct{})}
	for i, w := range writers {
		l.wg.Add(1)
		go l.write(i, w)
	}
	for i := 0; i < readers; i++ {
		l.wg.Add(1)
		go l.read()
	}
	return l
}

func (l *load) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

func (l *load) write(i int, w writer) {
	defer l.wg.Done()
	for n := 0; !l.stopped(); n++ {
		title := fmt.Sprintf("%s w%d n%d %s", l.prefix, i, n, randomHex(3))
		key := randomHex(16)
		body := map[string]any{"article": map[string]any{"title": title, "description": "fault suite", "body": "written under a fault", "tagList": []string{"faults"}}}
		// Retry budget: long enough to outlast every fault of the suite.
		deadline := time.Now().Add(60 * time.Second)
		for {
			l.attempts.Add(1)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, b, h, err := doHeader(ctx, http.MethodPost, l.api+"/api/articles", w.token, key, body)
			cancel()
			if err == nil && st == http.StatusCreated {
				if h.Get("Idempotent-Replayed") == "true" {
					l.replayed.Add(1) // committed earlier, its answer lost: the key saved a duplicate
				}
				l.mu.Lock()
				l.acked[title] = w.username
				l.ackAt = append(l.ackAt, time.Now())
				l.mu.Unlock()
				break
			}
			if l.faultOn.Load() {
				l.writeErrs.add(statusKey(st, err))
				l.checkServerError(st, h, b, err)
			}
			if time.Now().After(deadline) {
				l.gaveUp.Add(1)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *load) read() {
	defer l.wg.Done()
	for !l.stopped() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, b, h, err := doHeader(ctx, http.MethodGet, l.api+"/api/articles?limit=10", "", "", nil)
		cancel()
		l.reads.Add(1)
		if err == nil && st == http.StatusOK {
			l.readsOK.Add(1)
		} else if l.faultOn.Load() {
			l.readErrs.add(statusKey(st, err))
			l.checkServerError(st, h, b, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkServerError counts a 5xx answer that does not say when to retry (a
// Retry-After of delay-seconds, what WriteError sends, or an HTTP date), by
// status, and one whose body is not the RealWorld error shape, as "<status>
// not JSON".
func (l *load) checkServerError(st int, h http.Header, body []byte, err error) {
	if err != nil || st < 500 {
		return
	}
	if !validRetryAfter(h.Get("Retry-After")) {
		l.noRetryAfter.add(strconv.Itoa(st))
	}
	if !errorShape(body) {
		l.noRetryAfter.add(strconv.Itoa(st) + " not JSON")
	}
}

// errorShape reports whether body is {"errors":{"body":["...", ...]}} with
// at least one message.
func errorShape(body []byte) bool {
	var eb struct {
		Errors struct {
			Body []string `json:"body"`
		} `json:"errors"`
	}
	return json.Unmarshal(body, &eb) == nil && len(eb.Errors.Body) > 0
}

func validRetryAfter(v string) bool {
	if n, err := strconv.Atoi(v); err == nil {
		return n >= 0
	}
	_, err := http.ParseTime(v)
	return err == nil
}

// finish stops new writes and waits for the ones in flight to end.
func (l *load) finish() map[string]string {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked
}

// firstAckAfter waits up to max for a write acknowledged after t and
// returns how long after t it came.
func (l *load) firstAckAfter(t time.Time, max time.Duration) (float64, bool) {
	for deadline := time.Now().Add(max); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		l.mu.Lock()
		for i := len(l.ackAt) - 1; i >= 0 && l.ackAt[i].After(t); i-- {
			if i == 0 || !l.ackAt[i-1].After(t) {
				d := l.ackAt[i].Sub(t).Seconds()
				l.mu.Unlock()
				return d, true
			}
		}
		l.mu.Unlock()
	}
	return 0, false
}
