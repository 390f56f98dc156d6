package doctor

import (
	"fmt"
	"sort"
	"strings"
)

// Thresholds: an anomaly must cross both a ratio to its baseline and an
// absolute floor, so a quiet system with a noisy baseline stays quiet.
const (
	ErrRatioFloor  = 0.05     // 5xx ratio above 5% ...
	ErrRatioFactor = 3.0      // ... and above 3x the baseline
	P99Floor       = 0.100    // p99 above 100 ms ...
	P99Factor      = 2.0      // ... and above 2x the baseline
	MinRate        = 0.05     // req/s under which RED is not judged
	DepFactor      = 3.0      // a dependency signal above 3x its baseline and its floor
	UsageRatio     = 0.85     // CPU or memory above 85% of the limit
	GrowthFactor   = 2.0      // resident memory above 2x its baseline ...
	GrowthFloor    = 64 << 20 // ... and at least 64 MiB more: growing, far from any limit yet
	LogFactor      = 3.0      // errors logged (lines and the repeats the handler suppressed) above 3x the baseline ...
	LogFloor       = 20       // ... and at least this many in the window
	Threshold      = 0.3      // a component scoring less is not a verdict
)

// Scores of one step's finding; a direct observation (a pod crashing, a
// node under pressure) outweighs an inference from metrics.
const (
	scorePod      = 1.0
	scoreRestart  = 0.8
	scoreReplaced = 0.7
	scoreNode     = 0.9
	scoreDepMany  = 0.9
	scoreDepOne   = 0.8
	scoreRED      = 0.6
	scoreUsage    = 0.5
	scoreProcess  = 0.9
	scoreHop      = 0.4
	scoreLogs     = 0.3
	victimDiscout = 0.25 // a service whose dependency is anomalous keeps a quarter
)

// downstream is the call graph (internal/app wires it): who each component
// calls. The gateway fronts every service, keeps its rate limits in Redis
// and follows token revocations on NATS (its readiness depends on it); auth
// checks passwords with users; the blog falls back to users for authors;
// the services use the datastores. Only calls on request paths are edges
// (users' calls to auth are not), so the graph has no cycle.
var downstream = map[string][]string{
	"gateway": {"auth", "users", "blog", "web", "redis", "nats"},
	"web":     {"auth", "users", "blog"},
	"blog":    {"users", "postgres", "redis", "nats"},
	"auth":    {"users", "postgres", "redis"},
	"users":   {"postgres", "nats"},
}

// Ranked is one candidate culprit.
type Ranked struct {
	Component  string  `json:"component"`
	Confidence float64 `json:"confidence"`
	Reason     string  `json:"reason"`
}

// Verdict is the top candidate, or None.
type Verdict struct {
	Component  string  `json:"component"`
	Confidence float64 `json:"confidence"`
	Reason     string  `json:"reason"`
	Runbook    string  `json:"runbook"`
}

// Diagnosis is the outcome of Diagnose.
type Diagnosis struct {
	Verdict  Verdict
	Ranked   []Ranked
	Evidence []Evidence
}

type scorer struct {
	// direct: a fault of the component itself was observed (a crash, an
	// OOM kill, a restart, a dead process, node pressure); it is never
	// discounted as a victim. A pod or process that is merely not ready is
	// a symptom: readiness checks the dependencies too.
	direct   map[string]bool
	symptom  map[string]bool
	score    map[string]float64
	reasons  map[string][]string
	evidence []Evidence
}

func (s *scorer) add(comp string, v float64, step, summary, reproduce string) {
	if comp == "" {
		comp = None
	}
	if v > 0 && comp != None {
		if v > s.score[comp] {
			s.score[comp] = v
		} else {
			// Corroboration from another step raises the score a little.
			s.score[comp] += v * 0.1
		}
		s.reasons[comp] = append(s.reasons[comp], summary)
	}
	s.evidence = append(s.evidence, Evidence{Step: step, Component: comp, Summary: summary, Reproduce: reproduce})
}

