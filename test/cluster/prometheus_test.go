package cluster

import (
	"fmt"
	"maps"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/tungsten-blog/tungsten/test/internal/promcheck"
)

// dashboardsDir holds the Grafana dashboards users import, relative to this package.
const dashboardsDir = "../../deploy/observability/dashboards"

// testScraped requires Prometheus (on the node, configured from the PodMonitor users deploy:
// test/cluster/scrapeconfig) to scrape every running Tungsten pod but the migrate Job's, with
// job="tungsten" and target = the pod's component, and every scrape to succeed.
func testScraped(t *testing.T, prom string) {
	var pods corev1.PodList
	getJSON(t, &pods, "pods", "-l", "app.kubernetes.io/name=tungsten,app.kubernetes.io/component!=migrate")
	want := map[string]string{} // pod -> component
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			want[p.Name] = p.Labels["app.kubernetes.io/component"]
		}
	}
	require.NotEmpty(t, want)
	var got map[string]promcheck.Sample
	took := eventually(t, 90*time.Second, "Prometheus scraping every Tungsten pod", func() bool {
		samples, err := promcheck.Vector(prom, `up{job="tungsten"}`)
		if err != nil {
			return false
		}
		got = map[string]promcheck.Sample{}
		for _, s := range samples {
			got[s.Labels["pod"]] = s
		}
		for pod := range want {
			if s, ok := got[pod]; !ok || s.Value != "1" {
				return false
			}
		}
		return true
	})
	for pod, component := range want {
		s := got[pod]
		require.Equal(t, component, s.Labels["target"], "pod %s: the PodMonitor's relabelling names its target", pod)
		require.Equal(t, namespace, s.Labels["namespace"], pod)
	}
	for pod := range got {
		require.Contains(t, want, pod, "Prometheus scrapes %s, which is not a running service pod (the migrate Job's?)", pod)
	}
	counts := map[string]int{}
	for _, c := range want {
		counts[c]++
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s=%d", c, counts[c]))
	}
	figure(t, "Prometheus scrapes %d pods through the PodMonitor's relabelling (%s), all up, %.0fs after the check began",
		len(want), strings.Join(parts, " "), took.Seconds())
}

