// Package kube is the doctor's Kubernetes source, the first three steps of
// the triage order: pod status (phase, readiness, waiting and termination
// reasons, restarts and replacements inside the window, Warning events),
// container logs (error lines per component, now against the baseline) and
// node status and resources (conditions, metrics.k8s.io usage against
// allocatable and against each container's limits).
package kube

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tungsten-blog/tungsten/internal/doctor"
)

// ComponentLabel is the label every Tungsten pod carries (deploy/kubernetes).
const ComponentLabel = "app.kubernetes.io/component"

// Bounds on what one run reads, so a large namespace cannot make it slow.
const (
	maxPods       = 50
	maxLogPods    = 20
	maxLogBytes   = 2 << 20
	maxEvents     = 500
	maxEventPages = 20
)

// Source reads one namespace of one cluster.
type Source struct {
	Client    kubernetes.Interface
	Namespace string
	// Kubectl is how the reproduce commands name the cluster ("kubectl" or
	// "kubectl --kubeconfig F").
	Kubectl string
	now     func() time.Time
}

// New builds a Source from a kubeconfig file ("" = the default loading
// rules: $KUBECONFIG, ~/.kube/config, in-cluster).
func New(kubeconfig, namespace string) (*Source, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	kubectl := "kubectl"
	if kubeconfig != "" {
		rules.ExplicitPath = kubeconfig
		kubectl = "kubectl --kubeconfig " + kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.Timeout = 15 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the Kubernetes client: %w", err)
	}
	return &Source{Client: cs, Namespace: namespace, Kubectl: kubectl}, nil
}

func (s *Source) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// Collect fills snap's pods, logs and node parts. An error means the API
// server could not be consulted at all; a failing part becomes a note.
func (s *Source) Collect(ctx context.Context, w doctor.Window, snap *doctor.Snapshot) error {
	pods, err := s.Client.CoreV1().Pods(s.Namespace).List(ctx, metav1.ListOptions{Limit: maxPods})
	if err != nil {
		return fmt.Errorf("listing pods in %s: %w", s.Namespace, err)
	}
	now := s.clock()
	since := now.Add(-w.Window)
	events := s.events(ctx, since, snap)
	usage := s.podUsage(ctx, pods.Items, snap)
	var tungsten []corev1.Pod
	for _, p := range pods.Items {
		// A finished Job's pod (the migrations) is neither ready nor a fault.
		comp := p.Labels[ComponentLabel]
		if !known(comp) || p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		tungsten = append(tungsten, p)
		snap.Pods = append(snap.Pods, PodStatus(p, since, usage[p.Name], events, s.kc()))
	}
	snap.Pods = append(snap.Pods, gone(tungsten, events, s.Namespace, s.kc())...)
	if len(tungsten) == 0 {
		snap.NotConsulted = append(snap.NotConsulted, doctor.NotConsulted{Source: "pods",
			Why: fmt.Sprintf("no pod labelled %s in namespace %s", ComponentLabel, s.Namespace)})
	}
	for _, e := range events {
		snap.Notes = append(snap.Notes, doctor.Evidence{Step: doctor.StepPods, Component: e.component,
			Summary:   fmt.Sprintf("event %s %s on %s: %s (x%d)", e.Type, e.Reason, e.object, truncate(e.Message, 160), e.Count),
			Reproduce: fmt.Sprintf("%s -n %s get events --field-selector involvedObject.name=%s", s.kc(), s.Namespace, e.object)})
	}
	s.logs(ctx, tungsten, w, now, snap)
	s.nodes(ctx, snap)
	return nil
}

func (s *Source) kc() string {
	if s.Kubectl == "" {
		return "kubectl"
	}
	return s.Kubectl
}

// event is a Warning event, or a Killing one (a pod killed or deleted),
// inside the window.
type event struct {
	corev1.Event
	object, component string
}

