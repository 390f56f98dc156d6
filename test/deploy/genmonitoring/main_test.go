package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// TestGeneratedIsCurrent fails when the monitoring component's copies of the dashboards
// and rules differ from deploy/observability/ (run `go generate ./test/deploy/...`).
func TestGeneratedIsCurrent(t *testing.T) {
	repo, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(repo)
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range want {
		got, err := os.ReadFile(filepath.Join(repo, p))
		if err != nil {
			t.Errorf("%s: %v (run go generate ./test/deploy/...)", p, err)
			continue
		}
		if !bytes.Equal(got, b) {
			t.Errorf("%s differs from its source in deploy/observability (run go generate ./test/deploy/...)", p)
		}
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
	for _, e := range extra {
		t.Errorf("%s is not generated from deploy/observability: remove it (go generate ./test/deploy/...)", e)
	}
}
