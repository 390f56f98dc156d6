package kube

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tungsten-blog/tungsten/internal/doctor"
)

var t0 = time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)

func TestCountErrors(t *testing.T) {
	logs := strings.Join([]string{
		`2026-12-04T18:50:00.000000001Z {"time":"x","level":"ERROR","msg":"old failure"}`,
		`2026-12-04T18:59:00Z {"level":"INFO","msg":"request"}`,
		`2026-12-04T19:00:01.5Z {"level":"ERROR","msg":"loading article","error":"dial tcp: connection refused"}`,
		`2026-12-04T19:00:02Z {"level":"ERROR","msg":"second","suppressed":3}`,
		`not a timestamp {"level":"ERROR"}`,
		`2026-12-04T19:00:03Z ` + strings.Repeat("x", maxLine+10) + `"level":"ERROR"`,
		`2026-12-04T19:00:04Z {"level":"WARN","msg":"slow"}`,
	}, "\n")
	c, err := CountErrors(strings.NewReader(logs), t0)
	require.NoError(t, err)
	want := Counts{Now: 5, Base: 1, Sample: "second"}
	require.Equal(t, want, c, "CountErrors")
	c, _ = CountErrors(strings.NewReader(strings.Split(logs, "\n")[2]), t0)
	require.Equal(t, "loading article: dial tcp: connection refused", c.Sample, "sample: want the message and its error")
}

func TestDecodeMetrics(t *testing.T) {
	pods, err := DecodePodMetrics([]byte(`{"kind":"PodMetricsList","items":[{"metadata":{"name":"tungsten-blog-1"},"containers":[{"name":"tungsten","usage":{"cpu":"250000000n","memory":"64Mi"}}]}]}`))
	require.NoError(t, err)
	require.Equal(t, Quantities{CPUMilli: 250, MemBytes: 64 << 20}, pods["tungsten-blog-1"]["tungsten"], "pod usage, want 250m and 64Mi")
	nodes, err := DecodeNodeMetrics([]byte(`{"items":[{"metadata":{"name":"n1"},"usage":{"cpu":"1500m","memory":"2Gi"}}]}`))
	require.NoError(t, err)
	require.Equal(t, Quantities{CPUMilli: 1500, MemBytes: 2 << 30}, nodes["n1"], "node usage")
	for _, bad := range []string{`{`, `{"items":[{"containers":[{"usage":{"memory":"-x"}}]}]}`} {
		_, err := DecodePodMetrics([]byte(bad))
		assert.Error(t, err, "DecodePodMetrics(%s): no error", bad)
	}
	for _, bad := range []string{`[`, `{"items":[{"usage":{"cpu":"lots"}}]}`} {
		_, err := DecodeNodeMetrics([]byte(bad))
		assert.Error(t, err, "DecodeNodeMetrics(%s): no error", bad)
	}
}

func pod(name, comp string, created time.Time, mut func(*corev1.Pod)) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "tungsten", Labels: map[string]string{ComponentLabel: comp}, CreationTimestamp: metav1.NewTime(created)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "tungsten", Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("128Mi")}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "tungsten"}}},
	}
	if mut != nil {
		mut(&p)
	}
	return p
}

func TestPodStatus(t *testing.T) {
	since := t0.Add(-2 * time.Minute)
	old := t0.Add(-time.Hour)
	killing := []event{{Event: corev1.Event{Reason: "Killing"}, object: "tungsten-auth-5d8f-aaa", component: "auth"}}
	tests := []struct {
		name   string
		pod    corev1.Pod
		events []event
		want   func(doctor.Pod) bool
	}{
		{"healthy", pod("tungsten-blog-1", "blog", old, nil), nil,
			func(p doctor.Pod) bool {
				return p.Ready && p.Phase == "Running" && p.RecentRestarts == 0 && p.Replaced == ""
			}},
		{"crash loop", pod("tungsten-blog-1", "blog", old, func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}
			p.Status.ContainerStatuses[0].RestartCount = 4
		}), nil, func(p doctor.Pod) bool { return p.Waiting == "CrashLoopBackOff" && p.Restarts == 4 }},
		{"creating is not waiting", pod("tungsten-blog-1", "blog", old, func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
		}), nil, func(p doctor.Pod) bool { return p.Waiting == "" }},
		{"restart in the window", pod("tungsten-users-1", "users", old, func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].RestartCount = 3
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 137, FinishedAt: metav1.NewTime(t0.Add(-time.Minute))}
		}), nil, func(p doctor.Pod) bool {
			return p.RecentRestarts == 1 && p.ExitCode == 137 && p.LastTerminated == "Error"
		}},
		{"restart before the window", pod("tungsten-users-1", "users", old, func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].RestartCount = 1
			p.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "OOMKilled", FinishedAt: metav1.NewTime(old)}
		}), nil, func(p doctor.Pod) bool { return p.RecentRestarts == 0 && p.LastTerminated == "" }},
		{"replacement of a killed pod", pod("tungsten-auth-5d8f-bbb", "auth", t0.Add(-30*time.Second), nil), killing,
			func(p doctor.Pod) bool {
				return p.Replaced == "tungsten-auth-5d8f-aaa" && strings.Contains(p.Reproduce, "tungsten-auth-5d8f-aaa")
			}},
		{"a rollout's new pod replaced nothing", pod("tungsten-auth-77c1-ccc", "auth", t0.Add(-30*time.Second), nil), killing,
			func(p doctor.Pod) bool { return p.Replaced == "" }},
		{"a new pod of another component", pod("tungsten-blog-b", "blog", t0.Add(-30*time.Second), nil), killing,
			func(p doctor.Pod) bool { return p.Replaced == "" }},
		{"terminating", pod("tungsten-web-1", "web", old, func(p *corev1.Pod) { now := metav1.NewTime(t0); p.DeletionTimestamp = &now }), nil,
			func(p doctor.Pod) bool { return p.Phase == "Terminating" }},
		{"unready", pod("tungsten-web-1", "web", old, func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }), nil,
			func(p doctor.Pod) bool { return !p.Ready }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PodStatus(tt.pod, since, Usage{}, tt.events, "kubectl")
			require.True(t, tt.want(got), "PodStatus = %+v", got)
		})
	}
}

