package config

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEnvName(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"http-addr":           "TUNGSTEN_HTTP_ADDR",
		"blog.list-cache-ttl": "TUNGSTEN_BLOG_LIST_CACHE_TTL",
		"target":              "TUNGSTEN_TARGET",
	}
	for in, want := range tests {
		require.Equal(t, want, EnvName(in), in)
	}
}

func TestApplyEnvCommandLineWins(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	addr := fs.String("http-addr", ":8080", "")
	ttl := fs.Duration("blog.ttl", time.Second, "")
	other := fs.String("other", "x", "")
	require.NoError(t, fs.Parse([]string{"--http-addr=:1"}))
	env := map[string]string{"TUNGSTEN_HTTP_ADDR": ":2", "TUNGSTEN_BLOG_TTL": "5s"}
	require.NoError(t, ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	require.Equal(t, ":1", *addr)
	require.Equal(t, 5*time.Second, *ttl)
	require.Equal(t, "x", *other)
}

func TestApplyEnvRejectsBadValue(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Duration("drain-delay", time.Second, "")
	require.NoError(t, fs.Parse(nil))
	err := ApplyEnv(fs, func(k string) (string, bool) { return "soon", k == "TUNGSTEN_DRAIN_DELAY" })
	require.ErrorContains(t, err, "TUNGSTEN_DRAIN_DELAY")
}

func TestPrintValuesRedactsSecrets(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("postgres-url", "postgres://app:hunter2@db/x", "")
	fs.String("auth.signing-key", "abc", "")
	var buf bytes.Buffer
	PrintValues(&buf, fs)
	require.NotContains(t, buf.String(), "hunter2")
	require.NotContains(t, buf.String(), "abc")
	require.True(t, strings.Contains(buf.String(), "postgres://app:REDACTED@db/x"), buf.String())
}

func TestStringList(t *testing.T) {
	t.Parallel()
	var l StringList
	require.NoError(t, l.Set(" a, b,,c "))
	require.Equal(t, StringList{"a", "b", "c"}, l)
	require.Equal(t, "a,b,c", l.String())
}
