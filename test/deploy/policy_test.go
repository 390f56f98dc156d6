package deploy

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// calls is the architecture's call graph (README "Architecture"): callee <- callers on the
// public port 8080. JWKS (users, blog, gateway, web -> auth) is included.
var calls = map[string][]string{
	"auth":  {"blog", "gateway", "users", "web"},
	"users": {"auth", "blog", "gateway", "web"},
	"blog":  {"gateway", "web"},
	"web":   {"gateway"},
}

// workload is a pod template with where it came from.
type workload struct {
	kind, name string
	template   corev1.PodTemplateSpec
}

func workloads(t testing.TB, r *rendered) []workload {
	var out []workload
	for _, d := range typed[appsv1.Deployment](t, r, "Deployment") {
		out = append(out, workload{"Deployment", d.Name, d.Spec.Template})
	}
	for _, s := range typed[appsv1.StatefulSet](t, r, "StatefulSet") {
		out = append(out, workload{"StatefulSet", s.Name, s.Spec.Template})
	}
	for _, j := range typed[batchv1.Job](t, r, "Job") {
		out = append(out, workload{"Job", j.Name, j.Spec.Template})
	}
	for _, d := range typed[appsv1.DaemonSet](t, r, "DaemonSet") {
		out = append(out, workload{"DaemonSet", d.Name, d.Spec.Template})
	}
	return out
}

// Policy exceptions: a workload named here may break exactly the listed rules, each for
// the reason given (and in the manifest). Nothing else is exempt.
const (
	allowToken   = "automountServiceAccountToken"
	allowRoot    = "runAsNonRoot"
	allowHostLog = "hostPath /var/log read-only"
)

var policyExceptions = map[string]map[string]string{
	// components/logging: vlagent reads pod metadata from the API (get/list/watch pods,
	// namespaces, nodes only), the kubelet's container logs on the node, which the runtime
	// writes root-owned 0640 (uid 0, every capability dropped).
	"DaemonSet tungsten-vlagent": {
		allowToken:   "the Kubernetes collector lists its node's pods",
		allowRoot:    "container log files are root-owned, mode 0640",
		allowHostLog: "the node's container logs",
	},
}

func excepted(w workload, rule string) bool { return policyExceptions[w.kind+" "+w.name][rule] != "" }

// checkHostPaths: a hostPath volume only where an exception allows the node's /var/log,
// mounted read-only everywhere.
func checkHostPaths(t *testing.T, where string, w workload) {
	hostPaths := map[string]bool{}
	for _, v := range w.template.Spec.Volumes {
		if v.HostPath == nil {
			continue
		}
		assert.False(t, v.HostPath.Path != "/var/log" || !excepted(w, allowHostLog), "%s: hostPath volume %s (%s) is not an allowed exception", where, v.Name, v.HostPath.Path)
		hostPaths[v.Name] = true
	}
	for _, c := range w.template.Spec.Containers {
		for _, m := range c.VolumeMounts {
			assert.False(t, hostPaths[m.Name] && !m.ReadOnly, "%s container %s: hostPath volume %s must be mounted read-only", where, c.Name, m.Name)
		}
	}
}

