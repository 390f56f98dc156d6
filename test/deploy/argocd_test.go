package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

type argoApp struct {
	Metadata struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Project string `json:"project"`
		Source  struct {
			RepoURL string `json:"repoURL"`
			Path    string `json:"path"`
		} `json:"source"`
		SyncPolicy struct {
			Automated *struct {
				Prune    bool `json:"prune"`
				SelfHeal bool `json:"selfHeal"`
			} `json:"automated"`
		} `json:"syncPolicy"`
	} `json:"spec"`
}

// argoObjects returns deploy/argocd rendered plus the files it does not include (root, dev).
func argoObjects(t *testing.T) []*unstructured.Unstructured {
	root := repoRoot(t)
	objs := append([]*unstructured.Unstructured{}, render(t, filepath.Join(root, "deploy/argocd")).objects...)
	for _, f := range []string{"deploy/argocd/root.yaml", "deploy/argocd/apps/tungsten-dev.yaml"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, yaml.Unmarshal(b, &m), "%s", f)
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	return objs
}

// TestArgoCD: every Application syncs automatically with prune and self-heal, belongs to
// a project that exists, and points at a path of this repository that renders.
func TestArgoCD(t *testing.T) {
	gate(t)
	root := repoRoot(t)
	objs := argoObjects(t)
	// Kept for the server-side dry run of scripts/test-deploy.sh, next to the overlays.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "test-artifacts", "deploy"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "test-artifacts", "deploy", "argocd.yaml"), render(t, filepath.Join(root, "deploy/argocd")).yaml, 0o644))
	projects := map[string]bool{"default": true}
	for _, o := range objs {
		_, ok := crdKinds[o.GroupVersionKind()]
		assert.True(t, ok, "deploy/argocd: %s is not a known Argo CD kind", id(o))
		if o.GetKind() == "AppProject" {
			projects[o.GetName()] = true
		}
	}
	apps := 0
	for _, o := range objs {
		if o.GetKind() != "Application" {
			continue
		}
		apps++
		var a argoApp
		fromUnstructured(t, o, &a)
		assert.True(t, projects[a.Spec.Project], "Application %s: project %s does not exist", a.Metadata.Name, a.Spec.Project)
		auto := a.Spec.SyncPolicy.Automated
		assert.True(t, auto != nil && auto.Prune && auto.SelfHeal, "Application %s: needs automated sync with prune and selfHeal", a.Metadata.Name)
		assert.True(t, strings.HasSuffix(a.Spec.Source.RepoURL, "tungsten-blog/tungsten.git"),
			"Application %s: repoURL %s is not this repository", a.Metadata.Name, a.Spec.Source.RepoURL)
		r := render(t, filepath.Join(root, a.Spec.Source.Path))
		assert.NotEmpty(t, r.objects, "Application %s: %s renders nothing", a.Metadata.Name, a.Spec.Source.Path)
	}
	assert.GreaterOrEqual(t, apps, 3, "Applications: want root, production and dev")
}
