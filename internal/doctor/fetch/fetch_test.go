package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func server(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestGetReturnsTheBodyOfAnAcceptedStatus(t *testing.T) {
	body, err := Get(context.Background(), http.DefaultClient, server(t, http.StatusOK, `{"ok":true}`), "prometheus", 64)
	require.NoError(t, err)
	require.Equal(t, `{"ok":true}`, string(body))

	// a bad query's JSON error is the decoder's to report
	body, err = Get(context.Background(), http.DefaultClient, server(t, http.StatusBadRequest, `{"error":"parse"}`), "jaeger", 64, http.StatusBadRequest)
	require.NoError(t, err)
	require.Equal(t, `{"error":"parse"}`, string(body))
}

func TestGetRefusesOtherStatuses(t *testing.T) {
	_, err := Get(context.Background(), http.DefaultClient, server(t, http.StatusBadGateway, "down"), "victorialogs", 64, http.StatusBadRequest)
	require.EqualError(t, err, "victorialogs: HTTP 502")
}

func TestAnAnswerOverTheLimitIsAnErrorNotACutBody(t *testing.T) {
	u := server(t, http.StatusOK, strings.Repeat("x", 65))
	_, err := Get(context.Background(), http.DefaultClient, u, "jaeger", 64)
	require.EqualError(t, err, "jaeger response over 64 bytes")

	body, err := Get(context.Background(), http.DefaultClient, server(t, http.StatusOK, strings.Repeat("x", 64)), "jaeger", 64)
	require.NoError(t, err)
	require.Len(t, body, 64)
}

func TestReadReportsAnUnreachableSource(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	_, _, err = Read(http.DefaultClient, req, "prometheus", 64)
	require.ErrorContains(t, err, "querying prometheus: ")
}