// podsMatching returns the workloads whose pod labels sel selects.
func podsMatching(ws []workload, sel labels.Selector) []workload {
	var out []workload
	for _, w := range ws {
		if sel.Matches(labels.Set(w.template.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func mustSelector(t testing.TB, ls *metav1.LabelSelector) labels.Selector {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(ls)
	require.NoError(t, err)
	return s
}

func hasPort(ws []workload, port string) bool {
	for _, w := range ws {
		for _, c := range w.template.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
					return true
				}
			}
		}
	}
	return false
}

func isTungsten(w workload) bool { return w.template.Labels["app.kubernetes.io/name"] == "tungsten" }

var pinned = regexp.MustCompile(`^[a-z0-9.\-/]+(:[A-Za-z0-9._\-]*[0-9][A-Za-z0-9._\-]*)?(@sha256:[0-9a-f]{64})?$`)

// TestPodPolicies: probes, resources, hardened securityContext, pinned images, no service
// account token, and (for Tungsten) the admin-port probes and a shutdown budget that fits.
func TestPodPolicies(t *testing.T) {
	gate(t)
	for _, dir := range kustomizations(t) {
		r := render(t, dir)
		cfg := configMap(t, r, "tungsten-config")
		for _, w := range workloads(t, r) {
			where := fmt.Sprintf("%s: %s %s", r.name, w.kind, w.name)
			spec := w.template.Spec
			assert.False(t, (spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken) && !excepted(w, allowToken), "%s: automountServiceAccountToken must be false", where)
			assert.False(t, spec.HostNetwork || spec.HostPID || spec.HostIPC, "%s: shares the node's network, PID or IPC namespace", where)
			checkHostPaths(t, where, w)
			psc := spec.SecurityContext
			assert.False(t, (psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot) && !excepted(w, allowRoot), "%s: pod securityContext.runAsNonRoot must be true", where)
			assert.False(t, psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault, "%s: pod seccompProfile must be RuntimeDefault", where)
			assert.Empty(t, spec.InitContainers, "%s: init containers are not checked by this test; add them", where)
			for _, c := range spec.Containers {
				cw := where + " container " + c.Name
				assert.False(t, !strings.Contains(c.Image, ":") && !strings.Contains(c.Image, "@") || strings.HasSuffix(c.Image, ":latest") || !pinned.MatchString(c.Image), "%s: image %q is not pinned to a version tag or digest", cw, c.Image)
				assert.False(t, c.Image != "" && !strings.Contains(strings.SplitN(c.Image, "/", 2)[0], "."), "%s: image %q needs a fully qualified registry", cw, c.Image)
				assert.False(t, w.kind != "Job" && (c.StartupProbe == nil || c.ReadinessProbe == nil || c.LivenessProbe == nil), "%s: needs startup, readiness and liveness probes", cw)
				for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					assert.Contains(t, c.Resources.Requests, res, "%s: no %s request", cw, res)
					assert.Contains(t, c.Resources.Limits, res, "%s: no %s limit", cw, res)
				}
				sc := c.SecurityContext
				switch {
				case sc == nil:
					assert.Fail(t, "no securityContext", cw)
				default:
					assert.False(t, sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation, "%s: allowPrivilegeEscalation must be false", cw)
					assert.False(t, sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem, "%s: readOnlyRootFilesystem must be true", cw)
					assert.False(t, (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) && !excepted(w, allowRoot), "%s: runAsNonRoot must be true", cw)
					assert.False(t, sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0, "%s: capabilities must drop ALL and add none", cw)
					assert.False(t, sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault, "%s: seccompProfile must be RuntimeDefault", cw)
					assert.False(t, sc.Privileged != nil && *sc.Privileged, "%s: privileged", cw)
				}
				if !isTungsten(w) || w.kind == "Job" {
					continue
				}
				checkProbe(t, cw+" readinessProbe", c.ReadinessProbe, "/readyz")
				checkProbe(t, cw+" livenessProbe", c.LivenessProbe, "/healthz")
				checkProbe(t, cw+" startupProbe", c.StartupProbe, "")
				// preStop sleep + drain delay + shutdown timeout must fit in the grace period.
				if !assert.False(t, c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil, "%s: needs a preStop sleep (endpoints removal before the drain)", cw) {
					continue
				}
				drain := durationSetting(t, cfg, c, "TUNGSTEN_DRAIN_DELAY", 2*time.Second)
				shutdown := durationSetting(t, cfg, c, "TUNGSTEN_SHUTDOWN_TIMEOUT", 25*time.Second)
				sleep := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
				grace := 30 * time.Second
				if spec.TerminationGracePeriodSeconds != nil {
					grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
				}
				assert.False(t, sleep < drain, "%s: preStop sleep %s is shorter than the drain delay %s", cw, sleep, drain)
				assert.False(t, sleep+drain+shutdown >= grace, "%s: preStop %s + drain %s + shutdown %s does not fit terminationGracePeriodSeconds %s", cw, sleep, drain, shutdown, grace)
			}
		}
	}
}

