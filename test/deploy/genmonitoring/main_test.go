package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGeneratedIsCurrent fails when the monitoring component's copies of the dashboards
// and rules differ from deploy/observability/ (run `go generate ./test/deploy/...`).
func TestGeneratedIsCurrent(t *testing.T) {
	repo, err := repoRoot()
	require.NoError(t, err)
	want, err := Generate(repo)
	require.NoError(t, err)
	for p, b := range want {
		got, err := os.ReadFile(filepath.Join(repo, p))
		if !assert.NoError(t, err, "%s (run go generate ./test/deploy/...)", p) {
			continue
		}
		assert.True(t, bytes.Equal(got, b), "%s differs from its source in deploy/observability (run go generate ./test/deploy/...)", p)
	}
	// Nothing stale: every file in the output directory is one the generator writes.
	var extra []string
	_ = filepath.WalkDir(filepath.Join(repo, outDir), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(repo, path)
			if _, ok := want[filepath.ToSlash(rel)]; !ok {
				extra = append(extra, rel)
			}
		}
		return nil
	})
	sort.Strings(extra)
	assert.Empty(t, extra, "not generated from deploy/observability: remove them (go generate ./test/deploy/...)")
}
