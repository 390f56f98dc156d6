package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

func decodeErrorBody(t *testing.T, body io.Reader) []string {
	t.Helper()
	var eb httpx.ErrorBody
	require.NoError(t, json.NewDecoder(body).Decode(&eb))
	return eb.Errors.Body
}

func TestWriteErrorMapsKindsAndHidesInternals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		msgs   []string
	}{
		{errs.Invalid("title can't be blank", "body can't be blank"), 422, []string{"title can't be blank", "body can't be blank"}},
		{errs.Conflict("username has already been taken"), 422, []string{"username has already been taken"}},
		{errs.NotFound("article"), 404, []string{"article not found"}},
		{errs.Unauthenticated("authentication required"), 401, []string{"authentication required"}},
		{errs.Forbidden("only the author may delete this article"), 403, []string{"only the author may delete this article"}},
		{errs.TooLarge("too big"), 413, []string{"too big"}},
		{errors.New("pq: password authentication failed for user secret"), 500, []string{"internal error"}},
		{errs.Unavailable("users", errors.New("dial tcp 10.0.0.1: refused")), 503, []string{"users is unavailable"}},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		httpx.WriteError(rec, httptest.NewRequest("GET", "/", nil), tt.err)
		require.Equal(t, tt.status, rec.Code, tt.err.Error())
		require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
		body := rec.Body.String()
		require.NotContains(t, body, "secret")
		require.NotContains(t, body, "10.0.0.1")
		require.Equal(t, tt.msgs, decodeErrorBody(t, strings.NewReader(body)))
	}
}

func TestTooManyRequestsSetsRetryAfter(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	httpx.WriteError(rec, httptest.NewRequest("GET", "/", nil), errs.TooManyRequests(1500_000_000))
	require.Equal(t, 429, rec.Code)
	require.Equal(t, "2", rec.Header().Get("Retry-After"))
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	type in struct {
		Article *struct {
			Title   string   `json:"title"`
			TagList []string `json:"tagList"`
		} `json:"article"`
	}
	tests := []struct {
		name, body, ctype, wantMsg string
	}{
		{"ok", `{"article":{"title":"x"}}`, "application/json", ""},
		{"ok charset", `{"article":{"title":"x"}}`, "application/json; charset=utf-8", ""},
		{"no content type", `{"article":{}}`, "", ""},
		{"empty", ``, "application/json", "body can't be empty"},
		{"malformed", `{"article":`, "application/json", "body is not valid JSON"},
		{"trailing", `{} {}`, "application/json", "body must hold a single JSON object"},
		{"wrong type", `{"article":{"title":5}}`, "application/json", "article.title must be a string"},
		{"wrong list", `{"article":{"tagList":"a"}}`, "application/json", "article.tagList must be a list"},
		{"form", `a=b`, "application/x-www-form-urlencoded", "body must be JSON (Content-Type: application/json)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.ctype != "" {
				r.Header.Set("Content-Type", tt.ctype)
			}
			var v in
			err := httpx.DecodeJSON(r, &v)
			if tt.wantMsg == "" {
				require.NoError(t, err)
				return
			}
			var e *errs.Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, errs.KindInvalid, e.Kind)
			require.Equal(t, []string{tt.wantMsg}, e.Messages)
		})
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"article":{"title":"x","tagList":["a"]}}`))
	f.Add([]byte(`{"user":{"email":1}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var v struct {
			Article *struct {
				Title   string   `json:"title"`
				TagList []string `json:"tagList"`
				Count   int      `json:"count"`
			} `json:"article"`
		}
		err := httpx.DecodeJSON(r, &v)
		if err != nil {
			require.Contains(t, []errs.Kind{errs.KindInvalid, errs.KindTooLarge}, errs.KindOf(err), "decode error %v", err)
		}
	})
}

func newInstrumented(t *testing.T, reg *prometheus.Registry, logs *bytes.Buffer, mux *http.ServeMux) http.Handler {
	t.Helper()
	return httpx.Instrument(httpx.InstrumentConfig{
		Logger:  telemetry.NewLogger(logs, new(slog.LevelVar)),
		Metrics: telemetryMetrics(reg), Tracer: noop.NewTracerProvider().Tracer(""),
		Propagator: propagation.TraceContext{},
	}, httpx.LimitBody(16, httpx.Routed(mux)))
}