func checkProbe(t *testing.T, where string, p *corev1.Probe, path string) {
	t.Helper()
	if !assert.False(t, p == nil || p.HTTPGet == nil, "%s: must be an HTTP probe on the admin port", where) {
		return
	}
	assert.False(t, p.HTTPGet.Port.String() != "admin", "%s: on port %s, want the admin port", where, p.HTTPGet.Port.String())
	assert.False(t, path != "" && p.HTTPGet.Path != path, "%s: path %s, want %s", where, p.HTTPGet.Path, path)
	assert.False(t, path == "" && p.HTTPGet.Path != "/healthz" && p.HTTPGet.Path != "/readyz", "%s: path %s is not /healthz or /readyz", where, p.HTTPGet.Path)
}

func configMap(t testing.TB, r *rendered, name string) map[string]string {
	for _, cm := range typed[corev1.ConfigMap](t, r, "ConfigMap") {
		if cm.Name == name {
			return cm.Data
		}
	}
	return nil
}

// durationSetting is a duration flag's value as the container sees it: env, then the
// ConfigMap, then def.
func durationSetting(t *testing.T, cfg map[string]string, c corev1.Container, env string, def time.Duration) time.Duration {
	v, ok := cfg[env]
	for _, e := range c.Env {
		if e.Name == env {
			v, ok = e.Value, true
		}
	}
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	assert.NoError(t, err, "%s=%q", env, v)
	return d
}

