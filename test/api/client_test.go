package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var httpClient = &http.Client{Timeout: 15 * time.Second}

// cacheStaleness is the documented bound (--blog.cache-staleness, ADR 0012)
// within which everyone sees a write; its writer sees it at once.
const cacheStaleness = time.Second

// withinStaleness waits for cond, which a write made true for its writer,
// to hold for everyone: it must within the staleness bound (the slack is
// for the requests themselves on a busy machine).
func withinStaleness(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, cacheStaleness+time.Second, 20*time.Millisecond, "waiting for %s", what)
}

// resp is a decoded answer.
type resp struct {
	Status int
	Header http.Header
	Raw    []byte
	JSON   map[string]any
}

// call sends a request; body may be a string (sent as is) or a value
// (encoded as JSON). token may be empty.
func call(t *testing.T, method, path, token string, body any, headers ...string) resp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, baseURL+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := httpClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	checkContract(t, req, res.StatusCode, res.Header, raw)
	r := resp{Status: res.StatusCode, Header: res.Header, Raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &r.JSON), "body: %s", raw)
	}
	return r
}

// expect asserts the status and, for errors, the RealWorld error shape.
func (r resp) expect(t *testing.T, status int) resp {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Raw)
	if status >= 400 {
		require.Contains(t, r.Header.Get("Content-Type"), "application/json", "errors are JSON")
		errsObj, ok := r.JSON["errors"].(map[string]any)
		require.True(t, ok, "error shape {\"errors\":{\"body\":[...]}}: %s", r.Raw)
		list, ok := errsObj["body"].([]any)
		require.True(t, ok && len(list) > 0, "error messages: %s", r.Raw)
	}
	return r
}

// messages returns the error messages joined, for assertions.
func (r resp) messages() string {
	e, _ := r.JSON["errors"].(map[string]any)
	list, _ := e["body"].([]any)
	var out []string
	for _, m := range list {
		s, _ := m.(string)
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

func (r resp) obj(key string) map[string]any {
	m, _ := r.JSON[key].(map[string]any)
	return m
}

func (r resp) list(key string) []map[string]any {
	arr, _ := r.JSON[key].([]any)
	out := make([]map[string]any, 0, len(arr))
	for _, v := range arr {
		m, _ := v.(map[string]any)
		out = append(out, m)
	}
	return out
}

func unique(prefix string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

type user struct {
	Username, Email, Password, Token string
}

func register(t *testing.T) user {
	t.Helper()
	u := user{Username: unique("u"), Password: "correct horse battery"}
	u.Email = u.Username + "@example.com"
	r := call(t, "POST", "/api/users", "", map[string]any{"user": map[string]string{
		"username": u.Username, "email": u.Email, "password": u.Password,
	}}).expect(t, 201)
	u.Token, _ = r.obj("user")["token"].(string)
	require.NotEmpty(t, u.Token)
	return u
}

func createArticle(t *testing.T, u user, fields map[string]any) map[string]any {
	t.Helper()
	a := map[string]any{"title": unique("Title "), "description": "desc", "body": "body text"}
	for k, v := range fields {
		a[k] = v
	}
	r := call(t, "POST", "/api/articles", u.Token, map[string]any{"article": a}).expect(t, 201)
	return r.obj("article")
}
