package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// namespace is where deploy/kubernetes/tests/cluster puts Tungsten.
const namespace = "tungsten"

// kubectl runs $KUBECTL (the cluster's build) with a bounded time and returns stdout;
// the error carries stderr.
func kubectl(stdin string, args ...string) (string, error) {
	bin := os.Getenv("KUBECTL")
	if bin == "" {
		bin = "kubectl"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// kc is kubectl in the namespace, failing the test on an error.
func kc(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl("", append([]string{"-n", namespace}, args...)...)
	require.NoError(t, err)
	return out
}

func getJSON(v any, args ...string) error {
	out, err := kubectl("", append(append([]string{"-n", namespace, "get"}, args...), "-o", "json")...)
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(out), v)
}

func podReady(p corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// pods returns the pods of one component (a service, or "" for every pod).
func pods(component string) ([]corev1.Pod, error) {
	var l corev1.PodList
	sel := []string{"pods"}
	if component != "" {
		sel = append(sel, "-l", "app.kubernetes.io/component="+component)
	}
	if err := getJSON(&l, sel...); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// clusterState is what the recovery check and the symptoms read of Kubernetes.
type clusterState struct {
	NotReady []string       // pods Running or Pending but not Ready (Jobs' pods left out)
	Restarts map[string]int // pod -> summed container restarts
	Waiting  []string       // pod: reason of a waiting container (CrashLoopBackOff, ...)
	Settled  bool           // every Deployment and the NATS StatefulSet fully rolled out and Ready
}

func readState() (clusterState, error) {
	st := clusterState{Restarts: map[string]int{}, Settled: true}
	ps, err := pods("")
	if err != nil {
		return st, err
	}
	for _, p := range ps {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if !podReady(p) {
			st.NotReady = append(st.NotReady, p.Name)
		}
		for _, c := range p.Status.ContainerStatuses {
			st.Restarts[p.Name] += int(c.RestartCount)
			if c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "ContainerCreating" {
				st.Waiting = append(st.Waiting, p.Name+": "+c.State.Waiting.Reason)
			}
		}
	}
	var ds appsv1.DeploymentList
	if err := getJSON(&ds, "deployments"); err != nil {
		return st, err
	}
	for _, d := range ds.Items {
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas != want ||
			d.Status.ReadyReplicas != want || d.Status.Replicas != want {
			st.Settled = false
		}
	}
	var ss appsv1.StatefulSet
	if err := getJSON(&ss, "statefulset", "tungsten-nats"); err != nil {
		return st, err
	}
	if ss.Spec.Replicas == nil || *ss.Spec.Replicas < 1 || ss.Status.ReadyReplicas != *ss.Spec.Replicas {
		st.Settled = false
	}
	return st, nil
}

// podUsage returns the metrics API's CPU (cores) and memory (MiB) of every pod.
func podUsage() (map[string][2]float64, error) {
	out, err := kubectl("", "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/"+namespace+"/pods")
	if err != nil {
		return nil, err
	}
	var l struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Containers []struct {
				Usage map[string]string `json:"usage"`
			} `json:"containers"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		return nil, err
	}
	m := map[string][2]float64{}
	for _, it := range l.Items {
		var cpu, mem float64
		for _, c := range it.Containers {
			cpu += quantity(c.Usage["cpu"])
			mem += quantity(c.Usage["memory"]) / (1 << 20)
		}
		m[it.Metadata.Name] = [2]float64{cpu, mem}
	}
	return m, nil
}

// nodeCPU returns the node's CPU usage as a fraction of its capacity (metrics API).
func nodeCPU() (float64, error) {
	out, err := kubectl("", "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes")
	if err != nil {
		return 0, err
	}
	var l struct {
		Items []struct {
			Usage map[string]string `json:"usage"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Items) == 0 {
		return 0, fmt.Errorf("node metrics: %w (%d nodes)", err, len(l.Items))
	}
	var n corev1.NodeList
	o, err := kubectl("", "get", "nodes", "-o", "json")
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal([]byte(o), &n); err != nil || len(n.Items) == 0 {
		return 0, fmt.Errorf("nodes: %w", err)
	}
	return quantity(l.Items[0].Usage["cpu"]) / n.Items[0].Status.Capacity.Cpu().AsApproximateFloat64(), nil
}

func quantity(s string) float64 {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0
	}
	return q.AsApproximateFloat64()
}