// TestReferences: every Service selects a workload and its target ports exist; every
// HPA, PDB and PodMonitor targets something that exists; every ServiceAccount, ConfigMap
// and Secret a pod uses exists (Secrets of production are external: named in externalSecrets).
func TestReferences(t *testing.T) {
	const externalEndpoints = "tungsten.dev/external-endpoints"
	gate(t)
	externalSecrets := map[string]bool{"tungsten-postgres": true, "tungsten-redis": true, "tungsten-admin": true}
	for _, dir := range kustomizations(t) {
		r := render(t, dir)
		ws := workloads(t, r)
		names := map[string]bool{}
		for _, o := range r.objects {
			names[o.GetKind()+"/"+o.GetName()] = true
		}
		for _, s := range typed[corev1.Service](t, r, "Service") {
			sel := labels.SelectorFromSet(s.Spec.Selector)
			m := podsMatching(ws, sel)
			// A selector-less Service marked external fronts servers outside the cluster
			// (tests/cluster: the node's PostgreSQL and Redis, through EndpointSlices).
			if len(s.Spec.Selector) == 0 && s.Annotations[externalEndpoints] == "true" {
				continue
			}
			if !assert.False(t, len(s.Spec.Selector) == 0 || len(m) == 0, "%s: Service %s selects no workload", r.name, s.Name) {
				continue
			}
			for _, p := range s.Spec.Ports {
				assert.True(t, hasPort(m, p.TargetPort.String()), "%s: Service %s port %s: target port %s is not a port of %s", r.name, s.Name, p.Name, p.TargetPort.String(), m[0].name)
			}
		}
		for _, h := range typed[autoscalingv2.HorizontalPodAutoscaler](t, r, "HorizontalPodAutoscaler") {
			ref := h.Spec.ScaleTargetRef
			assert.True(t, names[ref.Kind+"/"+ref.Name], "%s: HPA %s targets %s/%s, which is not rendered", r.name, h.Name, ref.Kind, ref.Name)
			checkHPA(t, r, h, ws)
		}
		for _, p := range typed[policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget") {
			assert.NotEmpty(t, podsMatching(ws, mustSelector(t, p.Spec.Selector)), "%s: PDB %s selects no workload", r.name, p.Name)
		}
		for _, o := range r.objects {
			if o.GetKind() != "PodMonitor" {
				continue
			}
			var pm struct {
				Spec struct {
					Selector  metav1.LabelSelector `json:"selector"`
					Endpoints []struct {
						Port string `json:"port"`
					} `json:"podMetricsEndpoints"`
				} `json:"spec"`
			}
			fromUnstructured(t, o, &pm)
			m := podsMatching(ws, mustSelector(t, &pm.Spec.Selector))
			assert.NotEmpty(t, m, "%s: PodMonitor %s selects no workload", r.name, o.GetName())
			for _, w := range m {
				for _, e := range pm.Spec.Endpoints {
					assert.True(t, hasPort([]workload{w}, e.Port), "%s: PodMonitor %s: port %s is not a port of %s", r.name, o.GetName(), e.Port, w.name)
				}
			}
		}
		for _, w := range ws {
			spec := w.template.Spec
			sa := spec.ServiceAccountName
			assert.False(t, sa != "" && !names["ServiceAccount/"+sa], "%s: %s %s uses ServiceAccount %s, which is not rendered", r.name, w.kind, w.name, sa)
			for _, c := range spec.Containers {
				for _, e := range c.EnvFrom {
					if e.ConfigMapRef != nil {
						assert.True(t, names["ConfigMap/"+e.ConfigMapRef.Name], "%s: %s: ConfigMap %s is not rendered", r.name, w.name, e.ConfigMapRef.Name)
					}
				}
				for _, e := range c.Env {
					if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
						n := e.ValueFrom.SecretKeyRef.Name
						assert.False(t, !names["Secret/"+n] && !externalSecrets[n], "%s: %s: Secret %s is neither rendered nor a documented external Secret", r.name, w.name, n)
					}
				}
			}
			for _, v := range spec.Volumes {
				if v.ConfigMap != nil {
					assert.True(t, names["ConfigMap/"+v.ConfigMap.Name], "%s: %s: volume ConfigMap %s is not rendered", r.name, w.name, v.ConfigMap.Name)
				}
			}
		}
	}
}

func fromUnstructured(t testing.TB, o *unstructured.Unstructured, v any) {
	t.Helper()
	b, err := o.MarshalJSON()
	if err == nil {
		err = yaml.Unmarshal(b, v)
	}
	require.NoError(t, err, "%s", id(o))
}

// checkHPA: min 2, CPU and request-rate metrics, and targets reachable under load: the
// utilization target is below the limit/request headroom, so pods are not throttled
// before the HPA sees them busy.
// cpuOnlyHPA names the renders whose HPAs scale on CPU alone (see checkHPA).
var cpuOnlyHPA = map[string]bool{"tests/cluster": true}

