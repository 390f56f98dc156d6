package doctor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func healthyRED() map[string]ServiceRED {
	m := map[string]ServiceRED{}
	for _, s := range []string{"gateway", "auth", "users", "blog", "web"} {
		m[s] = ServiceRED{Rate: 10, ErrRatio: 0.001, P99: 0.03, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.03}
	}
	return m
}

func healthyDeps() []Dep {
	var d []Dep
	for _, c := range []string{"auth", "users", "blog"} {
		d = append(d, Dep{Client: c, Datastore: "postgres", Signal: "pool wait", Now: 0.001, Base: 0.001, Floor: 0.05})
		d = append(d, Dep{Client: c, Datastore: "redis", Signal: "cache errors", Now: 0, Base: 0, Floor: 0.1})
	}
	return d
}

func TestDiagnose(t *testing.T) {
	tests := []struct {
		name string
		snap func() Snapshot
		want string
	}{
		{"healthy", func() Snapshot {
			return Snapshot{Services: healthyRED(), Deps: healthyDeps(), Pods: []Pod{{Component: "blog", Name: "blog-1", Phase: "Running", Ready: true}}}
		}, None},
		{"fresh deploy: slow first requests without a baseline", func() Snapshot {
			red := healthyRED()
			red["auth"] = ServiceRED{Rate: 0.5, ErrRatio: 0, P99: 0.24}
			return Snapshot{Services: red, Deps: healthyDeps()}
		}, None},
		{"fresh deploy: failing without a baseline", func() Snapshot {
			red := healthyRED()
			red["auth"] = ServiceRED{Rate: 0.5, ErrRatio: 0.5, P99: 0.24}
			return Snapshot{Services: red, Deps: healthyDeps()}
		}, "auth"},
		{"one service 5xx", func() Snapshot {
			red := healthyRED()
			red["users"] = ServiceRED{Rate: 10, ErrRatio: 0.3, P99: 0.03, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.03}
			red["gateway"] = ServiceRED{Rate: 10, ErrRatio: 0.1, P99: 0.03, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.03}
			return Snapshot{Services: red, Deps: healthyDeps()}
		}, "users"},
		{"postgres slow seen by 3 services", func() Snapshot {
			red := healthyRED()
			for _, s := range []string{"gateway", "auth", "users", "blog", "web"} {
				red[s] = ServiceRED{Rate: 10, ErrRatio: 0.001, P99: 0.8, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.03}
			}
			deps := healthyDeps()
			for i := range deps {
				if deps[i].Datastore == "postgres" {
					deps[i].Now = 0.5
				}
			}
			return Snapshot{Services: red, Deps: deps}
		}, "postgres"},
		{"blog's db errors only from blog", func() Snapshot {
			red := healthyRED()
			red["blog"] = ServiceRED{Rate: 10, ErrRatio: 0.4, P99: 0.03, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.03}
			red["gateway"] = ServiceRED{Rate: 10, ErrRatio: 0.2, P99: 0.03, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.03}
			deps := healthyDeps()
			deps = append(deps, Dep{Client: "blog", Datastore: "postgres", Signal: "pool wait", Now: 0.9, Base: 0.001, Floor: 0.05})
			return Snapshot{Services: red, Deps: deps}
		}, "blog"},
		{"gateway slow because blog slow", func() Snapshot {
			red := healthyRED()
			red["blog"] = ServiceRED{Rate: 10, ErrRatio: 0.001, P99: 1.2, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.04}
			red["gateway"] = ServiceRED{Rate: 20, ErrRatio: 0.001, P99: 1.3, BaseRate: 20, BaseErrRatio: 0.001, BaseP99: 0.05}
			return Snapshot{Services: red, Deps: healthyDeps()}
		}, "blog"},
		{"crash-looping pod", func() Snapshot {
			red := healthyRED()
			red["gateway"] = ServiceRED{Rate: 10, ErrRatio: 0.5, P99: 0.03, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.03}
			return Snapshot{Services: red, Deps: healthyDeps(), Pods: []Pod{
				{Component: "auth", Name: "auth-7d", Phase: "Running", Waiting: "CrashLoopBackOff", Restarts: 5, LastTerminated: "Error", ExitCode: 1},
				{Component: "blog", Name: "blog-1", Phase: "Running", Ready: true},
			}}
		}, "auth"},
		{"node memory pressure", func() Snapshot {
			return Snapshot{Services: healthyRED(), Deps: healthyDeps(), Nodes: []Node{{Name: "n1", Pressure: []string{"MemoryPressure"}}}}
		}, "node"},
		{"postgres down: its clients unready are victims", func() Snapshot {
			red := healthyRED()
			for _, s := range []string{"gateway", "auth", "users", "blog"} {
				red[s] = ServiceRED{Rate: 10, ErrRatio: 0.6, P99: 0.03, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.03}
			}
			deps := healthyDeps()
			var pods []Pod
			for _, c := range []string{"auth", "users", "blog"} {
				deps = append(deps, Dep{Client: c, Datastore: "postgres", Signal: "unavailable statements/s", Now: 4, Base: 0, Floor: 0.05})
				pods = append(pods, Pod{Component: c, Name: c + "-1", Phase: "Running", Ready: false})
			}
			return Snapshot{Services: red, Deps: deps, Pods: pods}
		}, "postgres"},
		{"one service unready on its own", func() Snapshot {
			return Snapshot{Services: healthyRED(), Deps: healthyDeps(), Pods: []Pod{
				{Component: "web", Name: "web-1", Phase: "Running", Ready: false},
				{Component: "blog", Name: "blog-1", Phase: "Running", Ready: true},
			}}
		}, "web"},
		{"a crash is the service's own even with a datastore anomaly", func() Snapshot {
			deps := healthyDeps()
			deps = append(deps, Dep{Client: "blog", Datastore: "redis", Signal: "cache errors", Now: 3, Base: 0, Floor: 0.1})
			return Snapshot{Services: healthyRED(), Deps: deps, Pods: []Pod{
				{Component: "blog", Name: "blog-1", Phase: "Running", Waiting: "CrashLoopBackOff", Restarts: 3},
			}}
		}, "blog"},
		{"pod killed and already replaced", func() Snapshot {
			return Snapshot{Services: healthyRED(), Deps: healthyDeps(), Pods: []Pod{
				{Component: "users", Name: "users-b", Phase: "Running", Ready: true, Replaced: "users-a"},
				{Component: "blog", Name: "blog-1", Phase: "Running", Ready: true},
			}}
		}, "users"},
		{"container restarted in the window", func() Snapshot {
			red := healthyRED()
			red["gateway"] = ServiceRED{Rate: 10, ErrRatio: 0.08, P99: 0.03, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.03}
			return Snapshot{Services: red, Deps: healthyDeps(), Pods: []Pod{
				{Component: "auth", Name: "auth-1", Phase: "Running", Ready: true, Restarts: 1, RecentRestarts: 1, LastTerminated: "Error", ExitCode: 137},
			}}
		}, "auth"},
		{"nats gone: the services it made unready are victims", func() Snapshot {
			deps := healthyDeps()
			deps = append(deps, Dep{Client: "blog", Datastore: "nats", Signal: "outbox publish failures/s", Now: 5, Base: 0, Floor: 0.02},
				Dep{Client: "users", Datastore: "nats", Signal: "outbox publish failures/s", Now: 0, Base: 0, Floor: 0.02})
			var pods []Pod
			for _, c := range []string{"gateway", "users", "blog"} {
				pods = append(pods, Pod{Component: c, Name: c + "-1", Phase: "Running", Ready: false})
			}
			pods = append(pods, Pod{Component: "nats", Name: "tungsten-nats-0", Phase: PhaseGone})
			return Snapshot{Services: healthyRED(), Deps: deps, Pods: pods}
		}, "nats"},
		{"node CPU busy from outside: the slow services are victims", func() Snapshot {
			red := healthyRED()
			for _, c := range []string{"gateway", "auth", "blog", "web"} {
				red[c] = ServiceRED{Rate: 10, ErrRatio: 0.001, P99: 0.18, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.01}
			}
			return Snapshot{Services: red, Deps: healthyDeps(), Nodes: []Node{{Name: "n1", CPURatio: 0.91, MemRatio: 0.13}},
				Pods: []Pod{{Component: "auth", Name: "auth-1", Phase: "Running", Ready: true, CPURatio: 0.3}}}
		}, "node"},
		{"a pod burning its CPU limit explains the busy node", func() Snapshot {
			red := healthyRED()
			red["web"] = ServiceRED{Rate: 10, ErrRatio: 0.001, P99: 0.4, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.02}
			return Snapshot{Services: red, Deps: healthyDeps(), Nodes: []Node{{Name: "n1", CPURatio: 0.9, MemRatio: 0.13}},
				Pods: []Pod{{Component: "web", Name: "web-1", Phase: "Running", Ready: true, CPURatio: 0.97}}}
		}, "web"},
		{"memory growing far from the limit", func() Snapshot {
			return Snapshot{Services: healthyRED(), Deps: healthyDeps(), Memory: []Resident{
				{Component: "users", Now: 240 << 20, Base: 72 << 20},
				{Component: "blog", Now: 80 << 20, Base: 70 << 20},
			}}
		}, "users"},
		{"memory doubled but small, or no baseline (a new service)", func() Snapshot {
			return Snapshot{Services: healthyRED(), Deps: healthyDeps(), Memory: []Resident{
				{Component: "web", Now: 90 << 20, Base: 40 << 20},
				{Component: "auth", Now: 300 << 20, Base: 0},
			}}
		}, None},
		{"single noisy sample under floors", func() Snapshot {
			red := healthyRED()
			red["blog"] = ServiceRED{Rate: 10, ErrRatio: 0.02, P99: 0.09, BaseRate: 10, BaseErrRatio: 0.001, BaseP99: 0.02}
			return Snapshot{Services: red, Deps: healthyDeps()}
		}, None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Diagnose(tt.snap())
			require.Equal(t, tt.want, d.Verdict.Component, "ranked %+v", d.Ranked)
			require.LessOrEqual(t, len(d.Ranked), 3)
			if tt.want != None {
				require.Equal(t, "docs/runbooks/"+tt.want+".md", d.Verdict.Runbook)
				require.Greater(t, d.Verdict.Confidence, 0.3)
			}
			// Deterministic: the same snapshot gives the same diagnosis.
			require.Equal(t, d, Diagnose(tt.snap()))
		})
	}
}
