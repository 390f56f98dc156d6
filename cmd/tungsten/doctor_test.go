package main

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/doctor/triage"
)

func TestDoctorHelpAndReadmeListEveryFlag(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI("doctor", "--help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Exit status: 0 no culprit, 1 a culprit was named, 2 the doctor could not run")
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var cfg triage.Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		require.Regexp(t, "(?m)^  --"+regexp.QuoteMeta(f.Name)+"( |$)", out, "flag %s", f.Name)
		row := "| `--" + f.Name + "` | `" + f.DefValue + "` |"
		require.Contains(t, string(readme), row, "README's doctor table lacks --%s (or shows another default)", f.Name)
	})
	_, out, _ = runCLI("help")
	require.Contains(t, out, "tungsten doctor")
}

func TestDoctorRejectsBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--output", "xml"}, "want text or json"},
		{[]string{"--window", "1s"}, "want between 10s and 24h"},
		{[]string{"--prometheus-url", "localhost:9090"}, "want an http(s):// URL"},
		{[]string{"--admin-urls", "users=localhost:9092"}, "want http(s)://host:port"},
		{[]string{"--no-kube"}, "nothing to consult"},
		{[]string{"extra"}, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := runCLI(append([]string{"doctor"}, tc.args...)...)
			require.Equal(t, 2, code)
			require.Contains(t, errOut, tc.want)
		})
	}
}

// The exit status says what the doctor found: 1 and the culprit for a
// process that is not ready, 0 for a healthy one, 2 when nothing answers.
func TestDoctorExitStatus(t *testing.T) {
	t.Parallel()
	readyz := func(code int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	bad := readyz(http.StatusServiceUnavailable, `{"status":"not ready","reason":"redis: connection refused","modules":["auth"]}`)
	code, out, _ := runCLI("doctor", "--no-kube", "--admin-urls", bad, "--output", "json")
	require.Equal(t, 1, code)
	var rep triage.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, "auth", rep.Verdict.Component)

	good := readyz(http.StatusOK, `{"status":"ready","modules":["gateway","auth","users","blog","web"]}`)
	code, out, _ = runCLI("doctor", "--no-kube", "--admin-urls", good)
	require.Equal(t, 0, code)
	require.Contains(t, out, "verdict: no culprit")

	code, _, errOut := runCLI("doctor", "--no-kube", "--prometheus-url", "http://127.0.0.1:1", "--timeout", "2s")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "no source could be consulted")
}
