package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

var httpClient = &http.Client{Timeout: 15 * time.Second}

// apiCall sends one JSON request through the gateway and decodes the answer.
func apiCall(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	res, err := httpClient.Do(req)
	require.NoError(t, err, "%s %s", method, url)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var v map[string]any
	_ = json.Unmarshal(raw, &v)
	return res.StatusCode, v
}

func unique(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// register creates a user through the gateway and returns its token.
func register(t *testing.T, gw string) string {
	t.Helper()
	name := unique("cl")
	code, v := apiCall(t, http.MethodPost, gw+"/api/users", "", map[string]any{
		"user": map[string]any{"username": name, "email": name + "@example.com", "password": "password123"},
	})
	require.Equal(t, http.StatusCreated, code, "register: %v", v)
	u, _ := v["user"].(map[string]any)
	token, _ := u["token"].(string)
	require.NotEmpty(t, token)
	return token
}

// load is a running vegeta attack on the gateway: reads of every service and, when a
// token is given, article writes whose acknowledged slugs it records.
type load struct {
	attacker *vegeta.Attacker
	done     chan struct{}
	start    time.Time

	mu      sync.Mutex
	sent    int
	failed  int
	codes   map[uint16]int
	errors  map[string]int
	acked   []string // slugs of the articles the API answered 201 for
	writes  int
	samples []string // a few failures, for the report
}

// startLoad attacks gw at rate requests/s until stop: GET /api/tags, GET /api/articles,
// GET / (web), GET /api/user (auth + users) and, with writeToken, POST /api/articles
// (one request in two).
func startLoad(t *testing.T, gw string, rate int, writeToken string) *load {
	t.Helper()
	readToken := register(t, gw)
	reads := []vegeta.Target{
		{Method: http.MethodGet, URL: gw + "/api/tags"},
		{Method: http.MethodGet, URL: gw + "/api/articles?limit=5"},
		{Method: http.MethodGet, URL: gw + "/"},
		{Method: http.MethodGet, URL: gw + "/api/user", Header: http.Header{"Authorization": {"Token " + readToken}}},
	}
	return attack(t, rate, func(i int64, tgt *vegeta.Target) {
		if writeToken != "" && i%2 == 0 {
			title := fmt.Sprintf("cluster write %d %s", i, unique(""))
			body, _ := json.Marshal(map[string]any{"article": map[string]any{
				"title": title, "description": "self-healing under load", "body": "acknowledged writes must survive", "tagList": []string{"cluster"},
			}})
			*tgt = vegeta.Target{Method: http.MethodPost, URL: gw + "/api/articles", Body: body,
				Header: http.Header{"Authorization": {"Token " + writeToken}, "Content-Type": {"application/json"}}}
			return
		}
		*tgt = reads[int(i)%len(reads)]
	})
}

// startBlogReads attacks gw at rate requests/s with reads the blog serves (article lists of
// several pages and sizes, the tags), so the load lands on the blog's pods.
func startBlogReads(t *testing.T, gw string, rate int) *load {
	t.Helper()
	reads := []vegeta.Target{{Method: http.MethodGet, URL: gw + "/api/tags"}}
	for _, q := range []string{"limit=20", "limit=10&offset=10", "limit=5&tag=cluster", "limit=20&offset=20"} {
		reads = append(reads, vegeta.Target{Method: http.MethodGet, URL: gw + "/api/articles?" + q})
	}
	return attack(t, rate, func(i int64, tgt *vegeta.Target) { *tgt = reads[int(i)%len(reads)] })
}

// attack runs a vegeta attack at rate requests/s, next choosing the i-th request, until stop.
func attack(t *testing.T, rate int, next func(i int64, tgt *vegeta.Target)) *load {
	var n atomic.Int64
	targeter := func(tgt *vegeta.Target) error {
		next(n.Add(1), tgt)
		return nil
	}
	l := &load{
		attacker: vegeta.NewAttacker(vegeta.Timeout(10*time.Second), vegeta.KeepAlive(true), vegeta.Workers(8),
			vegeta.MaxWorkers(128), vegeta.MaxBody(1<<20), vegeta.Redirects(vegeta.NoFollow)),
		done:   make(chan struct{}),
		start:  time.Now(),
		codes:  map[uint16]int{},
		errors: map[string]int{},
	}
	results := l.attacker.Attack(vegeta.Targeter(targeter), vegeta.Rate{Freq: rate, Per: time.Second}, 0, t.Name())
	go func() {
		defer close(l.done)
		for r := range results {
			l.add(r)
		}
	}()
	return l
}

func (l *load) add(r *vegeta.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent++
	l.codes[r.Code]++
	write := r.Method == http.MethodPost
	if write {
		l.writes++
	}
	if r.Error != "" || r.Code < 200 || r.Code >= 400 {
		l.failed++
		if r.Error != "" {
			l.errors[r.Error]++
		}
		if len(l.samples) < 10 {
			l.samples = append(l.samples, fmt.Sprintf("%s %s -> %d %s %.200s", r.Method, r.URL, r.Code, r.Error, r.Body))
		}
		return
	}
	if write && r.Code == http.StatusCreated {
		var v struct {
			Article struct {
				Slug string `json:"slug"`
			} `json:"article"`
		}
		if json.Unmarshal(r.Body, &v) == nil && v.Article.Slug != "" {
			l.acked = append(l.acked, v.Article.Slug)
		}
	}
}

// stop ends the attack and waits for the last results.
func (l *load) stop() {
	l.attacker.Stop()
	<-l.done
}

// report logs and records the figures of the attack.
func (l *load) report(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var codes []string
	for c, n := range l.codes {
		codes = append(codes, fmt.Sprintf("%d:%d", c, n))
	}
	sort.Strings(codes)
	figure(t, "load %.0fs: %d requests sent, %d failed (%.3f%%), %d writes, %d acknowledged; codes %s",
		time.Since(l.start).Seconds(), l.sent, l.failed, l.failedRatio()*100, l.writes, len(l.acked), strings.Join(codes, " "))
	for e, n := range l.errors {
		t.Logf("  error x%d: %s", n, e)
	}
	for _, s := range l.samples {
		t.Logf("  failed: %s", s)
	}
}

func (l *load) failedRatio() float64 {
	if l.sent == 0 {
		return 1
	}
	return float64(l.failed) / float64(l.sent)
}

// checkAcknowledged reads back every acknowledged write: none may be lost.
func (l *load) checkAcknowledged(t *testing.T, gw string) {
	t.Helper()
	l.mu.Lock()
	slugs := append([]string(nil), l.acked...)
	l.mu.Unlock()
	require.NotEmpty(t, slugs, "no write was acknowledged")
	lost := 0
	for _, s := range slugs {
		code, _ := apiCall(t, http.MethodGet, gw+"/api/articles/"+s, "", nil)
		if code != http.StatusOK {
			lost++
			t.Logf("acknowledged article %s: GET answered %d", s, code)
		}
	}
	figure(t, "acknowledged writes read back: %d checked, %d lost", len(slugs), lost)
	require.Zero(t, lost, "acknowledged writes lost")
}
