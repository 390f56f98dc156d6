package blog_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// doKeyed is ts.do with an Idempotency-Key.
func (ts *testService) doKeyed(method, path, token, key string, body any) response {
	ts.t.Helper()
	buf, err := json.Marshal(body)
	require.NoError(ts.t, err)
	req := httptest.NewRequest(method, path, bytes.NewReader(buf))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Token "+token)
	req.Header.Set("Idempotency-Key", key)
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	require.NoError(ts.t, json.Unmarshal(rec.Body.Bytes(), &res.body), "answer %q", rec.Body.String())
	return res
}

// A client that retries a POST after a timeout or a 5xx, with the same
// Idempotency-Key, gets the first response and no second article or comment
// (ADR 0013).
func TestIdempotencyKeyReplaysWrites(t *testing.T) {
	t.Parallel()
	ts := newTestService(t)
	jake := ts.tokens.user(t, 1, "jake")
	anne := ts.tokens.user(t, 2, "anne")

	first := ts.doKeyed("POST", "/api/articles", jake, "retry-1", newArticle("Retried once")).want(t, http.StatusCreated)
	require.Empty(t, first.header.Get("Idempotent-Replayed"))
	again := ts.doKeyed("POST", "/api/articles", jake, "retry-1", newArticle("Retried once")).want(t, http.StatusCreated)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Equal(t, first.raw, again.raw, "the replay is the first response, byte for byte")
	require.Equal(t, 1, ts.do("GET", "/api/articles?author=jake", "", nil).want(t, http.StatusOK).count())

	// The same key for another request is refused, not answered with the first one's response.
	ts.doKeyed("POST", "/api/articles", jake, "retry-1", newArticle("Something else")).
		wantError(t, http.StatusUnprocessableEntity, "Idempotency-Key was already used for a different request")

	// Keys are per user: anne's "retry-1" is hers.
	ts.doKeyed("POST", "/api/articles", anne, "retry-1", newArticle("Retried once")).want(t, http.StatusCreated)
	require.Equal(t, 1, ts.do("GET", "/api/articles?author=anne", "", nil).want(t, http.StatusOK).count())

	// Bad keys: a clear 422, nothing written.
	for _, key := range []string{strings.Repeat("k", 129), "has space", "tab\there", "é"} {
		ts.doKeyed("POST", "/api/articles", jake, key, newArticle("Bad key "+key)).
			wantError(t, http.StatusUnprocessableEntity, "Idempotency-Key must be 1 to 128 visible ASCII characters")
	}
	require.Equal(t, 1, ts.do("GET", "/api/articles?author=jake", "", nil).want(t, http.StatusOK).count())

	// Comments, the same.
	slug := first.article()["slug"].(string)
	body := map[string]any{"comment": map[string]any{"body": "first!"}}
	c1 := ts.doKeyed("POST", "/api/articles/"+slug+"/comments", anne, "c-1", body).want(t, http.StatusOK)
	c2 := ts.doKeyed("POST", "/api/articles/"+slug+"/comments", anne, "c-1", body).want(t, http.StatusOK)
	require.Equal(t, c1.raw, c2.raw)
	require.Equal(t, "true", c2.header.Get("Idempotent-Replayed"))
	cs := ts.do("GET", "/api/articles/"+slug+"/comments", "", nil).want(t, http.StatusOK)
	require.Len(t, cs.body["comments"], 1)

	// Without a key, nothing changes: two POSTs, two articles.
	ts.do("POST", "/api/articles", jake, newArticle("Twice")).want(t, http.StatusCreated)
	ts.do("POST", "/api/articles", jake, newArticle("Twice")).want(t, http.StatusCreated)
	require.Equal(t, 3, ts.do("GET", "/api/articles?author=jake", "", nil).want(t, http.StatusOK).count())
}
