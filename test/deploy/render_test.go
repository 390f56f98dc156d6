package deploy

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// gate skips unless TUNGSTEN_DEPLOY_TEST is set (scripts/test-deploy.sh sets it), like
// test/observability: `go test ./...` stays fast, make test-deploy runs everything.
func gate(t *testing.T) {
	t.Helper()
	if os.Getenv("TUNGSTEN_DEPLOY_TEST") == "" {
		t.Skip("deployment validation: run scripts/test-deploy.sh (make test-deploy), or set TUNGSTEN_DEPLOY_TEST=1")
	}
}

func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "go.mod not found")
		dir = parent
	}
}

// kustomizations lists every directory CI renders: the overlays and tests/ combinations.
func kustomizations(t testing.TB) []string {
	t.Helper()
	root := filepath.Join(repoRoot(t), "deploy", "kubernetes")
	var dirs []string
	for _, parent := range []string{"overlays", "tests"} {
		entries, err := os.ReadDir(filepath.Join(root, parent))
		require.NoError(t, err)
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, filepath.Join(root, parent, e.Name()))
			}
		}
	}
	sort.Strings(dirs)
	require.GreaterOrEqual(t, len(dirs), 2, "expected overlays and tests under %s, found %v", root, dirs)
	return dirs
}

// rendered is one kustomization's output: the YAML stream and the objects in it.
type rendered struct {
	name    string // e.g. overlays/production
	yaml    []byte
	objects []*unstructured.Unstructured
}

var (
	renderMu    sync.Mutex
	renderCache = map[string]*rendered{}
)

// render builds dir with the kustomize Go API (default options: no `../` outside the
// root, no plugins), caching the result for the other tests.
func render(t testing.TB, dir string) *rendered {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if r, ok := renderCache[dir]; ok {
		return r
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resMap, err := k.Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err, "kustomize build %s", dir)
	out, err := resMap.AsYaml()
	require.NoError(t, err, "kustomize build %s", dir)
	r := &rendered{name: relName(dir), yaml: out}
	for _, doc := range splitYAML(out) {
		var m map[string]any
		require.NoError(t, yaml.Unmarshal(doc, &m), "%s: rendered YAML does not parse", r.name)
		if m == nil {
			continue
		}
		r.objects = append(r.objects, &unstructured.Unstructured{Object: m})
	}
	renderCache[dir] = r
	return r
}

func relName(dir string) string {
	i := strings.Index(filepath.ToSlash(dir), "deploy/kubernetes/")
	if i < 0 {
		return dir
	}
	return filepath.ToSlash(dir)[i+len("deploy/kubernetes/"):]
}

func splitYAML(b []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}

func id(o *unstructured.Unstructured) string {
	return fmt.Sprintf("%s/%s %s", o.GetAPIVersion(), o.GetKind(), o.GetName())
}

// TestRender renders every overlay and tests/ combination and writes the output to
// test-artifacts/deploy/<name>.yaml (the input of the server-side dry run, if run).
func TestRender(t *testing.T) {
	gate(t)
	art := filepath.Join(repoRoot(t), "test-artifacts", "deploy")
	require.NoError(t, os.MkdirAll(art, 0o755))
	for _, dir := range kustomizations(t) {
		r := render(t, dir)
		assert.NotEmpty(t, r.objects, "%s renders nothing", r.name)
		file := filepath.Join(art, strings.ReplaceAll(r.name, "/", "_")+".yaml")
		require.NoError(t, os.WriteFile(file, r.yaml, 0o644))
		t.Logf("%s: %d objects -> %s", r.name, len(r.objects), file)
	}
}