func TestInstrumentLabelsRoutesRecoversAndLimitsBodies(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	mux := http.NewServeMux()
	mux.Handle("GET /api/articles/{slug}", httpx.Handler(func(w http.ResponseWriter, r *http.Request) error {
		httpx.WriteJSON(w, 200, map[string]string{"slug": r.PathValue("slug")})
		return nil
	}))
	mux.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.Handle("POST /echo", httpx.Handler(func(w http.ResponseWriter, r *http.Request) error {
		var v map[string]any
		if err := httpx.DecodeJSON(r, &v); err != nil {
			return err
		}
		httpx.WriteJSON(w, 200, v)
		return nil
	}))
	h := newInstrumented(t, reg, &logs, mux)

	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/articles/hello", nil)
	req.Header.Set(httpx.RequestIDHeader, "abc-123")
	h.ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	require.Equal(t, "abc-123", rec.Header().Get(httpx.RequestIDHeader))

	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/panic", nil)
	req.Header.Set(httpx.RequestIDHeader, "<script>")
	h.ServeHTTP(rec, req)
	require.Equal(t, 500, rec.Code)
	require.Equal(t, []string{"internal error"}, decodeErrorBody(t, rec.Body))
	require.Len(t, rec.Header().Get(httpx.RequestIDHeader), 24, "an unsafe request ID is replaced")

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/echo", strings.NewReader(`{"a":"0123456789abcdef"}`)))
	require.Equal(t, 413, rec.Code)

	require.Equal(t, 1.0, counterValue(reg, "/api/articles/{slug}", "200"))
	require.Equal(t, 1.0, counterValue(reg, "/panic", "500"))
	require.Contains(t, logs.String(), `"route":"/api/articles/{slug}"`)
	require.Contains(t, logs.String(), `"request_id":"abc-123"`)
}

func TestInProcessTransportServesThroughHandler(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Header.Get("X-Test")+"|"+string(body)+"|"+r.URL.RequestURI())
		w.WriteHeader(http.StatusTeapot)
	})
	c := &http.Client{Transport: httpx.InProcess{Handler: h}}
	req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://svc/x?y=1", strings.NewReader("hi"))
	req.Header.Set("X-Test", "t")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusTeapot, resp.StatusCode)
	require.Equal(t, "t|hi|/x?y=1", resp.Header.Get("X-Seen"))
}

func TestClientMapsStatusesToKinds(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("GET /missing", httpx.Handler(func(http.ResponseWriter, *http.Request) error { return errs.NotFound("user") }))
	mux.Handle("GET /broken", httpx.Handler(func(http.ResponseWriter, *http.Request) error { return errors.New("db down") }))
	mux.Handle("GET /ok", httpx.Handler(func(w http.ResponseWriter, _ *http.Request) error {
		httpx.WriteJSON(w, 200, map[string]int{"n": 7})
		return nil
	}))
	c := httpx.NewClient(httpx.ClientConfig{Service: "users", Transport: httpx.InProcess{Handler: mux},
		Tracer: noop.NewTracerProvider().Tracer(""), Propagator: propagation.TraceContext{}})
	ctx := context.Background()

	var out struct{ N int }
	require.NoError(t, c.Do(ctx, "GET", "/ok", nil, nil, &out))
	require.Equal(t, 7, out.N)

	err := c.Do(ctx, "GET", "/missing", nil, nil, nil)
	require.Equal(t, errs.KindNotFound, errs.KindOf(err))
	err = c.Do(ctx, "GET", "/broken", nil, nil, nil)
	require.Equal(t, errs.KindUnavailable, errs.KindOf(err))

	down := httpx.NewClient(httpx.ClientConfig{Service: "users", BaseURL: "http://127.0.0.1:1",
		Tracer: noop.NewTracerProvider().Tracer(""), Propagator: propagation.TraceContext{}})
	require.Equal(t, errs.KindUnavailable, errs.KindOf(down.Do(ctx, "GET", "/ok", nil, nil, nil)))
}

// A request handed to a service in the same process is one access line (the
// outer one, naming the backend); a call that service makes to another one
// in process is a request of its own and keeps its line.
func TestHandOffWritesOneAccessLine(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	usersMux := http.NewServeMux()
	usersMux.HandleFunc("GET /internal/profiles", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	users := newInstrumented(t, prometheus.NewRegistry(), &logs, usersMux)
	client := &http.Client{Transport: httpx.InProcess{Handler: users}}

	blogMux := http.NewServeMux()
	blogMux.HandleFunc("GET /api/articles", func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://users/internal/profiles", nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		w.WriteHeader(http.StatusOK)
	})
	blog := newInstrumented(t, prometheus.NewRegistry(), &logs, blogMux)

	gwMux := http.NewServeMux()
	gwMux.HandleFunc("GET /api/articles", func(w http.ResponseWriter, r *http.Request) {
		httpx.HandOff(r.Context(), "blog")
		blog.ServeHTTP(w, r)
	})
	gw := newInstrumented(t, prometheus.NewRegistry(), &logs, gwMux)

	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/articles", nil))
	require.Equal(t, http.StatusOK, rec.Code)

	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		if m["msg"] == "request" {
			lines = append(lines, m)
		}
	}
	require.Len(t, lines, 2, "one line for the user's request, one for the internal call: %s", logs.String())
	require.Equal(t, "/internal/profiles", lines[0]["route"])
	require.Equal(t, "/api/articles", lines[1]["route"])
	require.Equal(t, "blog", lines[1]["backend"])
	require.NotContains(t, lines[0], "backend")
}
