package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// relabel applies Prometheus' relabelling semantics for the actions Generate emits (keep,
// drop, replace with the default regex or a literal replacement) to a target's labels;
// nil means the target is dropped. It is enough to check the generated rules decide what
// the operator's would, without a Prometheus.
func relabel(t *testing.T, labels map[string]string, rules []Relabel) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range labels {
		out[k] = v
	}
	for _, r := range rules {
		val := ""
		for i, s := range r.SourceLabels {
			if i > 0 {
				val += ";"
			}
			val += out[s]
		}
		switch r.Action {
		case "keep", "drop":
			m, err := regexpFull(r.Regex, val)
			require.NoError(t, err)
			if m != (r.Action == "keep") {
				return nil
			}
		case "", "replace":
			if r.Replacement != nil {
				out[r.TargetLabel] = *r.Replacement
			} else {
				out[r.TargetLabel] = val
			}
		default:
			require.Failf(t, "action not simulated", "%q", r.Action)
		}
	}
	return out
}

func pod(component string, phase string, port string) map[string]string {
	l := map[string]string{
		"__meta_kubernetes_namespace":                               "tungsten",
		"__meta_kubernetes_pod_name":                                "tungsten-" + component + "-abc",
		"__meta_kubernetes_pod_container_name":                      "tungsten",
		"__meta_kubernetes_pod_container_port_name":                 port,
		"__meta_kubernetes_pod_phase":                               phase,
		"__meta_kubernetes_pod_label_app_kubernetes_io_name":        "tungsten",
		"__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
	}
	if component != "" {
		l["__meta_kubernetes_pod_label_app_kubernetes_io_component"] = component
		l["__meta_kubernetes_pod_labelpresent_app_kubernetes_io_component"] = "true"
	}
	return l
}

// The PodMonitor users deploy, turned into a scrape config: every service pod's admin port
// is kept with job="tungsten" and target=<component>; the migrate Job's pods, other ports,
// finished pods and other apps are not.
func TestGenerateFromTheShippedPodMonitor(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "kubernetes", "components", "monitoring", "podmonitor.yaml"))
	require.NoError(t, err)
	var pm PodMonitor
	require.NoError(t, yaml.Unmarshal(b, &pm))
	configs, err := Generate(pm, "tungsten", API{Server: "https://10.0.0.2:6443", CAFile: "/ca.crt", TokenFile: "/token"})
	require.NoError(t, err)
	require.Len(t, configs, 1)
	c := configs[0]
	require.Equal(t, "/metrics", c.MetricsPath)
	require.Equal(t, "15s", c.ScrapeInterval)
	require.Equal(t, []SDConfig{{Role: "pod", APIServer: "https://10.0.0.2:6443",
		TLSConfig: map[string]any{"ca_file": "/ca.crt"}, Authorization: map[string]any{"credentials_file": "/token"},
		Namespaces: map[string]any{"names": []string{"tungsten"}}}}, c.KubernetesSDConfigs)

	for _, component := range []string{"gateway", "auth", "users", "blog", "web", "all"} {
		got := relabel(t, pod(component, "Running", "admin"), c.RelabelConfigs)
		require.NotNil(t, got, component)
		require.Equal(t, "tungsten", got["job"], component)
		require.Equal(t, component, got["target"], component)
		require.Equal(t, "tungsten-"+component+"-abc", got["pod"], component)
		require.Equal(t, "tungsten", got["namespace"], component)
	}
	require.Nil(t, relabel(t, pod("migrate", "Running", "admin"), c.RelabelConfigs), "the migrate Job's pod")
	require.Nil(t, relabel(t, pod("blog", "Running", "http"), c.RelabelConfigs), "the http port")
	require.Nil(t, relabel(t, pod("blog", "Succeeded", "admin"), c.RelabelConfigs), "a finished pod")
	other := pod("blog", "Running", "admin")
	other["__meta_kubernetes_pod_label_app_kubernetes_io_name"] = "nats"
	require.Nil(t, relabel(t, other, c.RelabelConfigs), "another app")
}

func TestGenerateSelectorOperators(t *testing.T) {
	var pm PodMonitor
	pm.Kind = "PodMonitor"
	pm.Metadata.Name = "m"
	pm.Spec.PodMetricsEndpoints = []Endpoint{{Port: "metrics"}}
	pm.Spec.Selector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"a.b", "c"}},
		{Key: "canary", Operator: metav1.LabelSelectorOpDoesNotExist},
		{Key: "team", Operator: metav1.LabelSelectorOpExists},
	}}
	configs, err := Generate(pm, "ns", API{})
	require.NoError(t, err)
	rules := configs[0].RelabelConfigs
	base := func() map[string]string {
		return map[string]string{
			"__meta_kubernetes_pod_container_port_name": "metrics", "__meta_kubernetes_pod_phase": "Running",
			"__meta_kubernetes_pod_label_tier": "a.b", "__meta_kubernetes_pod_labelpresent_tier": "true",
			"__meta_kubernetes_pod_label_team": "x", "__meta_kubernetes_pod_labelpresent_team": "true",
		}
	}
	require.NotNil(t, relabel(t, base(), rules))
	l := base()
	l["__meta_kubernetes_pod_label_tier"] = "aXb" // the dot is literal
	require.Nil(t, relabel(t, l, rules))
	l = base()
	l["__meta_kubernetes_pod_labelpresent_canary"] = "true"
	require.Nil(t, relabel(t, l, rules))
	l = base()
	delete(l, "__meta_kubernetes_pod_labelpresent_team")
	require.Nil(t, relabel(t, l, rules))
	require.Equal(t, "podMonitor/ns/m/0", configs[0].JobName)

	pm.Spec.Selector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "k", Operator: "Like"}}}
	_, err = Generate(pm, "ns", API{})
	require.ErrorContains(t, err, "Like")
}

func TestGenerateRefusesWhatItCannotScrape(t *testing.T) {
	var pm PodMonitor
	_, err := Generate(pm, "ns", API{})
	require.ErrorContains(t, err, "not a PodMonitor")
	pm.Kind = "PodMonitor"
	_, err = Generate(pm, "", API{})
	require.ErrorContains(t, err, "namespace")
	_, err = Generate(pm, "ns", API{})
	require.ErrorContains(t, err, "no podMetricsEndpoints")
	pm.Spec.PodMetricsEndpoints = []Endpoint{{Path: "/metrics"}}
	_, err = Generate(pm, "ns", API{})
	require.ErrorContains(t, err, "no port")
}

// regexpFull matches like Prometheus' relabel regexes: anchored at both ends.
func regexpFull(re, s string) (bool, error) {
	r, err := regexp.Compile("^(?:" + re + ")$")
	if err != nil {
		return false, err
	}
	return r.MatchString(s), nil
}