func checkHPA(t *testing.T, r *rendered, h *autoscalingv2.HorizontalPodAutoscaler, ws []workload) {
	where := fmt.Sprintf("%s: HPA %s", r.name, h.Name)
	assert.False(t, h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2, "%s: minReplicas must be at least 2", where)
	var cpu, rate bool
	for _, m := range h.Spec.Metrics {
		switch {
		case m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource.Name == corev1.ResourceCPU:
			cpu = true
			u := m.Resource.Target.AverageUtilization
			if !assert.False(t, u == nil || *u > 80 || *u < 30, "%s: CPU target should be 30-80%% of the request", where) {
				continue
			}
			for _, w := range ws {
				if w.name != h.Spec.ScaleTargetRef.Name {
					continue
				}
				c := w.template.Spec.Containers[0]
				req, lim := c.Resources.Requests.Cpu().MilliValue(), c.Resources.Limits.Cpu().MilliValue()
				assert.False(t, req == 0 || lim < req*int64(*u)/100*2, "%s: CPU limit %dm leaves no headroom over %d%% of the %dm request", where, lim, *u, req)
				assert.False(t, req > 500, "%s: CPU request %dm: a large request makes the utilization target unreachable", where, req)
			}
		case m.Type == autoscalingv2.PodsMetricSourceType:
			rate = true
			assert.False(t, m.Pods.Metric.Name != adapterMetric(t), "%s: Pods metric %s is not the one prometheus-adapter serves (%s)", where, m.Pods.Metric.Name, adapterMetric(t))
			assert.False(t, m.Pods.Target.AverageValue == nil || m.Pods.Target.AverageValue.IsZero(), "%s: Pods metric needs an averageValue target", where)
		}
	}
	// The local cluster (tests/cluster, docs/adr/0005-cluster-datastores.md) has no
	// prometheus-adapter: a Pods metric nobody serves would keep that HPA from ever
	// scaling in, so it scales on CPU alone there.
	assert.False(t, !cpu || !rate && !cpuOnlyHPA[r.name], "%s: needs a CPU and a request-rate (Pods) metric", where)
}

var adapterOnce struct {
	sync.Once
	name string
}

// adapterMetric is the custom metric name the prometheus-adapter rule serves.
func adapterMetric(t *testing.T) string {
	adapterOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/kubernetes/components/monitoring/prometheus-adapter-values.yaml"))
		require.NoError(t, err)
		var v struct {
			Rules struct {
				Custom []struct {
					Name struct {
						As string `json:"as"`
					} `json:"name"`
				} `json:"custom"`
			} `json:"rules"`
		}
		require.NoError(t, yaml.Unmarshal(b, &v), "prometheus-adapter-values.yaml")
		require.NotEmpty(t, v.Rules.Custom, "prometheus-adapter-values.yaml: no custom rule")
		adapterOnce.name = v.Rules.Custom[0].Name.As
	})
	return adapterOnce.name
}

// TestNetworkPolicies: every policy selects pods; every ingress rule names a real port
// of those pods and callers that exist; the allowed calls between Tungsten services are
// exactly the architecture's (no more, no fewer).
func TestNetworkPolicies(t *testing.T) {
	gate(t)
	for _, dir := range kustomizations(t) {
		r := render(t, dir)
		ws := workloads(t, r)
		nps := typed[networkingv1.NetworkPolicy](t, r, "NetworkPolicy")
		if len(nps) == 0 {
			continue
		}
		allowed := map[string]map[string]bool{}
		defaultDeny := false
		for _, np := range nps {
			sel := mustSelector(t, &np.Spec.PodSelector)
			targets := podsMatching(ws, sel)
			if sel.Empty() && len(np.Spec.Ingress) == 0 && len(np.Spec.Egress) == 0 {
				defaultDeny = true
			}
			assert.NotEmpty(t, targets, "%s: NetworkPolicy %s selects no pod", r.name, np.Name)
			for _, in := range np.Spec.Ingress {
				for _, p := range in.Ports {
					if p.Port != nil {
						assert.True(t, hasPort(targets, p.Port.String()), "%s: NetworkPolicy %s: port %s is not a port of the pods it selects", r.name, np.Name, p.Port.String())
					}
				}
				for _, from := range in.From {
					if from.PodSelector == nil || from.NamespaceSelector != nil {
						continue // another namespace (ingress gateway, Prometheus)
					}
					callers := podsMatching(ws, mustSelector(t, from.PodSelector))
					assert.NotEmpty(t, callers, "%s: NetworkPolicy %s allows callers that do not exist", r.name, np.Name)
					for _, tg := range targets {
						for _, c := range callers {
							if isTungsten(tg) && isTungsten(c) && c.kind != "Job" {
								callee, caller := tg.template.Labels["app.kubernetes.io/component"], c.template.Labels["app.kubernetes.io/component"]
								if allowed[callee] == nil {
									allowed[callee] = map[string]bool{}
								}
								allowed[callee][caller] = true
							}
						}
					}
				}
			}
		}
		if !defaultDeny {
			continue // only the datastores' own policies: no default deny, nothing to compare
		}
		checkMatrix(t, r.name+": NetworkPolicy", allowed)
	}
}

