package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func servicePod(name, component, ip string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "tungsten", Labels: map[string]string{
			"app.kubernetes.io/name": "tungsten", "app.kubernetes.io/component": component,
		}},
		Spec: corev1.PodSpec{NodeName: "node", Containers: []corev1.Container{{Name: "tungsten", Image: "tungsten.local/tungsten", Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
			{Name: "admin", ContainerPort: 9090, Protocol: corev1.ProtocolTCP},
		}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

// Discover gives what the pod role gives, and the PodMonitor's relabelling over it keeps
// exactly the service pods' admin ports: the file_sd form scrapes what the operator's would.
func TestDiscoverThenRelabelKeepsTheAdminPorts(t *testing.T) {
	migrate := servicePod("tungsten-migrate-x", "migrate", "10.244.0.9")
	pending := servicePod("tungsten-blog-new", "blog", "")
	pods := []corev1.Pod{servicePod("tungsten-blog-a", "blog", "10.244.0.5"), servicePod("tungsten-gateway-b", "gateway", "10.244.0.6"), migrate, pending}
	groups := Discover(pods)
	require.Len(t, groups, 6, "two ports each of the three pods with an IP")
	g := groups[1]
	require.Equal(t, []string{"10.244.0.5:9090"}, g.Targets)
	require.Equal(t, "admin", g.Labels["__meta_kubernetes_pod_container_port_name"])
	require.Equal(t, "9090", g.Labels["__meta_kubernetes_pod_container_port_number"])
	require.Equal(t, "true", g.Labels["__meta_kubernetes_pod_labelpresent_app_kubernetes_io_component"])
	require.Equal(t, "true", g.Labels["__meta_kubernetes_pod_ready"])

	b, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "kubernetes", "components", "monitoring", "podmonitor.yaml"))
	require.NoError(t, err)
	var pm PodMonitor
	require.NoError(t, yaml.Unmarshal(b, &pm))
	configs, err := Generate(pm, "tungsten", API{FileSD: "/sd"})
	require.NoError(t, err)
	require.Empty(t, configs[0].KubernetesSDConfigs)
	require.Equal(t, []FileSD{{Files: []string{"/sd/*.json"}, RefreshInterval: "5s"}}, configs[0].FileSDConfigs)
	var kept []string
	for _, g := range groups {
		if l := relabel(t, g.Labels, configs[0].RelabelConfigs); l != nil {
			kept = append(kept, g.Targets[0]+" "+l["target"]+" "+l["pod"])
		}
	}
	require.Equal(t, []string{"10.244.0.5:9090 blog tungsten-blog-a", "10.244.0.6:9090 gateway tungsten-gateway-b"}, kept)
}

func TestDiscoverContainerWithoutPorts(t *testing.T) {
	p := servicePod("p", "blog", "10.0.0.1")
	p.Spec.Containers[0].Ports = nil
	groups := Discover([]corev1.Pod{p})
	require.Len(t, groups, 1)
	require.Equal(t, []string{"10.0.0.1"}, groups[0].Targets)
	require.NotContains(t, groups[0].Labels, "__meta_kubernetes_pod_container_port_name")
}
