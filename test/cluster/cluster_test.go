package cluster

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestCluster runs the checks in the order they disturb the deployment least to most;
// each subtest leaves every Deployment Available again.
func TestCluster(t *testing.T) {
	gate(t)
	gw := env(t, "TUNGSTEN_CLUSTER_GATEWAY")
	prom := env(t, "TUNGSTEN_CLUSTER_PROMETHEUS")
	t.Run("EveryDeploymentAvailable", func(t *testing.T) { testAvailable(t) })
	t.Run("PrometheusScrapesEveryPod", func(t *testing.T) { testScraped(t, prom) })
	t.Run("MigrateJobBeforeServices", func(t *testing.T) { testMigrateFirst(t) })
	t.Run("LogsAreJSONWithTraceID", func(t *testing.T) { testLogs(t, gw) })
	t.Run("PDBRefusesEviction", func(t *testing.T) { testPDB(t) })
	t.Run("RollingUpdateUnderLoad", func(t *testing.T) { testRollingUpdate(t, gw) })
	t.Run("SelfHealPodDeleted", func(t *testing.T) { testSelfHeal(t, gw, "delete") })
	t.Run("SelfHealContainerKilled", func(t *testing.T) { testSelfHeal(t, gw, "kill") })
	// Right after the load of the tests above, inside the queries' rate windows.
	t.Run("CanaryAnalysisQueries", func(t *testing.T) { testCanaryQueries(t, prom) })
	t.Run("DashboardQueriesReturnData", func(t *testing.T) { testDashboards(t, gw, prom) })
	t.Run("HPAScalesBlogOutAndIn", func(t *testing.T) { testHPA(t, gw) })
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

func servicePods(t *testing.T, svc string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	getJSON(t, &pods, "pods", "-l", "app.kubernetes.io/name=tungsten,app.kubernetes.io/component="+svc)
	return pods.Items
}

// waitAvailable waits until every service Deployment has all its replicas updated and Ready.
func waitAvailable(t *testing.T, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "every Deployment Available", func() bool {
		var ds appsv1.DeploymentList
		getJSON(t, &ds, "deployments")
		for _, d := range ds.Items {
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas != want ||
				d.Status.ReadyReplicas != want || d.Status.Replicas != want {
				return false
			}
		}
		return true
	})
}

func testAvailable(t *testing.T) {
	var ds appsv1.DeploymentList
	getJSON(t, &ds, "deployments")
	got := map[string]appsv1.Deployment{}
	for _, d := range ds.Items {
		got[d.Name] = d
	}
	for _, svc := range services {
		d, ok := got["tungsten-"+svc]
		require.True(t, ok, "Deployment tungsten-%s missing (overlays/dev: every service its own Deployment)", svc)
		available := false
		for _, c := range d.Status.Conditions {
			if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
				available = true
			}
		}
		require.True(t, available, "tungsten-%s not Available: %+v", svc, d.Status)
		c := d.Spec.Template.Spec.Containers[0]
		require.NotNil(t, c.StartupProbe, "%s: startup probe", svc)
		require.NotNil(t, c.ReadinessProbe, "%s: readiness probe", svc)
		require.NotNil(t, c.LivenessProbe, "%s: liveness probe", svc)
		require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem, "%s: read-only root filesystem", svc)
		pods := servicePods(t, svc)
		require.NotEmpty(t, pods)
		for _, p := range pods {
			require.True(t, podReady(p), "pod %s not Ready", p.Name)
			// Ready is the kubelet's verdict from those very probes (httpGet /readyz on the admin port).
			require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
		}
		figure(t, "tungsten-%s: %d/%d pods Ready", svc, d.Status.ReadyReplicas, d.Status.Replicas)
	}
	var nats appsv1.StatefulSet
	getJSON(t, &nats, "statefulset", "tungsten-nats")
	require.Equal(t, *nats.Spec.Replicas, nats.Status.ReadyReplicas, "NATS ready")
}

