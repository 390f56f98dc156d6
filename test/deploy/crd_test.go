package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// crdSources are the CRD YAMLs of each project, taken from its Go module through the
// module proxy (`go mod download`, cached in GOMODCACHE, outside the repository).
// Versions: the newest whose go directive this toolchain accepts.
var crdSources = map[string]struct {
	module string
	files  []string
}{
	"istio":               {"istio.io/api@v1.31.1", []string{"kubernetes/customresourcedefinitions.gen.yaml"}},
	"prometheus-operator": {"github.com/prometheus-operator/prometheus-operator@v0.85.0", []string{"example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml", "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"}},
	"argo-rollouts":       {"github.com/argoproj/argo-rollouts@v1.9.0", []string{"manifests/crds/rollout-crd.yaml", "manifests/crds/analysis-template-crd.yaml"}},
	"argo-cd":             {"github.com/argoproj/argo-cd/v3@v3.2.0", []string{"manifests/crds/application-crd.yaml", "manifests/crds/appproject-crd.yaml"}},
}

type crdSchema map[string]any

// loadCRDSchemas returns the openAPIV3Schema of every served version of every CRD of crdSources.
func loadCRDSchemas(t *testing.T) map[schema.GroupVersionKind]crdSchema {
	out := map[schema.GroupVersionKind]crdSchema{}
	projects := make([]string, 0, len(crdSources))
	for p := range crdSources {
		projects = append(projects, p)
	}
	sort.Strings(projects)
	for _, p := range projects {
		src := crdSources[p]
		cmd := exec.Command("go", "mod", "download", "-json", src.module)
		cmd.Dir = t.TempDir() // outside the main module: no go.mod changes
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
		b, err := cmd.Output()
		var info struct{ Dir, Error string }
		require.NoError(t, err, "%s CRDs: go mod download %s: %s", p, src.module, b)
		require.NoError(t, json.Unmarshal(b, &info), "%s CRDs: go mod download %s: %s", p, src.module, b)
		require.Empty(t, info.Error, "%s CRDs: go mod download %s", p, src.module)
		require.NotEmpty(t, info.Dir, "%s CRDs: go mod download %s: %s", p, src.module, b)
		for _, f := range src.files {
			data, err := os.ReadFile(filepath.Join(info.Dir, f))
			require.NoError(t, err, "%s CRDs", p)
			for _, doc := range splitYAML(data) {
				var crd struct {
					Kind string `json:"kind"`
					Spec struct {
						Group string `json:"group"`
						Names struct {
							Kind string `json:"kind"`
						} `json:"names"`
						Versions []struct {
							Name   string `json:"name"`
							Served bool   `json:"served"`
							Schema struct {
								OpenAPIV3Schema crdSchema `json:"openAPIV3Schema"`
							} `json:"schema"`
						} `json:"versions"`
					} `json:"spec"`
				}
				require.NoError(t, yaml.Unmarshal(doc, &crd), "%s: %s", p, f)
				if crd.Kind != "CustomResourceDefinition" {
					continue
				}
				for _, v := range crd.Spec.Versions {
					if v.Served && v.Schema.OpenAPIV3Schema != nil {
						out[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}] = v.Schema.OpenAPIV3Schema
					}
				}
			}
		}
	}
	return out
}