// testDashboards evaluates every panel of the dashboards users import against what
// Prometheus scraped from the cluster during the tests before it: each returns data and
// every metric it names was scraped.
func testDashboards(t *testing.T, gw, prom string) {
	// The rules' recording series and rate windows need a few scrapes of the load.
	eventually(t, 60*time.Second, "request metrics of the load in Prometheus", func() bool {
		n, err := promcheck.Query(prom, `sum(rate(tungsten_http_requests_total{job="tungsten"}[1m])) > 0`)
		return err == nil && n > 0
	})
	// The tests before this one stay under every limit (the overlay raises them for the one
	// test host), so the rate-limit panel would show nothing: fail one account's login from
	// this host until the per-IP-and-account limit answers 429, and wait for Prometheus to
	// scrape the rejection.
	email := fmt.Sprintf("limited-%d@example.com", time.Now().UnixNano())
	limited := false
	for range 40 {
		code, _ := apiCall(t, http.MethodPost, gw+"/api/users/login", "", map[string]any{
			"user": map[string]string{"email": email, "password": "not-the-password"}})
		if code == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	require.True(t, limited, "40 failed logins of one account from one IP were never limited")
	// One more rejected attempt per poll: a counter seen at a single value (its first
	// scrape) has no rate, so the rejections must go on across two scrapes.
	eventually(t, 60*time.Second, "the login rejections in Prometheus", func() bool {
		code, _ := apiCall(t, http.MethodPost, gw+"/api/users/login", "", map[string]any{
			"user": map[string]string{"email": email, "password": "not-the-password"}})
		require.Equal(t, http.StatusTooManyRequests, code, "a limited login must stay limited")
		n, err := promcheck.Query(prom, `sum(rate(tungsten_ratelimit_rejections_total[1m])) > 0`)
		return err == nil && n > 0
	})
	// The business panels count domain events, whose series a pod has only once it
	// published one; the rolling update and self-healing tests restarted every pod and
	// their load only writes articles. Every 2 s until Prometheus has a rate of each:
	// a sign-up, an article, a comment on it and a favorite of it.
	engagement := []string{"users.user.registered", "blog.article.published", "blog.comment.added", "blog.article.favorited"}
	polls := 0
	eventually(t, 120*time.Second, "the engagement panel's events in Prometheus", func() bool {
		if polls++; polls%8 == 1 {
			token := register(t, gw)
			code, v := apiCall(t, http.MethodPost, gw+"/api/articles", token, map[string]any{"article": map[string]any{
				"title": unique("dashboards "), "description": "for the business panels", "body": "engagement"}})
			require.Equal(t, http.StatusCreated, code, "create article: %v", v)
			art, _ := v["article"].(map[string]any)
			slug, _ := art["slug"].(string)
			require.NotEmpty(t, slug)
			code, _ = apiCall(t, http.MethodPost, gw+"/api/articles/"+slug+"/comments", token, map[string]any{
				"comment": map[string]any{"body": "a comment for the engagement panel"}})
			require.Equal(t, http.StatusOK, code, "add comment")
			code, _ = apiCall(t, http.MethodPost, gw+"/api/articles/"+slug+"/favorite", token, nil)
			require.Equal(t, http.StatusOK, code, "favorite")
		}
		for _, ev := range engagement {
			n, err := promcheck.Query(prom, `sum(rate(tungsten_events_published_total{event_type="`+ev+`"}[1m])) > 0`)
			if err != nil || n == 0 {
				return false
			}
		}
		return true
	})
	// A healthy cluster answers no 5xx: the error panels' 5xx selectors match nothing, but
	// their metric and labels must have been scraped (and the panels still return data).
	promcheck.CheckDashboards(t, prom, dashboardsDir, promcheck.Options{AbsentValuesOK: true})
}

// analysisTemplate is the blog canary's AnalysisTemplate (components/rollouts), whose
// Prometheus queries the Argo Rollouts controller would run.
const analysisTemplate = "../../deploy/kubernetes/components/rollouts/analysistemplate.yaml"

// testCanaryQueries runs the canary analysis' queries, with the arguments the blog's Rollout
// passes, against the cluster's Prometheus: each must return a value (no controller runs
// here, so its verdict is reported, not asserted: the latency bound depends on the machine).
func testCanaryQueries(t *testing.T, prom string) {
	b, err := os.ReadFile(analysisTemplate)
	require.NoError(t, err)
	var tmpl struct {
		Spec struct {
			Metrics []struct {
				Name             string `json:"name"`
				SuccessCondition string `json:"successCondition"`
				Provider         struct {
					Prometheus struct {
						Query string `json:"query"`
					} `json:"prometheus"`
				} `json:"provider"`
			} `json:"metrics"`
		} `json:"spec"`
	}
	require.NoError(t, yaml.Unmarshal(b, &tmpl))
	require.NotEmpty(t, tmpl.Spec.Metrics)
	args := strings.NewReplacer("{{args.service}}", "blog", "{{args.namespace}}", namespace)
	for _, m := range tmpl.Spec.Metrics {
		q := args.Replace(m.Provider.Prometheus.Query)
		require.NotContains(t, q, "{{", "%s: an argument the test does not know", m.Name)
		promcheck.CheckExpr(t, prom, q, true)
		samples, err := promcheck.Vector(prom, q)
		require.NoError(t, err)
		require.Len(t, samples, 1, "%s: one value", m.Name)
		v, err := strconv.ParseFloat(samples[0].Value, 64)
		require.NoError(t, err, "%s: %q", m.Name, samples[0].Value)
		require.False(t, math.IsNaN(v), "%s: NaN (no traffic in the window?)", m.Name)
		figure(t, "canary metric %s on the cluster's blog: %.4g (successCondition %q)", m.Name, v, m.SuccessCondition)
	}
}