// events lists the namespace's events page by page (they come in name
// order, not time order, so the window's may be on any page), at most
// maxEventPages pages of maxEvents.
func (s *Source) events(ctx context.Context, since time.Time, snap *doctor.Snapshot) []event {
	var items []corev1.Event
	opts := metav1.ListOptions{Limit: maxEvents}
	for page := 0; page < maxEventPages; page++ {
		list, err := s.Client.CoreV1().Events(s.Namespace).List(ctx, opts)
		if err != nil {
			snap.NotConsulted = append(snap.NotConsulted, doctor.NotConsulted{Source: "events", Why: err.Error()})
			return nil
		}
		items = append(items, list.Items...)
		if opts.Continue = list.Continue; opts.Continue == "" {
			break
		}
		if page == maxEventPages-1 {
			snap.Notes = append(snap.Notes, doctor.Evidence{Step: doctor.StepPods, Component: doctor.None,
				Summary: fmt.Sprintf("only the first %d events of %s read", maxEvents*maxEventPages, s.Namespace)})
		}
	}
	var out []event
	for _, e := range items {
		if eventTime(e).Before(since) || (e.Type != corev1.EventTypeWarning && e.Reason != "Killing") {
			continue
		}
		out = append(out, event{Event: e, object: e.InvolvedObject.Name, component: componentOfObject(e.InvolvedObject.Name)})
	}
	sort.Slice(out, func(i, j int) bool { return eventTime(out[i].Event).Before(eventTime(out[j].Event)) })
	return out
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case e.Series != nil:
		return e.Series.LastObservedTime.Time
	}
	return e.FirstTimestamp.Time
}

// known reports whether comp is a component a verdict can name (or "all",
// the all-in-one pods).
func known(comp string) bool {
	return comp == "all" || slices.Contains(doctor.Components, comp)
}

// componentOfObject reads the component from a Tungsten object's name
// ("tungsten-blog-7d9c-xk2p" → "blog"); "" when it is not one.
func componentOfObject(name string) string {
	rest, ok := strings.CutPrefix(name, "tungsten-")
	if !ok {
		return ""
	}
	comp, _, _ := strings.Cut(rest, "-")
	if !known(comp) {
		return ""
	}
	return comp
}

// gone stands for each component a pod of which was stopped (Killing) in
// the window while no pod of it exists any more.
func gone(pods []corev1.Pod, events []event, namespace, kubectl string) []doctor.Pod {
	running := map[string]bool{}
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			running[p.Labels[ComponentLabel]] = true
		}
	}
	var out []doctor.Pod
	seen := map[string]bool{}
	for _, e := range events {
		if e.Reason != "Killing" || e.component == "" || running[e.component] || seen[e.component] {
			continue
		}
		seen[e.component] = true
		out = append(out, doctor.Pod{Component: e.component, Name: e.object, Phase: doctor.PhaseGone,
			Reproduce: fmt.Sprintf("%s -n %s get pods,statefulsets,deployments -l %s=%s; %s -n %s get events --field-selector involvedObject.name=%s",
				kubectl, namespace, ComponentLabel, e.component, kubectl, namespace, e.object)})
	}
	return out
}

// sameReplicaSet reports whether two pod names share their ReplicaSet's
// name (a Deployment's pods are <replicaset>-<suffix>).
func sameReplicaSet(a, b string) bool {
	i, j := strings.LastIndexByte(a, '-'), strings.LastIndexByte(b, '-')
	return i > 0 && j > 0 && a[:i] == b[:j]
}