func checkMatrix(t *testing.T, where string, allowed map[string]map[string]bool) {
	t.Helper()
	for callee, callers := range calls {
		var got []string
		for c := range allowed[callee] {
			got = append(got, c)
		}
		sort.Strings(got)
		assert.False(t, strings.Join(got, ",") != strings.Join(callers, ","), "%s: %s accepts calls from [%s], the architecture needs exactly [%s]", where, callee, strings.Join(got, ","), strings.Join(callers, ","))
	}
	for callee := range allowed {
		_, ok := calls[callee]
		assert.True(t, ok || callee == "gateway", "%s: %s accepts calls from other services, the architecture has none", where, callee)
	}
}

// TestAuthorizationPolicies: the same matrix through Istio principals; every principal is
// the ServiceAccount of a workload, every port a real port of the selected pods.
func TestAuthorizationPolicies(t *testing.T) {
	gate(t)
	for _, dir := range kustomizations(t) {
		r := render(t, dir)
		ws := workloads(t, r)
		saComponent := map[string]string{}
		for _, w := range ws {
			if isTungsten(w) {
				saComponent["cluster.local/ns/tungsten/sa/"+w.template.Spec.ServiceAccountName] = w.template.Labels["app.kubernetes.io/component"]
			}
		}
		allowed := map[string]map[string]bool{}
		found := false
		for _, o := range r.objects {
			if o.GetKind() != "AuthorizationPolicy" {
				continue
			}
			found = true
			var ap struct {
				Spec struct {
					Selector *metav1.LabelSelector `json:"selector"`
					Action   string                `json:"action"`
					Rules    []struct {
						From []struct {
							Source struct {
								Principals []string `json:"principals"`
							} `json:"source"`
						} `json:"from"`
						To []struct {
							Operation struct {
								Ports []string `json:"ports"`
							} `json:"operation"`
						} `json:"to"`
					} `json:"rules"`
				} `json:"spec"`
			}
			fromUnstructured(t, o, &ap)
			if ap.Spec.Selector == nil {
				continue // namespace-wide (allow-nothing)
			}
			targets := podsMatching(ws, mustSelector(t, ap.Spec.Selector))
			assert.NotEmpty(t, targets, "%s: AuthorizationPolicy %s selects no pod", r.name, o.GetName())
			for _, rule := range ap.Spec.Rules {
				for _, to := range rule.To {
					for _, p := range to.Operation.Ports {
						assert.True(t, hasPort(targets, p), "%s: AuthorizationPolicy %s: port %s is not a port of the pods it selects", r.name, o.GetName(), p)
					}
				}
				for _, from := range rule.From {
					for _, p := range from.Source.Principals {
						if strings.Contains(p, "/ns/istio-system/") {
							continue
						}
						caller, ok := saComponent[p]
						if !assert.True(t, ok, "%s: AuthorizationPolicy %s allows %s, the ServiceAccount of no workload", r.name, o.GetName(), p) {
							continue
						}
						for _, tg := range targets {
							callee := tg.template.Labels["app.kubernetes.io/component"]
							if allowed[callee] == nil {
								allowed[callee] = map[string]bool{}
							}
							allowed[callee][caller] = true
						}
					}
				}
			}
		}
		if found {
			checkMatrix(t, r.name+": AuthorizationPolicy", allowed)
		}
	}
}

var helpOnce struct {
	sync.Once
	flags, envs map[string]bool
	err         error
}