func testMigrateFirst(t *testing.T) {
	var job batchv1.Job
	getJSON(t, &job, "job", "tungsten-migrate")
	require.GreaterOrEqual(t, job.Status.Succeeded, int32(1), "migrate Job succeeded")
	require.NotNil(t, job.Status.CompletionTime)
	var cm corev1.ConfigMap
	getJSON(t, &cm, "configmap", "tungsten-config")
	require.Equal(t, "false", cm.Data["TUNGSTEN_MIGRATE_ON_START"], "the services must not migrate themselves here")
	logs := kubectl(t, "-n", namespace, "logs", "job/tungsten-migrate")
	require.Contains(t, logs, "migrat", "the Job's log reports the migrations")
	for _, svc := range []string{"auth", "users", "blog"} {
		for _, p := range servicePods(t, svc) {
			st := p.Status.ContainerStatuses[0].State.Running
			require.NotNil(t, st, "pod %s running", p.Name)
			require.False(t, st.StartedAt.Time.Before(job.Status.CompletionTime.Time),
				"pod %s started %s, before the migrate Job completed %s", p.Name, st.StartedAt, job.Status.CompletionTime)
		}
	}
	figure(t, "migrate Job completed %s; every service pod started after it", job.Status.CompletionTime.Format(time.RFC3339))
}

func testLogs(t *testing.T, gw string) {
	// Traffic through every service, so each has request records.
	token := register(t, gw)
	code, _ := apiCall(t, http.MethodGet, gw+"/api/user", token, nil)
	require.Equal(t, http.StatusOK, code)
	// Several reads, so that each of a service's replicas (kube-proxy picks one at random)
	// serves some: one request would leave the other blog pod without a traced record.
	for range 20 {
		code, _ = apiCall(t, http.MethodGet, gw+"/api/tags", "", nil)
		require.Equal(t, http.StatusOK, code)
	}
	res, err := httpClient.Get(gw + "/")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	// The gateway keeps its connections to a Service alive, so the requests above may all
	// reach one replica: one request straight to every pod gives each a request record.
	for _, svc := range services {
		for _, p := range servicePods(t, svc) {
			if res, err := httpClient.Get("http://" + p.Status.PodIP + ":8080/api/tags"); err == nil {
				res.Body.Close()
			}
		}
	}
	for _, svc := range services {
		for _, p := range servicePods(t, svc) {
			out := kubectl(t, "-n", namespace, "logs", p.Name, "--tail=500")
			lines, traced := 0, 0
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if l == "" {
					continue
				}
				lines++
				var rec map[string]any
				require.NoError(t, json.Unmarshal([]byte(l), &rec), "pod %s: a log line that is not JSON: %q", p.Name, l)
				if id, _ := rec["trace_id"].(string); id != "" {
					traced++
				}
			}
			require.NotZero(t, lines, "pod %s logged nothing", p.Name)
			require.NotZero(t, traced, "pod %s: no record with trace_id", p.Name)
			figure(t, "pod %s: %d JSON lines, %d with trace_id", p.Name, lines, traced)
		}
	}
}

func testPDB(t *testing.T) {
	eventually(t, 60*time.Second, "PDB tungsten-users computed", func() bool {
		out, err := kubectlErr("-n", namespace, "get", "pdb", "tungsten-users", "-o", "jsonpath={.status.expectedPods},{.status.disruptionsAllowed}")
		return err == nil && out == "1,0"
	})
	pods := servicePods(t, "users")
	require.Len(t, pods, 1)
	_, refused := evict(t, pods[0].Name)
	require.Error(t, refused, "evicting the only users pod must be refused (minAvailable: 1)")
	require.Contains(t, refused.Error(), "disruption budget")
	// The same API call succeeds where no budget forbids it: the refusal is the PDB's.
	web := servicePods(t, "web")
	require.NotEmpty(t, web)
	_, err := evict(t, web[0].Name)
	require.NoError(t, err, "evicting a web pod (no PDB in the way)")
	waitAvailable(t, 120*time.Second)
	figure(t, "eviction of %s refused: %s; eviction of %s (no PDB): %s", pods[0].Name, lastLine(refused), web[0].Name, lastLine(err))
}