// validateSchema checks v against a structural CRD schema the way the API server's
// strict field validation does: types, int-or-string, enums, required fields, and
// unknown fields (unless x-kubernetes-preserve-unknown-fields). CEL rules
// (x-kubernetes-validations) are not evaluated.
func validateSchema(path string, v any, s crdSchema, errs *[]string) {
	if s == nil {
		return
	}
	fail := func(format string, args ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, args...)) }
	if v == nil {
		if n, _ := s["nullable"].(bool); !n {
			fail("null is not allowed")
		}
		return
	}
	if ios, _ := s["x-kubernetes-int-or-string"].(bool); ios {
		switch v.(type) {
		case string, float64, int64, int:
		default:
			fail("must be an integer or a string")
		}
		return
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			fail("%v is not one of %v", v, enum)
		}
	}
	preserve, _ := s["x-kubernetes-preserve-unknown-fields"].(bool)
	switch typ, _ := s["type"].(string); typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			fail("must be an object")
			return
		}
		props, _ := s["properties"].(map[string]any)
		for _, r := range asSlice(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				fail("required field %s is missing", r)
			}
		}
		for k, val := range m {
			if path == "" && (k == "apiVersion" || k == "kind" || k == "metadata") {
				continue
			}
			if ps, ok := props[k].(map[string]any); ok {
				validateSchema(path+"."+k, val, ps, errs)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case map[string]any:
				validateSchema(path+"."+k, val, ap, errs)
				continue
			case bool:
				if ap {
					continue
				}
			}
			if !preserve {
				fail("unknown field %q", k)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			fail("must be an array")
			return
		}
		items, _ := s["items"].(map[string]any)
		for i, e := range a {
			validateSchema(fmt.Sprintf("%s[%d]", path, i), e, items, errs)
		}
	case "string":
		if _, ok := v.(string); !ok {
			fail("must be a string, got %T", v)
		}
	case "integer":
		switch n := v.(type) {
		case int64, int:
		case float64:
			if n != float64(int64(n)) {
				fail("must be an integer")
			}
		default:
			fail("must be an integer, got %T", v)
		}
	case "number":
		switch v.(type) {
		case int64, int, float64:
		default:
			fail("must be a number, got %T", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			fail("must be a boolean, got %T", v)
		}
	}
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// TestCustomResourcesMatchCRDSchemas validates every rendered custom resource (and the
// Argo CD objects) against the CRD schema published by its project.
func TestCustomResourcesMatchCRDSchemas(t *testing.T) {
	gate(t)
	schemas := loadCRDSchemas(t)
	for gvk := range crdKinds {
		assert.NotNil(t, schemas[gvk], "no CRD schema for %s in %v", gvk, crdSources)
	}
	check := func(where string, objs []map[string]any, ids []string) {
		for i, o := range objs {
			gv, _ := schema.ParseGroupVersion(fmt.Sprint(o["apiVersion"]))
			s := schemas[gv.WithKind(fmt.Sprint(o["kind"]))]
			if s == nil {
				continue
			}
			var errs []string
			// Round-trip through JSON so numbers look like the API server sees them.
			b, _ := json.Marshal(o)
			var v map[string]any
			_ = json.Unmarshal(b, &v)
			validateSchema("", v, s, &errs)
			for _, e := range errs {
				assert.Fail(t, "invalid custom resource", "%s: %s: %s", where, ids[i], strings.TrimPrefix(e, "."))
			}
		}
	}
	for _, dir := range kustomizations(t) {
		r := render(t, dir)
		var objs []map[string]any
		var ids []string
		for _, o := range r.objects {
			objs, ids = append(objs, o.Object), append(ids, id(o))
		}
		check(r.name, objs, ids)
	}
	var objs []map[string]any
	var ids []string
	for _, o := range argoObjects(t) {
		objs, ids = append(objs, o.Object), append(ids, id(o))
	}
	check("deploy/argocd", objs, ids)
}

// TestSchemaValidatorRejects proves validateSchema catches unknown fields and bad types.
func TestSchemaValidatorRejects(t *testing.T) {
	s := crdSchema{"type": "object", "properties": map[string]any{
		"spec": map[string]any{"type": "object", "properties": map[string]any{
			"port": map[string]any{"type": "integer"},
		}},
	}}
	var errs []string
	validateSchema("", map[string]any{"spec": map[string]any{"port": "x", "extra": 1.0}}, s, &errs)
	require.Len(t, errs, 2, "want 2 errors (type, unknown field), got %v", errs)
}