// PodStatus turns one pod into the doctor's view of it: events are this
// run's window of events, usage its containers' usage against their limits.
func PodStatus(p corev1.Pod, since time.Time, usage Usage, events []event, kubectl string) doctor.Pod {
	out := doctor.Pod{
		Component: p.Labels[ComponentLabel], Name: p.Name, Phase: string(p.Status.Phase),
		CPURatio: usage.CPURatio, MemRatio: usage.MemRatio,
		Reproduce: fmt.Sprintf("%s -n %s describe pod %s", kubectl, p.Namespace, p.Name),
	}
	if p.DeletionTimestamp != nil {
		out.Phase = "Terminating"
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			out.Ready = c.Status == corev1.ConditionTrue
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		out.Restarts += cs.RestartCount
		if w := cs.State.Waiting; w != nil && out.Waiting == "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
			out.Waiting = w.Reason
		}
		if t := cs.LastTerminationState.Terminated; t != nil && !t.FinishedAt.Time.Before(since) {
			out.RecentRestarts++
			out.LastTerminated, out.ExitCode = t.Reason, t.ExitCode
		}
	}
	// A pod created inside the window in the same ReplicaSet as a pod killed
	// inside it replaced that pod: it was killed or deleted, not rolled (a
	// rollout's new pods belong to a new ReplicaSet).
	if !p.CreationTimestamp.Time.Before(since) && out.Phase != "Terminating" {
		for _, e := range events {
			if e.Reason == "Killing" && e.object != p.Name && sameReplicaSet(e.object, p.Name) {
				out.Replaced = e.object
			}
		}
	}
	if out.Replaced != "" {
		out.Reproduce = fmt.Sprintf("%s -n %s get events --field-selector involvedObject.name=%s", kubectl, p.Namespace, out.Replaced)
	}
	return out
}

// logs counts each component's error lines in its pods' container logs.
func (s *Source) logs(ctx context.Context, pods []corev1.Pod, w doctor.Window, now time.Time, snap *doctor.Snapshot) {
	type result struct {
		comp           string
		count          Counts
		pod, container string
		err            error
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		res []result
		sem = make(chan struct{}, 4)
	)
	sinceSeconds := int64((w.Window + w.Baseline) / time.Second)
	cutoff := now.Add(-w.Window)
	for i, p := range pods {
		if i == maxLogPods {
			snap.Notes = append(snap.Notes, doctor.Evidence{Step: doctor.StepLogs, Component: doctor.None,
				Summary: fmt.Sprintf("container logs of the first %d of %d pods read", maxLogPods, len(pods))})
			break
		}
		if len(p.Spec.Containers) == 0 {
			continue
		}
		container := p.Spec.Containers[0].Name
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			limit := int64(maxLogBytes)
			req := s.Client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{
				Container: container, SinceSeconds: &sinceSeconds, Timestamps: true, LimitBytes: &limit})
			r := result{comp: p.Labels[ComponentLabel], pod: p.Name, container: container}
			stream, err := req.Stream(ctx)
			if err == nil {
				r.count, err = CountErrors(io.LimitReader(stream, maxLogBytes), cutoff)
				stream.Close()
			}
			r.err = err
			mu.Lock()
			res = append(res, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(res, func(i, j int) bool { return res[i].pod < res[j].pod })
	byComp := map[string]*doctor.LogErrors{}
	var order []string
	for _, r := range res {
		if r.err != nil {
			snap.Notes = append(snap.Notes, doctor.Evidence{Step: doctor.StepLogs, Component: r.comp,
				Summary: fmt.Sprintf("logs of %s not read: %v", r.pod, r.err)})
			continue
		}
		le := byComp[r.comp]
		if le == nil {
			le = &doctor.LogErrors{Component: r.comp, Step: doctor.StepLogs,
				Reproduce: fmt.Sprintf(`%s -n %s logs -l %s=%s --since=%s --prefix | grep '"level":"ERROR"'`, s.kc(), s.Namespace, ComponentLabel, r.comp, w.Window)}
			byComp[r.comp] = le
			order = append(order, r.comp)
		}
		le.Now += r.count.Now
		le.Base += r.count.Base
		if r.count.Sample != "" {
			le.Sample = r.count.Sample
		}
	}
	for _, c := range order {
		le := byComp[c]
		le.Base = scale(le.Base, w)
		snap.LogErrors = append(snap.LogErrors, *le)
	}
}

// scale turns a count over the baseline into the same rate over the window.
func scale(n int, w doctor.Window) int {
	if w.Baseline <= 0 {
		return n
	}
	return int(float64(n)*float64(w.Window)/float64(w.Baseline) + 0.5)
}

// nodes reads node conditions and usage against allocatable.
func (s *Source) nodes(ctx context.Context, snap *doctor.Snapshot) {
	nodes, err := s.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{Limit: maxPods})
	if err != nil {
		snap.NotConsulted = append(snap.NotConsulted, doctor.NotConsulted{Source: "nodes", Why: err.Error()})
		return
	}
	usage := map[string]Quantities{}
	raw, err := s.Client.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/nodes").DoRaw(ctx)
	if err == nil {
		usage, err = DecodeNodeMetrics(raw)
	}
	if err != nil {
		snap.NotConsulted = append(snap.NotConsulted, doctor.NotConsulted{Source: "metrics.k8s.io nodes", Why: truncate(err.Error(), 200)})
	}
	for _, n := range nodes.Items {
		snap.Nodes = append(snap.Nodes, NodeStatus(n, usage[n.Name], s.kc()))
	}
}

