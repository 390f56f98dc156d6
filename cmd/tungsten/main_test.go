package main

import (
	"bytes"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/app"
	"github.com/tungsten-blog/tungsten/internal/loadgen"
	"github.com/tungsten-blog/tungsten/internal/platform/config"
)

func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelpListsEveryFlagWithItsEnvironmentVariable(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI("serve", "--help")
	require.Equal(t, 0, code)
	var cfg app.Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		require.Regexp(t, "(?m)^  --"+regexp.QuoteMeta(f.Name)+"( |$)", out, "flag %s", f.Name)
		require.Contains(t, out, config.EnvName(f.Name), "flag %s", f.Name)
	})
	for _, name := range []string{"--http-addr", "--admin-addr", "--data-dir", "--target", "--print-config", "--verify-config"} {
		require.Contains(t, out, name)
	}
	require.Contains(t, out, `default ":8080"`)
	require.Contains(t, out, `default "127.0.0.1:9090"`)
	require.Contains(t, out, `default "./data"`)
}

func TestVerifyConfig(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI("serve", "--verify-config", "--data-dir", t.TempDir())
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "configuration is valid")
	require.Contains(t, out, "gateway")

	code, _, errOut = runCLI("serve", "--verify-config", "--target=gateway")
	require.Equal(t, 2, code)
	for _, f := range []string{"--auth-url", "--users-url", "--blog-url", "--web-url"} {
		require.Contains(t, errOut, f)
	}

	code, out, errOut = runCLI("migrate", "--verify-config", "--target=blog", "--postgres-url=postgres://db/x")
	require.Equal(t, 0, code, "migrating needs no neighbour URLs: %s", errOut)
	require.Contains(t, out, "blog")

	code, _, errOut = runCLI("serve", "--verify-config", "--target=gateway,auth,users,blog,web")
	require.Equal(t, 0, code, errOut)

	code, _, errOut = runCLI("serve", "--verify-config", "--target=database")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown target "database"`)

	code, _, errOut = runCLI("serve", "--verify-config", "--auth.token-ttl=200h")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--auth.token-ttl must be shorter than the event streams' retention", "revocations are replayed from the stream")

	code, _, errOut = runCLI("serve", "--verify-config", "--log-level=loud")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "--log-level")
}

func TestEnvironmentConfiguresAndCommandLineWins(t *testing.T) {
	t.Setenv("TUNGSTEN_HTTP_ADDR", "127.0.0.1:7000")
	t.Setenv("TUNGSTEN_POSTGRES_URL", "postgres://app:s3cret@db:5432/tungsten")
	code, out, errOut := runCLI("serve", "--print-config", "--admin-addr=127.0.0.1:7001")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "http-addr=127.0.0.1:7000\n")
	require.Contains(t, out, "admin-addr=127.0.0.1:7001\n")
	require.NotContains(t, out, "s3cret", "secrets are redacted")
	require.Contains(t, out, "postgres-url=postgres://app:REDACTED@db:5432/tungsten")

	t.Setenv("TUNGSTEN_DRAIN_DELAY", "soon")
	code, _, errOut = runCLI("serve", "--verify-config")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "TUNGSTEN_DRAIN_DELAY")
}

func TestCommands(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI("version")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(out, "tungsten "))

	code, _, errOut := runCLI("frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, `unknown command "frobnicate"`)

	code, _, errOut = runCLI()
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "tungsten serve")

	code, _, errOut = runCLI("serve", "extra")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "unexpected argument")

	code, _, _ = runCLI("serve", "--no-such-flag")
	require.Equal(t, 2, code)
}

// The README's configuration table must list every flag, so it cannot drift
// from --help.
func TestReadmeDocumentsEveryFlag(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var cfg app.Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	fs.VisitAll(func(f *flag.Flag) {
		row := "| `--" + f.Name + "` | `" + config.EnvName(f.Name) + "` |"
		require.True(t, strings.Contains(string(readme), row), "README's configuration table lacks --%s", f.Name)
	})
}

func loadtestFlags() *flag.FlagSet {
	var cfg loadgen.Config
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cfg.RegisterFlags(fs)
	return fs
}

func TestLoadtestHelpAndReadmeListEveryFlag(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI("loadtest", "--help")
	require.Equal(t, 0, code)
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	loadtestFlags().VisitAll(func(f *flag.Flag) {
		require.Regexp(t, "(?m)^  --"+regexp.QuoteMeta(f.Name)+"( |$)", out, "flag %s", f.Name)
		row := "| `--" + f.Name + "` | `" + f.DefValue + "` |"
		require.Contains(t, string(readme), row, "README's loadtest table lacks --%s (or shows another default)", f.Name)
	})
	_, out, _ = runCLI("help")
	require.Contains(t, out, "tungsten loadtest")
}

func TestLoadtestRejectsBadFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--url", "ftp://x"}, "is not an http(s) URL"},
		{[]string{"--rate", "0"}, "--rate or --workers must be positive"},
		{[]string{"--scenario", "list=1,nope=2"}, `unknown scenario "nope"`},
		{[]string{"--seed-users", "1"}, "users must be at least 2"},
		{[]string{"--output", "xml"}, "want text or json"},
		{[]string{"--duration", "0s"}, "--duration must be positive"},
		{[]string{"extra"}, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, _, errOut := runCLI(append([]string{"loadtest"}, tc.args...)...)
			require.Equal(t, 2, code)
			require.Contains(t, errOut, tc.want)
		})
	}
}

// A run against a port nobody listens on fails (exit 1) with a message, it
// does not hang or report success.
func TestLoadtestAgainstNothingFails(t *testing.T) {
	t.Parallel()
	code, _, errOut := runCLI("loadtest", "--url", "http://127.0.0.1:1", "--duration", "1s", "--timeout", "2s")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "tungsten loadtest:")
}

func TestRebuildReadModelCommand(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI("rebuild-read-model", "--data-dir", t.TempDir(), "--log-level=error")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "blog read model rebuilt: 0 authors, 0 follows")

	code, _, errOut = runCLI("rebuild-read-model", "--target=blog", "--postgres-url=postgres://db/x")
	require.Equal(t, 2, code, "the snapshot needs the users service: %s", errOut)
	require.Contains(t, errOut, "--users-url")
}