// serveHelp runs `tungsten serve --help` ($TUNGSTEN_BIN, else go run) once and returns its flags and env vars.
func serveHelp(t *testing.T) (flags, envs map[string]bool) {
	helpOnce.Do(func() {
		var cmd *exec.Cmd
		if bin := os.Getenv("TUNGSTEN_BIN"); bin != "" {
			cmd = exec.Command(bin, "serve", "--help")
		} else {
			cmd = exec.Command("go", "run", "./cmd/tungsten", "serve", "--help")
			cmd.Dir = repoRoot(t)
		}
		out, _ := cmd.CombinedOutput() // --help may exit non-zero
		helpOnce.flags, helpOnce.envs = map[string]bool{}, map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^\s+(--[a-z0-9.\-]+)`).FindAllStringSubmatch(string(out), -1) {
			helpOnce.flags[m[1]] = true
		}
		for _, m := range regexp.MustCompile(`env (TUNGSTEN_[A-Z0-9_]+)`).FindAllStringSubmatch(string(out), -1) {
			helpOnce.envs[m[1]] = true
		}
		if len(helpOnce.flags) < 20 {
			helpOnce.err = fmt.Errorf("tungsten serve --help listed %d flags:\n%s", len(helpOnce.flags), out)
		}
	})
	require.NoError(t, helpOnce.err)
	return helpOnce.flags, helpOnce.envs
}

// TestFlagsExist: every --flag and TUNGSTEN_* variable a manifest gives the binary exists
// in `tungsten serve --help`, and every --target matches the pod's component label.
// TestFaultInjectionIsOptIn: every Tungsten server takes its operator token
// (TUNGSTEN_ADMIN_TOKEN, without which fault injection is refused) from the
// Secret tungsten-admin, key token, marked optional: nothing renders that
// Secret, so fault injection stays off until an operator creates it (ADR 0016).
func TestFaultInjectionIsOptIn(t *testing.T) {
	gate(t)
	for _, dir := range kustomizations(t) {
		r := render(t, dir)
		for _, o := range r.objects {
			assert.False(t, o.GetKind() == "Secret" && o.GetName() == "tungsten-admin", "%s: renders Secret tungsten-admin: fault injection must be turned on by an operator, not by a manifest", r.name)
		}
		for _, w := range workloads(t, r) {
			if !isTungsten(w) || w.kind == "Job" {
				continue
			}
			for _, c := range w.template.Spec.Containers {
				found := false
				for _, e := range c.Env {
					if e.Name != "TUNGSTEN_ADMIN_TOKEN" {
						continue
					}
					found = true
					ref := e.ValueFrom
					assert.False(t, e.Value != "" || ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != "tungsten-admin" ||
						ref.SecretKeyRef.Key != "token" || ref.SecretKeyRef.Optional == nil || !*ref.SecretKeyRef.Optional,
						"%s: %s: TUNGSTEN_ADMIN_TOKEN must come from the optional Secret tungsten-admin, key token", r.name, w.name)
				}
				assert.True(t, found, "%s: %s: no TUNGSTEN_ADMIN_TOKEN from the optional Secret tungsten-admin", r.name, w.name)
			}
		}
	}
}

func TestFlagsExist(t *testing.T) {
	gate(t)
	flags, envs := serveHelp(t)
	for _, dir := range kustomizations(t) {
		r := render(t, dir)
		for k := range configMap(t, r, "tungsten-config") {
			assert.False(t, strings.HasPrefix(k, "TUNGSTEN_") && !envs[k], "%s: ConfigMap tungsten-config sets %s, which tungsten serve --help does not list", r.name, k)
		}
		for _, w := range workloads(t, r) {
			if !isTungsten(w) {
				continue
			}
			for _, c := range w.template.Spec.Containers {
				if !assert.False(t, len(c.Args) == 0 || (c.Args[0] != "serve" && c.Args[0] != "migrate"), "%s: %s: args must start with serve or migrate, got %v", r.name, w.name, c.Args) {
					continue
				}
				for _, a := range c.Args[1:] {
					name, value, _ := strings.Cut(a, "=")
					assert.True(t, flags[name], "%s: %s: flag %s is not in tungsten serve --help", r.name, w.name, name)
					assert.False(t, name == "--target" && value != w.template.Labels["app.kubernetes.io/component"], "%s: %s: --target=%s but the pod's component label is %s", r.name, w.name, value, w.template.Labels["app.kubernetes.io/component"])
				}
				for _, e := range c.Env {
					assert.False(t, strings.HasPrefix(e.Name, "TUNGSTEN_") && !envs[e.Name], "%s: %s: env %s is not in tungsten serve --help", r.name, w.name, e.Name)
				}
			}
		}
	}
}

var secretish = regexp.MustCompile(`(?i)(password|passwd|secret|token|api[-_]?key|private)`)

// TestNoSecretValues: production renders no Secret at all (they are referenced); the
// dev datastore Secrets hold URLs without credentials; nothing under deploy/ embeds a
// password in a URL.
func TestNoSecretValues(t *testing.T) {
	gate(t)
	for _, dir := range kustomizations(t) {
		r := render(t, dir)
		for _, s := range typed[corev1.Secret](t, r, "Secret") {
			assert.False(t, strings.HasPrefix(r.name, "overlays/production"), "%s: Secret %s is rendered; production Secrets are created out of band", r.name, s.Name)
			vals := map[string]string{}
			for k, v := range s.StringData {
				vals[k] = v
			}
			for k, v := range s.Data {
				vals[k] = string(v)
			}
			for k, v := range vals {
				assert.False(t, secretish.MatchString(k) && v != "", "%s: Secret %s key %s carries a value", r.name, s.Name, k)
				if u, err := url.Parse(v); err == nil && u.User != nil {
					_, has := u.User.Password()
					assert.False(t, has, "%s: Secret %s key %s: URL with a password", r.name, s.Name, k)
				}
			}
		}
	}
	withPassword := regexp.MustCompile(`[a-z]+://[^/\s:@'"]+:[^/\s@'"]+@`)
	root := filepath.Join(repoRoot(t), "deploy")
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m := withPassword.Find(b)
		assert.Nil(t, m, "%s: URL with credentials %q", p, m)
		return nil
	})
}

