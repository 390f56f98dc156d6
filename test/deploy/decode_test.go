package deploy

import (
	stdjson "encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// scheme holds the built-in API groups the manifests use; anything else must be a
// custom resource of crdKinds.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme,
		autoscalingv2.AddToScheme, networkingv1.AddToScheme, rbacv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// strictDecoder rejects unknown and duplicate fields, like kubectl --validate=strict.
var strictDecoder = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme, scheme,
	json.SerializerOptions{Yaml: false, Strict: true})

// crdKinds are the custom resources the manifests may use, by the project that defines them
// (checked against that project's CRD schema by TestCustomResourcesMatchCRDSchemas).
var crdKinds = map[schema.GroupVersionKind]string{
	{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthentication"}:  "istio",
	{Group: "security.istio.io", Version: "v1", Kind: "AuthorizationPolicy"}: "istio",
	{Group: "networking.istio.io", Version: "v1", Kind: "DestinationRule"}:   "istio",
	{Group: "networking.istio.io", Version: "v1", Kind: "VirtualService"}:    "istio",
	{Group: "networking.istio.io", Version: "v1", Kind: "Gateway"}:           "istio",
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PodMonitor"}:      "prometheus-operator",
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}:  "prometheus-operator",
	{Group: "argoproj.io", Version: "v1alpha1", Kind: "Rollout"}:             "argo-rollouts",
	{Group: "argoproj.io", Version: "v1alpha1", Kind: "AnalysisTemplate"}:    "argo-rollouts",
	{Group: "argoproj.io", Version: "v1alpha1", Kind: "Application"}:         "argo-cd",
	{Group: "argoproj.io", Version: "v1alpha1", Kind: "AppProject"}:          "argo-cd",
}

// decodeStrict decodes o into its typed API object, failing on unknown fields.
func decodeStrict(o *unstructured.Unstructured) (runtime.Object, error) {
	b, err := o.MarshalJSON()
	if err != nil {
		return nil, err
	}
	obj, _, err := strictDecoder.Decode(b, nil, nil)
	return obj, err
}

// TestStrictDecode decodes every rendered built-in object into the real API type with
// strict field checking, and allows custom resources only of the known kinds.
func TestStrictDecode(t *testing.T) {
	gate(t)
	for _, dir := range kustomizations(t) {
		r := render(t, dir)
		for _, o := range r.objects {
			gvk := o.GroupVersionKind()
			if scheme.Recognizes(gvk) {
				_, err := decodeStrict(o)
				assert.NoError(t, err, "%s: %s", r.name, id(o))
				continue
			}
			_, ok := crdKinds[gvk]
			assert.True(t, ok, "%s: %s: neither a built-in type of this test nor a known custom resource", r.name, id(o))
		}
	}
}

// typed decodes every object of kind in r into a new K (strict decoding is TestStrictDecode's).
func typed[K any](t testing.TB, r *rendered, kind string) []*K {
	t.Helper()
	var out []*K
	for _, o := range r.objects {
		if o.GetKind() != kind || !scheme.Recognizes(o.GroupVersionKind()) {
			continue
		}
		b, err := o.MarshalJSON()
		require.NoError(t, err)
		v := new(K)
		require.NoError(t, stdjson.Unmarshal(b, v), "%s: %s", r.name, id(o))
		out = append(out, v)
	}
	return out
}