func TestGone(t *testing.T) {
	pods := []corev1.Pod{pod("tungsten-blog-5d-a", "blog", t0, nil)}
	events := []event{
		{Event: corev1.Event{Reason: "Killing"}, object: "tungsten-nats-0", component: "nats"},
		{Event: corev1.Event{Reason: "Killing"}, object: "tungsten-nats-0", component: "nats"},
		{Event: corev1.Event{Reason: "Killing"}, object: "tungsten-blog-5d-b", component: "blog"},
		{Event: corev1.Event{Reason: "Unhealthy"}, object: "tungsten-web-5d-c", component: "web"},
	}
	got := gone(pods, events, "tungsten", "kubectl")
	require.Len(t, got, 1, "gone = %+v, want nats alone (blog still runs, web was not stopped)", got)
	require.Equal(t, "nats", got[0].Component, "gone = %+v, want nats alone (blog still runs, web was not stopped)", got)
	require.Equal(t, doctor.PhaseGone, got[0].Phase, "gone = %+v, want nats alone (blog still runs, web was not stopped)", got)
	require.Equal(t, "tungsten-nats-0", got[0].Name, "gone = %+v, want nats alone (blog still runs, web was not stopped)", got)
}

func TestPodUsageAndNodeStatus(t *testing.T) {
	p := pod("tungsten-blog-1", "blog", t0, nil)
	u := PodUsage(p, map[string]Quantities{"tungsten": {CPUMilli: 450, MemBytes: 32 << 20}})
	require.Equal(t, 0.9, u.CPURatio, "PodUsage = %+v, want CPU 0.9 and memory 0.25 of the limits", u)
	require.Equal(t, 0.25, u.MemRatio, "PodUsage = %+v, want CPU 0.9 and memory 0.25 of the limits", u)
	require.Equal(t, Usage{}, PodUsage(p, nil), "PodUsage without metrics")
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")},
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse},
		}}}
	got := NodeStatus(n, Quantities{CPUMilli: 1800, MemBytes: 1 << 30}, "kubectl")
	require.Equal(t, "MemoryPressure", strings.Join(got.Pressure, ","), "NodeStatus = %+v", got)
	require.Equal(t, 0.9, got.CPURatio, "NodeStatus = %+v", got)
	require.Equal(t, 0.25, got.MemRatio, "NodeStatus = %+v", got)
	n.Status.Conditions[0].Status = corev1.ConditionUnknown
	got = NodeStatus(n, Quantities{}, "kubectl")
	require.NotEmpty(t, got.Pressure, "NodeStatus of an unready node = %+v", got)
	require.Equal(t, "NotReady", got.Pressure[0], "NodeStatus of an unready node = %+v", got)
}

func TestComponentOfObject(t *testing.T) {
	for name, want := range map[string]string{
		"tungsten-blog-7d9c8-xk2p": "blog", "tungsten-nats-0": "nats", "tungsten-all-5f-x": "all",
		"tungsten-migrate-abc": "", "coredns-1": "", "tungsten-": "",
	} {
		assert.Equal(t, want, componentOfObject(name), "componentOfObject(%q)", name)
	}
}

func TestScale(t *testing.T) {
	require.Equal(t, 10, scale(50, doctor.Window{Window: 2 * time.Minute, Baseline: 10 * time.Minute}), "scale")
}

func FuzzCountErrors(f *testing.F) {
	f.Add("2026-12-04T19:00:01Z {\"level\":\"ERROR\",\"msg\":\"x\"}\n")
	f.Add("x \"level\":\"ERROR\"")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := CountErrors(strings.NewReader(s), t0)
		require.NoError(t, err)
		require.False(t, c.Now < 0 || c.Base < 0, "counts %+v", c)
	})
}

func FuzzDecodeMetrics(f *testing.F) {
	f.Add(`{"items":[{"metadata":{"name":"p"},"containers":[{"name":"c","usage":{"cpu":"1m","memory":"1Ki"}}],"usage":{"cpu":"2","memory":"1Gi"}}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = DecodePodMetrics([]byte(s))
		_, _ = DecodeNodeMetrics([]byte(s))
	})
}