// TestStrictDecoderRejectsUnknownFields proves the decoder of TestStrictDecode is strict.
func TestStrictDecoderRejectsUnknownFields(t *testing.T) {
	var m map[string]any
	require.NoError(t, yaml.Unmarshal([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicaz: 2}\n"), &m))
	_, err := decodeStrict(&unstructured.Unstructured{Object: m})
	require.ErrorContains(t, err, "replicaz", "strict decoding accepted an unknown field")
}

// TestProductionIsComplete: production has what the issue asks of it, so a dropped
// component fails here rather than in the cluster.
func TestProductionIsComplete(t *testing.T) {
	gate(t)
	r := render(t, filepath.Join(repoRoot(t), "deploy/kubernetes/overlays/production"))
	count := map[string]int{}
	for _, o := range r.objects {
		count[o.GetKind()]++
	}
	for kind, min := range map[string]int{
		"Deployment": 5, "HorizontalPodAutoscaler": 5, "PodDisruptionBudget": 5, "NetworkPolicy": 8,
		"PeerAuthentication": 1, "AuthorizationPolicy": 6, "DestinationRule": 5, "VirtualService": 5,
		"Gateway": 1, "PodMonitor": 1, "PrometheusRule": 2, "Rollout": 1, "AnalysisTemplate": 1,
		"StatefulSet": 1, "Job": 1,
	} {
		assert.False(t, count[kind] < min, "overlays/production renders %d %s, want at least %d", count[kind], kind, min)
	}
	for _, kind := range []string{"Secret"} {
		assert.False(t, count[kind] > 0, "overlays/production renders a %s", kind)
	}
}