func lastLine(err error) string {
	if err == nil {
		return "allowed"
	}
	return err.Error()
}

// evict posts an Eviction for pod, as kubectl drain does.
func evict(t *testing.T, pod string) (string, error) {
	t.Helper()
	body := fmt.Sprintf(`{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":%q,"namespace":%q}}`, pod, namespace)
	f := filepath.Join(t.TempDir(), "eviction.json")
	require.NoError(t, os.WriteFile(f, []byte(body), 0o600))
	return kubectlErr("create", "--raw", "/api/v1/namespaces/"+namespace+"/pods/"+pod+"/eviction", "-f", f)
}

func testRollingUpdate(t *testing.T, gw string) {
	waitAvailable(t, 120*time.Second)
	l := startLoad(t, gw, 25, register(t, gw))
	time.Sleep(3 * time.Second)
	start := time.Now()
	for _, svc := range services {
		kubectl(t, "-n", namespace, "rollout", "restart", "deployment/tungsten-"+svc)
	}
	for _, svc := range services {
		kubectl(t, "-n", namespace, "rollout", "status", "deployment/tungsten-"+svc, "--timeout=300s")
	}
	took := time.Since(start)
	// The old pods drain after the rollout reports done: keep the load on past their grace.
	time.Sleep(12 * time.Second)
	l.stop()
	l.report(t)
	figure(t, "rolling restart of %d Deployments: %.1fs to every rollout complete", len(services), took.Seconds())
	require.Zero(t, l.failed, "failed requests during the rolling update")
	l.checkAcknowledged(t, gw)
}

// testSelfHeal runs write load while one blog pod is deleted ("delete") or its container
// is killed with SIGKILL ("kill"), and measures the time until the blog is whole again.
func testSelfHeal(t *testing.T, gw, how string) {
	waitAvailable(t, 120*time.Second)
	// Only Ready pods: the pod the previous test deleted may still be terminating
	// (preStop and drain), its container already gone from containerd.
	var before []corev1.Pod
	for _, p := range servicePods(t, "blog") {
		if podReady(p) {
			before = append(before, p)
		}
	}
	require.NotEmpty(t, before)
	victim := before[0]
	want := len(before)
	l := startLoad(t, gw, 20, register(t, gw))
	time.Sleep(3 * time.Second)
	var took time.Duration
	switch how {
	case "delete":
		kubectl(t, "-n", namespace, "delete", "pod", victim.Name, "--wait=false")
		took = eventually(t, 60*time.Second, "replacement blog pod Ready", func() bool {
			ready := 0
			for _, p := range servicePods(t, "blog") {
				if p.Name != victim.Name && podReady(p) {
					ready++
				}
			}
			return ready >= want
		})
	case "kill":
		restarts := victim.Status.ContainerStatuses[0].RestartCount
		pid := containerPID(t, victim)
		require.NoError(t, syscall.Kill(pid, syscall.SIGKILL), "kill -9 %d", pid)
		took = eventually(t, 60*time.Second, "killed container restarted and Ready", func() bool {
			var p corev1.Pod
			getJSON(t, &p, "pod", victim.Name)
			cs := p.Status.ContainerStatuses[0]
			return cs.RestartCount > restarts && cs.Ready && podReady(p)
		})
		figure(t, "killed pid %d of pod %s", pid, victim.Name)
	}
	time.Sleep(5 * time.Second)
	l.stop()
	l.report(t)
	figure(t, "%s blog pod -> Ready again in %.1fs", how, took.Seconds())
	l.checkAcknowledged(t, gw)
	require.Less(t, took, 10*time.Second, "replaced and Ready within 10 s")
	require.Less(t, l.failedRatio(), 0.005, "failed requests during the event")
}

