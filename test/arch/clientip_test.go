package arch

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readsForwardedFor matches code that reads a forwarded-address header (to
// pick a client address from it), as opposed to writing one.
var readsForwardedFor = regexp.MustCompile(`\.(Get|Values)\("(?i:x-forwarded-for|x-real-ip|forwarded)"\)`)

// Where reading those headers is allowed: httpx.ClientIP, the one trust rule,
// and the admin listener's operator check, which only refuses a request that
// carries them.
var forwardedReaders = map[string]bool{
	"internal/platform/httpx/middleware.go": true,
	"internal/app/server.go":                true,
}

// TestOneClientIPFunction guards that every listener takes the client
// address from httpx.ClientIP: no other code derives one from forwarded
// headers with a trust rule of its own.
func TestOneClientIPFunction(t *testing.T) {
	t.Parallel()
	var found, realIPWriters []string
	seenClientIP := false
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "test-artifacts" || strings.HasPrefix(d.Name(), ".") && d.Name() != ".." && d.Name() != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../..", path)
		rel = filepath.ToSlash(rel)
		src := string(b)
		if rel == "internal/platform/httpx/middleware.go" {
			seenClientIP = strings.Contains(src, "func ClientIP(r *http.Request, trusted []*net.IPNet) string")
		}
		if readsForwardedFor.MatchString(src) && !forwardedReaders[rel] {
			found = append(found, rel)
		}
		// httpx.SetForwarded deletes it from what a client sent.
		if mentionsRealIP.MatchString(src) && rel != "internal/platform/httpx/middleware.go" {
			realIPWriters = append(realIPWriters, rel)
		}
		return nil
	})
	require.NoError(t, err)
	require.True(t, seenClientIP, "httpx.ClientIP moved: update this guard")
	require.Empty(t, found, "these files read forwarded headers: take the client address from httpx.ClientIP")
	require.Empty(t, realIPWriters, "these files send X-Real-IP, which no listener reads: name the client in X-Forwarded-For as the gateway does")
}

// mentionsRealIP matches X-Real-IP in any casing. Nothing reads it, so a
// service that sends it to another (to name the client) names nobody, and
// the callee counts the caller's address instead.
var mentionsRealIP = regexp.MustCompile(`"(?i:x-real-ip)"`)

func TestForwardedPattern(t *testing.T) {
	t.Parallel()
	for src, want := range map[string]bool{
		`r.Header.Get("X-Forwarded-For")`:  true,
		`r.Header.Values("x-real-ip")`:     true,
		`h.Set("X-Forwarded-For", ip)`:     false,
		`ip := httpx.ClientIP(r, trusted)`: false,
		`r.Header.Get("Forwarded")`:        true,
	} {
		require.Equal(t, want, readsForwardedFor.MatchString(src), src)
	}
}
