// Package doctor names the culprit of an incident from an evidence snapshot
// gathered in the operators' triage order (pod status, container logs, node
// status, metrics, log search, traces). The sources are adapters that fill a
// Snapshot; Diagnose is a pure function over it, so the rules are unit-tested
// without I/O and the same evidence always gives the same verdict.
package doctor

import "time"

// Components are the names a verdict may carry, besides None.
var Components = []string{"gateway", "auth", "users", "blog", "web", "postgres", "redis", "nats", "node"}

// None is the verdict of a healthy system.
const None = "none"

// Steps in triage order; an Evidence item names one.
const (
	StepPods      = "pods"
	StepLogs      = "logs"
	StepNode      = "node"
	StepMetrics   = "metrics"
	StepLogSearch = "logsearch"
	StepTraces    = "traces"
)

// Window is the time frame the sources compare: the last Window against the
// Baseline before it.
type Window struct {
	Window, Baseline time.Duration
}

// Snapshot is everything the sources observed; a source that could not be
// consulted leaves its part empty and adds a NotConsulted entry.
type Snapshot struct {
	Pods         []Pod
	Nodes        []Node
	Services     map[string]ServiceRED
	Deps         []Dep
	Memory       []Resident
	Alerts       []Alert
	LogErrors    []LogErrors
	Hops         []Hop
	Processes    []Process
	Notes        []Evidence // evidence without a score (reproduce commands, context)
	NotConsulted []NotConsulted
}

// PhaseGone is the phase of a pod that was stopped inside the window while
// no pod of its component runs any more (a StatefulSet scaled to zero, a
// deleted Deployment): the Pod stands for the component's absence.
const PhaseGone = "Gone"

// Pod is the status of one pod of a component.
type Pod struct {
	Component, Name, Phase string
	Ready                  bool
	Restarts               int32
	Waiting                string // CrashLoopBackOff, ImagePullBackOff, ...
	LastTerminated         string // OOMKilled, Error, ...
	ExitCode               int32
	RecentRestarts         int32   // restarts whose termination is inside the window
	Replaced               string  // the pod this one replaced inside the window (killed or deleted)
	CPURatio, MemRatio     float64 // usage over limit, 0 when unknown
	Reproduce              string
}

// Node is the status of one node.
type Node struct {
	Name      string
	Pressure  []string // MemoryPressure, DiskPressure, PIDPressure, NotReady
	CPURatio  float64  // usage over allocatable, 0 when unknown
	MemRatio  float64
	Reproduce string
}

// ServiceRED is one service's request rate (req/s), 5xx ratio and p99
// (seconds) in the window and in the baseline.
type ServiceRED struct {
	Rate, ErrRatio, P99             float64
	BaseRate, BaseErrRatio, BaseP99 float64
	Reproduce                       string
}

// Dep is one client-side signal of a service about a datastore: a rate of
// errors or of time waited, now and in the baseline, with the absolute
// floor under which it is noise.
type Dep struct {
	Client, Datastore, Signal string
	Now, Base, Floor          float64
	Reproduce                 string
}

// Resident is a component's resident memory in bytes (its largest process)
// now and on average over the baseline: a leak shows as growth long before
// the pod reaches its limit (a limit of 512 MiB leaves a 70 MiB service
// room to grow sevenfold).
type Resident struct {
	Component string
	Now, Base float64
	Reproduce string
}

// Alert is a firing Prometheus alert.
type Alert struct {
	Name, Component string
}

// LogErrors counts error lines of a component in the window and baseline.
type LogErrors struct {
	Component       string
	Now, Base       int
	Sample          string
	Step, Reproduce string
}

// Hop is the failing or slow hop of a trace: the deepest span with an error
// or the span dominating the trace's duration, by the component it names.
type Hop struct {
	Component string
	Error     bool
	SelfMS    float64
	TraceID   string
	Reproduce string
}

// Process is a non-Kubernetes process's health from its admin listener.
type Process struct {
	URL        string
	Components []string // modules the process serves, when known
	Healthy    bool
	Ready      bool
	Detail     string
}

// NotConsulted says why a source gave no evidence.
type NotConsulted struct {
	Source string `json:"source"`
	Why    string `json:"why"`
}

// Evidence is one item of the chain shown to the operator.
type Evidence struct {
	Step      string `json:"step"`
	Component string `json:"component"`
	Summary   string `json:"summary"`
	Reproduce string `json:"reproduce"`
}

// Merge appends another source's part of a snapshot to s.
func (s *Snapshot) Merge(o Snapshot) {
	s.Pods = append(s.Pods, o.Pods...)
	s.Nodes = append(s.Nodes, o.Nodes...)
	if len(o.Services) > 0 && s.Services == nil {
		s.Services = map[string]ServiceRED{}
	}
	for k, v := range o.Services {
		s.Services[k] = v
	}
	s.Deps = append(s.Deps, o.Deps...)
	s.Memory = append(s.Memory, o.Memory...)
	s.Alerts = append(s.Alerts, o.Alerts...)
	s.LogErrors = append(s.LogErrors, o.LogErrors...)
	s.Hops = append(s.Hops, o.Hops...)
	s.Processes = append(s.Processes, o.Processes...)
	s.Notes = append(s.Notes, o.Notes...)
	s.NotConsulted = append(s.NotConsulted, o.NotConsulted...)
}