// containerPID finds the host pid of a pod's container through containerd (ctr task ls).
func containerPID(t *testing.T, p corev1.Pod) int {
	t.Helper()
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	require.NotEmpty(t, id)
	out, err := exec.Command("ctr", "-a", env(t, "TUNGSTEN_CLUSTER_CONTAINERD"), "-n", "k8s.io", "task", "ls").CombinedOutput()
	require.NoError(t, err, "ctr task ls: %s", out)
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			require.NoError(t, err)
			return pid
		}
	}
	require.FailNowf(t, "no task", "container %s not in ctr task ls", id)
	return 0
}

// hpaLoadRate is the request rate of the HPA test's blog reads: measured here, 150/s cost two
// blog pods 67% of their 50m request each (cached reads are cheap), so 300/s is about 2.5
// times the HPA's 50% target (tests/cluster/blog-hpa.yaml): the scale-out does not hinge on
// how busy the machine is.
const hpaLoadRate = 300

func testHPA(t *testing.T, gw string) {
	var hpa autoscalingv2.HorizontalPodAutoscaler
	getJSON(t, &hpa, "hpa", "tungsten-blog")
	minReplicas := *hpa.Spec.MinReplicas
	var timeline []string
	start := time.Now()
	// sample records the blog's replicas and the utilization the HPA acts on.
	sample := func() int32 {
		out := kubectl(t, "-n", namespace, "get", "deployment", "tungsten-blog", "-o", "jsonpath={.spec.replicas}")
		n, err := strconv.Atoi(out)
		require.NoError(t, err)
		var h autoscalingv2.HorizontalPodAutoscaler
		getJSON(t, &h, "hpa", "tungsten-blog")
		util := "?"
		for _, m := range h.Status.CurrentMetrics {
			if m.Resource != nil && m.Resource.Current.AverageUtilization != nil {
				util = fmt.Sprintf("%d%%", *m.Resource.Current.AverageUtilization)
			}
		}
		timeline = append(timeline, fmt.Sprintf("%.0fs=%d(%s)", time.Since(start).Seconds(), n, util))
		return int32(n)
	}
	wait := func(timeout time.Duration, what string, cond func(int32) bool) time.Duration {
		t0 := time.Now()
		for !cond(sample()) {
			if time.Since(t0) > timeout {
				require.FailNowf(t, "timed out", "%s: not within %s; replicas(utilization) over time: %s", what, timeout, compact(timeline))
			}
			time.Sleep(time.Second)
		}
		return time.Since(t0)
	}
	// The earlier tests' load may have scaled the blog out: it must come back in by itself.
	settle := wait(180*time.Second, "blog at the HPA minimum before the load", func(n int32) bool { return n == minReplicas })
	timeline = timeline[len(timeline)-1:]
	l := startBlogReads(t, gw, hpaLoadRate)
	up := wait(180*time.Second, "HPA scales the blog out", func(n int32) bool { return n > minReplicas })
	// Keep the load a little longer: the replicas added must become Ready and serve it.
	time.Sleep(15 * time.Second)
	l.stop()
	l.report(t)
	require.Less(t, l.failedRatio(), 0.005, "failed requests while the blog scaled out")
	down := wait(240*time.Second, "HPA scales the blog back in", func(n int32) bool { return n == minReplicas })
	figure(t, "HPA: at the minimum %d after %.0fs; %d req/s of blog reads -> more replicas %.1fs after the load started; back to %d %.1fs after it stopped",
		minReplicas, settle.Seconds(), hpaLoadRate, up.Seconds(), minReplicas, down.Seconds())
	figure(t, "blog replicas(utilization) over time: %s", compact(timeline))
}

// compact drops repeated samples of the same replica count.
func compact(samples []string) string {
	var out []string
	last := ""
	for _, s := range samples {
		_, n, _ := strings.Cut(s, "=")
		n, _, _ = strings.Cut(n, "(")
		if n != last {
			out = append(out, s)
			last = n
		}
	}
	return strings.Join(out, " ")
}