// NodeStatus turns one node and its usage into the doctor's view of it.
func NodeStatus(n corev1.Node, u Quantities, kubectl string) doctor.Node {
	out := doctor.Node{Name: n.Name, Reproduce: fmt.Sprintf("%s describe node %s; %s top node %s", kubectl, n.Name, kubectl, n.Name)}
	for _, c := range n.Status.Conditions {
		switch {
		case c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue:
			out.Pressure = append(out.Pressure, "NotReady")
		case c.Type != corev1.NodeReady && c.Status == corev1.ConditionTrue:
			out.Pressure = append(out.Pressure, string(c.Type))
		}
	}
	if cpu := n.Status.Allocatable.Cpu(); cpu != nil && cpu.MilliValue() > 0 && u.CPUMilli > 0 {
		out.CPURatio = float64(u.CPUMilli) / float64(cpu.MilliValue())
	}
	if mem := n.Status.Allocatable.Memory(); mem != nil && mem.Value() > 0 && u.MemBytes > 0 {
		out.MemRatio = float64(u.MemBytes) / float64(mem.Value())
	}
	return out
}

// Usage is a pod's usage against its limits: the highest ratio among its
// containers that have a limit, 0 when none has.
type Usage struct{ CPURatio, MemRatio float64 }

func (s *Source) podUsage(ctx context.Context, pods []corev1.Pod, snap *doctor.Snapshot) map[string]Usage {
	raw, err := s.Client.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces/" + s.Namespace + "/pods").DoRaw(ctx)
	var metrics map[string]map[string]Quantities
	if err == nil {
		metrics, err = DecodePodMetrics(raw)
	}
	if err != nil {
		snap.NotConsulted = append(snap.NotConsulted, doctor.NotConsulted{Source: "metrics.k8s.io pods", Why: truncate(err.Error(), 200)})
		return nil
	}
	out := map[string]Usage{}
	for _, p := range pods {
		out[p.Name] = PodUsage(p, metrics[p.Name])
	}
	return out
}

// PodUsage compares each container's usage with its limits.
func PodUsage(p corev1.Pod, byContainer map[string]Quantities) Usage {
	var u Usage
	for _, c := range p.Spec.Containers {
		q, ok := byContainer[c.Name]
		if !ok {
			continue
		}
		if l := c.Resources.Limits.Cpu(); l != nil && l.MilliValue() > 0 {
			u.CPURatio = max(u.CPURatio, float64(q.CPUMilli)/float64(l.MilliValue()))
		}
		if l := c.Resources.Limits.Memory(); l != nil && l.Value() > 0 {
			u.MemRatio = max(u.MemRatio, float64(q.MemBytes)/float64(l.Value()))
		}
	}
	return u
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}
