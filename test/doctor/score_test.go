package doctor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPlanIsReproducible(t *testing.T) {
	cs := classes()
	a, b := plan(42, cs, 3), plan(42, cs, 3)
	require.Equal(t, a, b, "the same seed gives the same run")
	require.Len(t, a, 3*len(cs))
	require.NotEqual(t, a, plan(43, cs, 3), "another seed another run")
	for _, tr := range a {
		switch tr.Class {
		case "clean":
			require.Equal(t, "none", tr.Truth)
		case "dependency":
			require.Contains(t, dbApps, tr.Target)
			require.Equal(t, tr.Target, tr.Truth, "a dependency fault's culprit is the service it is injected in")
		case "postgres-slow", "postgres-down":
			require.Equal(t, "postgres", tr.Truth)
		case "node-cpu":
			require.Equal(t, "node", tr.Truth)
		}
		if tr.Truth != "none" && tr.Target != "" {
			require.Contains(t, apps, tr.Target)
		}
	}
}

func TestSelectClasses(t *testing.T) {
	short, err := selectClasses(classes(), "", true)
	require.NoError(t, err)
	var names []string
	for _, c := range short {
		names = append(names, c.Name)
		require.NotEmpty(t, c.Gate, "every short-form class gates CI")
	}
	require.Equal(t, []string{"clean", "errors", "postgres-down"}, names)
	_, err = selectClasses(classes(), "clean,nope", false)
	require.Error(t, err)
}

func TestScore(t *testing.T) {
	for _, tc := range []struct {
		name, truth, out string
		top1, top3       bool
		err              bool
	}{
		{"hit", "blog", `{"verdict":{"component":"blog","confidence":0.8},"ranked":[{"component":"blog"},{"component":"postgres"}]}`, true, true, false},
		{"second", "postgres", `{"verdict":{"component":"blog"},"ranked":[{"component":"blog"},{"component":"postgres"}]}`, false, true, false},
		{"fourth", "nats", `{"verdict":{"component":"blog"},"ranked":[{"component":"blog"},{"component":"users"},{"component":"auth"},{"component":"nats"}]}`, false, false, false},
		{"verdict not in ranked", "redis", `{"verdict":{"component":"redis"},"ranked":[{"component":"auth"}]}`, true, true, false},
		{"clean none", "none", `{"verdict":{"component":"none"},"ranked":[]}`, true, true, false},
		{"clean blamed", "none", `{"verdict":{"component":"web"},"ranked":[{"component":"web"},{"component":"none"}]}`, false, false, false},
		{"not json", "blog", `panic: boom`, false, false, true},
		{"no verdict", "blog", `{"ranked":[]}`, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := result{trial: trial{Truth: tc.truth}}
			score(&r, []byte(tc.out))
			require.Equal(t, tc.top1, r.Top1)
			require.Equal(t, tc.top3, r.Top3)
			require.Equal(t, tc.err, r.DoctorError != "", r.DoctorError)
		})
	}
}

func TestTableAndShortGate(t *testing.T) {
	cs := classes()
	rs := []result{
		{trial: trial{N: 1, Class: "clean", Truth: "none"}, Verdict: "none", Top1: true, Top3: true, DoctorSeconds: 4},
		{trial: trial{N: 2, Class: "errors", Target: "web", Truth: "web"}, Verdict: "gateway", Top3: true, DoctorSeconds: 8},
		{trial: trial{N: 3, Class: "errors", Target: "blog", Truth: "blog"}, Verdict: "blog", Top1: true, Top3: true, DoctorSeconds: 6},
		{trial: trial{N: 4, Class: "postgres-down", Truth: "postgres"}, Verdict: "blog", Ranked: []string{"blog", "users", "auth"}, DoctorSeconds: 61},
	}
	rows := table(cs, rs)
	require.Len(t, rows, 3)
	require.Equal(t, row{Class: "errors", Trials: 2, Top1: 1, Top3: 2, MedianSecs: 7, MaxSecs: 8, MissedTruths: "#2 web→gateway"}, rows[1])
	require.True(t, rows[0].GoalsMet)
	md := markdown(rows, "")
	require.Contains(t, md, "| clean | 1 | – | – | 1/1 (100%) |")
	require.Contains(t, md, "| errors | 2 | 1/2 (50%) | 2/2 (100%) |")
	fails := shortFailures(cs, rs)
	require.Len(t, fails, 2)
	require.True(t, strings.Contains(fails[0], `verdict "gateway", want "web"`), fails[0])
	require.Contains(t, fails[1], "took 61.0 s")
}

func TestShows(t *testing.T) {
	for _, tc := range []struct {
		tr   trial
		sy   []string
		want bool
	}{
		{trial{Class: "errors"}, []string{"web failing 40%"}, true},
		{trial{Class: "errors"}, nil, false},
		{trial{Class: "cpu"}, []string{"web p50 400ms (baseline 5ms)"}, false},
		{trial{Class: "cpu"}, []string{"usage: tungsten-web-1 at 0.90 cores"}, true},
		{trial{Class: "crashloop", Target: "auth"}, []string{"tungsten-blog-a-b gone", "tungsten-auth-a-c gone"}, false},
		{trial{Class: "crashloop", Target: "auth"}, []string{"tungsten-auth-a-c: CrashLoopBackOff"}, true},
		{trial{Class: "pod-killed", Target: "web"}, []string{"tungsten-web-a-b gone"}, true},
		{trial{Class: "pod-killed", Target: "web"}, []string{"tungsten-blog-a-b restarted 1x"}, false},
	} {
		require.Equal(t, tc.want, shows(tc.tr, tc.sy), "%+v %v", tc.tr, tc.sy)
	}
}