var stepOrder = map[string]int{StepPods: 0, StepLogs: 1, StepNode: 2, StepMetrics: 3, StepLogSearch: 4, StepTraces: 5}

// Diagnose scores every component from the snapshot and names the culprit.
// It is pure: the same snapshot always gives the same diagnosis.
func Diagnose(snap Snapshot) Diagnosis {
	s := &scorer{direct: map[string]bool{}, symptom: map[string]bool{}, score: map[string]float64{}, reasons: map[string][]string{}}

	// Pods: a crash-looping, OOM-killed, restarted, replaced or unready pod
	// names its service.
	cpuHot := false // a pod uses its whole CPU limit
	for _, p := range snap.Pods {
		own := true
		switch {
		case p.Waiting == "CrashLoopBackOff" || strings.HasPrefix(p.Waiting, "ImagePull") || p.Waiting == "ErrImagePull" || p.Waiting == "CreateContainerConfigError":
			s.add(p.Component, scorePod, StepPods, fmt.Sprintf("pod %s waiting: %s (restarts %d, last terminated %s exit %d)", p.Name, p.Waiting, p.Restarts, orDash(p.LastTerminated), p.ExitCode), p.Reproduce)
		case p.LastTerminated == "OOMKilled" && p.Restarts > 0:
			s.add(p.Component, scorePod, StepPods, fmt.Sprintf("pod %s OOMKilled (restarts %d)", p.Name, p.Restarts), p.Reproduce)
		case p.Phase == PhaseGone:
			s.add(p.Component, scorePod, StepPods, fmt.Sprintf("no pod of %s runs: %s was stopped in the window", p.Component, p.Name), p.Reproduce)
		case p.Phase != "" && p.Phase != "Running" && p.Phase != "Succeeded":
			s.add(p.Component, scorePod, StepPods, fmt.Sprintf("pod %s phase %s", p.Name, p.Phase), p.Reproduce)
		case p.RecentRestarts > 0:
			s.add(p.Component, scoreRestart, StepPods, fmt.Sprintf("pod %s restarted %d times in the window (last terminated %s, exit %d)", p.Name, p.RecentRestarts, orDash(p.LastTerminated), p.ExitCode), p.Reproduce)
		case p.Replaced != "":
			s.add(p.Component, scoreReplaced, StepPods, fmt.Sprintf("pod %s replaced %s, killed in the window", p.Name, p.Replaced), p.Reproduce)
		case !p.Ready:
			own = false
			s.symptom[p.Component] = true
			s.add(p.Component, scorePod*0.9, StepPods, fmt.Sprintf("pod %s not Ready (restarts %d)", p.Name, p.Restarts), p.Reproduce)
		default:
			own = false
		}
		if own && p.Component != "" {
			s.direct[p.Component] = true
		}
		if p.CPURatio > UsageRatio {
			cpuHot = true
			s.add(p.Component, scoreUsage, StepNode, fmt.Sprintf("pod %s CPU at %.0f%% of its limit", p.Name, 100*p.CPURatio), p.Reproduce)
		}
		if p.MemRatio > UsageRatio {
			s.add(p.Component, scoreUsage, StepNode, fmt.Sprintf("pod %s memory at %.0f%% of its limit", p.Name, 100*p.MemRatio), p.Reproduce)
		}
	}
	for _, m := range snap.Memory {
		if m.Base > 0 && m.Now > GrowthFactor*m.Base && m.Now-m.Base >= GrowthFloor {
			s.add(m.Component, scoreUsage, StepMetrics, fmt.Sprintf("%s: resident memory %.0f MiB (baseline %.0f MiB)", m.Component, m.Now/(1<<20), m.Base/(1<<20)), m.Reproduce)
		}
	}
	for _, p := range snap.Processes {
		if !p.Healthy || !p.Ready {
			comp := None
			if len(p.Components) == 1 {
				comp = p.Components[0]
			}
			if p.Healthy {
				s.symptom[comp] = true
			} else {
				s.direct[comp] = true
			}
			s.add(comp, scoreProcess, StepPods, fmt.Sprintf("process %s (%s): %s", p.URL, strings.Join(p.Components, ","), p.Detail), "curl -s "+p.URL+"/readyz")
		}
	}
	for _, l := range snap.LogErrors {
		if l.Now >= LogFloor && float64(l.Now) > LogFactor*float64(l.Base) {
			s.add(l.Component, scoreLogs, l.Step, fmt.Sprintf("%d error lines (baseline %d): %s", l.Now, l.Base, l.Sample), l.Reproduce)
		}
	}

	// Node: pressure or NotReady names the node.
	nodeBusy := false
	for _, n := range snap.Nodes {
		if len(n.Pressure) > 0 {
			s.direct["node"] = true
			s.add("node", scoreNode, StepNode, fmt.Sprintf("node %s: %s", n.Name, strings.Join(n.Pressure, ", ")), n.Reproduce)
		}
		if n.CPURatio > UsageRatio || n.MemRatio > UsageRatio {
			s.add("node", scoreUsage, StepNode, fmt.Sprintf("node %s CPU %.0f%%, memory %.0f%% of allocatable", n.Name, 100*n.CPURatio, 100*n.MemRatio), n.Reproduce)
			// A busy node no pod explains (none at its CPU limit) slows
			// everything on it: its services' anomalies are victims.
			if !cpuHot || n.MemRatio > UsageRatio {
				nodeBusy = true
			}
		}
	}

	// Metrics: RED per service, then client-side dependency signals.
	anomalous := map[string]bool{}
	for _, svc := range sortedKeys(snap.Services) {
		r := snap.Services[svc]
		if r.Rate < MinRate && r.BaseRate < MinRate {
			continue
		}
		var why []string
		if r.ErrRatio > ErrRatioFloor && r.ErrRatio > ErrRatioFactor*r.BaseErrRatio {
			why = append(why, fmt.Sprintf("5xx ratio %.1f%% (baseline %.1f%%)", 100*r.ErrRatio, 100*r.BaseErrRatio))
		}
		// Slowness is relative: without a baseline (a service that served
		// nothing before the window, as on a fresh deploy) its p99 is not
		// judged; an error ratio above the floor is wrong on its own.
		if r.P99 > P99Floor && r.BaseRate >= MinRate && r.BaseP99 > 0 && r.P99 > P99Factor*r.BaseP99 {
			why = append(why, fmt.Sprintf("p99 %.0f ms (baseline %.0f ms)", 1000*r.P99, 1000*r.BaseP99))
		}
		if len(why) > 0 {
			anomalous[svc] = true
			s.add(svc, scoreRED, StepMetrics, svc+": "+strings.Join(why, ", "), r.Reproduce)
		}
	}
	clients := map[string]map[string]bool{} // datastore → client → anomalous
	depWhy := map[string][]Dep{}
	for _, d := range snap.Deps {
		if clients[d.Datastore] == nil {
			clients[d.Datastore] = map[string]bool{}
		}
		bad := d.Now > d.Floor && d.Now > DepFactor*d.Base
		clients[d.Datastore][d.Client] = clients[d.Datastore][d.Client] || bad
		if bad {
			depWhy[d.Datastore] = append(depWhy[d.Datastore], d)
		}
	}
	for _, ds := range sortedKeys(clients) {
		var bad, good []string
		for _, c := range sortedKeys(clients[ds]) {
			if clients[ds][c] {
				bad = append(bad, c)
			} else {
				good = append(good, c)
			}
		}
		switch {
		case len(bad) >= 2 || (len(bad) == 1 && len(good) == 0):
			// Seen by several clients (or the only one): the datastore.
			anomalous[ds] = true
			for _, d := range depWhy[ds] {
				s.add(ds, scoreDepMany, StepMetrics, fmt.Sprintf("%s client %s: %s %.3g (baseline %.3g)", ds, d.Client, d.Signal, d.Now, d.Base), d.Reproduce)
			}
		case len(bad) == 1:
			// One client fails while the others are healthy: the client.
			c := bad[0]
			anomalous[c] = true
			for _, d := range depWhy[ds] {
				s.add(c, scoreDepOne, StepMetrics, fmt.Sprintf("only %s sees %s failing (%s %.3g, baseline %.3g); healthy clients: %s", c, ds, d.Signal, d.Now, d.Base, strings.Join(good, ",")), d.Reproduce)
			}
		}
	}
	for _, a := range snap.Alerts {
		s.add(a.Component, 0, StepMetrics, "alert firing: "+a.Name, "curl -s $PROMETHEUS/api/v1/alerts")
	}

	// Traces: the failing or dominating hop corroborates.
	for _, h := range snap.Hops {
		kind := "slow"
		if h.Error {
			kind = "error"
		}
		s.add(h.Component, scoreHop, StepTraces, fmt.Sprintf("trace %s: %s hop in %s (self %.0f ms)", h.TraceID, kind, h.Component, h.SelfMS), h.Reproduce)
		if h.Error || h.SelfMS > 1000*P99Floor {
			anomalous[h.Component] = true
		}
	}
	s.evidence = append(s.evidence, snap.Notes...)

	// Never blame a victim: a service one of whose dependencies is itself
	// anomalous keeps only a fraction of its score, so the deepest
	// anomalous node wins.
	for comp := range s.direct {
		anomalous[comp] = true
	}
	for comp := range s.symptom {
		anomalous[comp] = true
	}
	if nodeBusy || s.direct["node"] {
		anomalous["node"] = true
	}
	delete(anomalous, None)
	for comp := range s.score {
		if !s.direct[comp] && victimOf(comp, anomalous, map[string]bool{}) {
			s.score[comp] *= victimDiscout
		}
	}

	var ranked []Ranked
	for _, c := range sortedKeys(s.score) {
		if s.score[c] > 0 {
			ranked = append(ranked, Ranked{Component: c, Confidence: s.score[c], Reason: strings.Join(s.reasons[c], "; ")})
		}
	}
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].Confidence > ranked[j].Confidence })
	// Confidence: the score, lowered when the runner-up is close.
	for i := range ranked {
		sc := ranked[i].Confidence
		next := 0.0
		if i+1 < len(ranked) {
			next = ranked[i+1].Confidence
		}
		if i > 0 {
			next = ranked[0].Confidence
		}
		c := min(sc, 1) * (0.6 + 0.4*max(0, sc-next)/sc)
		if i > 0 {
			c = min(sc, 1) * 0.6 * sc / (sc + next)
		}
		ranked[i].Confidence = round2(c)
	}
	if len(ranked) > 3 {
		ranked = ranked[:3]
	}
	sort.SliceStable(s.evidence, func(i, j int) bool { return stepOrder[s.evidence[i].Step] < stepOrder[s.evidence[j].Step] })

	d := Diagnosis{Ranked: ranked, Evidence: s.evidence}
	if len(ranked) == 0 || s.score[ranked[0].Component] < Threshold {
		d.Verdict = Verdict{Component: None, Confidence: 1, Reason: "no component crosses its threshold relative to its baseline", Runbook: ""}
		if len(ranked) > 0 {
			d.Verdict.Confidence = round2(1 - s.score[ranked[0].Component])
		}
		return d
	}
	top := ranked[0]
	d.Verdict = Verdict{Component: top.Component, Confidence: top.Confidence, Reason: top.Reason, Runbook: "docs/runbooks/" + top.Component + ".md"}
	return d
}

// victimOf reports whether one of comp's dependencies (transitively), or
// the node it runs on, is anomalous.
func victimOf(comp string, anomalous, seen map[string]bool) bool {
	if comp != "node" && anomalous["node"] {
		return true // every component runs on the node
	}
	for _, d := range downstream[comp] {
		if seen[d] {
			continue
		}
		seen[d] = true
		if anomalous[d] || victimOf(d, anomalous, seen) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func round2(f float64) float64 { return float64(int(f*100+0.5)) / 100 }
