package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stretchr/testify/assert"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
)

// TestMain turns this binary into the node CPU burner when the harness re-runs it so.
func TestMain(m *testing.M) {
	if d, err := time.ParseDuration(os.Getenv("TUNGSTEN_DOCTOR_BURN")); err == nil {
		burn(min(d, 5*time.Minute))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// config is the environment scripts/doctor-eval.sh sets.
//
//	TUNGSTEN_DOCTOR_EVAL        short | full
//	TUNGSTEN_BIN                the tungsten binary (with `doctor`)
//	KUBECTL, KUBECONFIG         the cluster's kubectl and admin kubeconfig
//	TUNGSTEN_CLUSTER_GATEWAY    http://<gateway Service IP>:<port>
//	TUNGSTEN_CLUSTER_PROMETHEUS the node's Prometheus
//	TUNGSTEN_CLUSTER_NODE_IP, TUNGSTEN_CLUSTER_CONTAINERD
//	TUNGSTEN_TOXIPROXY_BIN      toxiproxy-server v2.12.0 (go.mod tool)
//	TUNGSTEN_DOCTOR_LOGS_URL    VictoriaLogs, when the cluster has it
//	TUNGSTEN_DOCTOR_JAEGER_URL  Jaeger, when the cluster has one
//	TUNGSTEN_DOCTOR_SEED        the RNG seed (default: drawn and printed)
//	TUNGSTEN_DOCTOR_TRIALS      trials per class (full: 3, short: 1)
//	TUNGSTEN_DOCTOR_CLASSES     comma-separated classes (default: all, short: its three)
//	TUNGSTEN_DOCTOR_WINDOW      the doctor's --window (default 2m, short 1m)
//	TUNGSTEN_DOCTOR_ART         where the tables go (test-artifacts/doctor)
type config struct {
	mode, bin, kubeconfig, gateway, prometheus, nodeIP, containerd, toxiproxy string
	logsURL, jaegerURL, art                                                   string
	seed                                                                      uint64
	trials                                                                    int
	classes                                                                   []class
	window                                                                    time.Duration
}

func loadConfig(t *testing.T) config {
	c := config{mode: os.Getenv("TUNGSTEN_DOCTOR_EVAL")}
	if c.mode == "" {
		t.Skip("needs the local cluster: run make test-doctor (scripts/doctor-eval.sh), which sets TUNGSTEN_DOCTOR_EVAL")
	}
	require.Contains(t, []string{"short", "full"}, c.mode)
	for name, p := range map[string]*string{"TUNGSTEN_BIN": &c.bin, "KUBECONFIG": &c.kubeconfig,
		"TUNGSTEN_CLUSTER_GATEWAY": &c.gateway, "TUNGSTEN_CLUSTER_PROMETHEUS": &c.prometheus,
		"TUNGSTEN_CLUSTER_NODE_IP": &c.nodeIP, "TUNGSTEN_CLUSTER_CONTAINERD": &c.containerd,
		"TUNGSTEN_TOXIPROXY_BIN": &c.toxiproxy, "TUNGSTEN_DOCTOR_ART": &c.art} {
		*p = os.Getenv(name)
		require.NotEmpty(t, *p, "%s must be set (scripts/doctor-eval.sh sets it)", name)
	}
	c.logsURL, c.jaegerURL = os.Getenv("TUNGSTEN_DOCTOR_LOGS_URL"), os.Getenv("TUNGSTEN_DOCTOR_JAEGER_URL")
	c.seed = uint64(time.Now().UnixNano())
	if s := os.Getenv("TUNGSTEN_DOCTOR_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "TUNGSTEN_DOCTOR_SEED")
		c.seed = v
	}
	c.trials, c.window = 3, 2*time.Minute
	if c.mode == "short" {
		c.trials, c.window = 1, time.Minute
	}
	if s := os.Getenv("TUNGSTEN_DOCTOR_TRIALS"); s != "" {
		v, err := strconv.Atoi(s)
		require.NoError(t, err, "TUNGSTEN_DOCTOR_TRIALS")
		c.trials = v
	}
	if s := os.Getenv("TUNGSTEN_DOCTOR_WINDOW"); s != "" {
		v, err := time.ParseDuration(s)
		require.NoError(t, err, "TUNGSTEN_DOCTOR_WINDOW")
		c.window = v
	}
	var err error
	c.classes, err = selectClasses(classes(), os.Getenv("TUNGSTEN_DOCTOR_CLASSES"), c.mode == "short")
	require.NoError(t, err)
	return c
}

// Phases of a trial.
const (
	minSettle    = 30 * time.Second  // two scrape intervals: Prometheus has seen the fault
	maxShow      = 90 * time.Second  // the fault may take this long to show, then the doctor runs anyway
	doctorLimit  = 120 * time.Second // the doctor is killed past this (the goal is 60 s)
	recoverLimit = 180 * time.Second
	loadRate     = 30
)

func TestDoctorEval(t *testing.T) {
	c := loadConfig(t)
	require.NoError(t, os.MkdirAll(c.art, 0o755))
	trials := plan(c.seed, c.classes, c.trials)
	t.Logf("seed %d (TUNGSTEN_DOCTOR_SEED=%d reproduces the plan): %d trials, window %s", c.seed, c.seed, len(trials), c.window)
	g := setup(t, c)
	budget := time.Duration(len(trials))*(maxShow+doctorLimit+recoverLimit+c.window) + 10*time.Minute
	l, err := startLoad(c.gateway, loadRate, budget)
	require.NoError(t, err)
	t.Cleanup(func() {
		sent, failed, restarts := l.stop()
		t.Logf("load: %d requests, %d failed, attacker restarted %d times", sent, failed, restarts)
	})
	// Quiet period: the setup's rollout (and, in CI, the cluster tests' restarts and
	// kills just before) leaves the doctor's whole look-back, its window and its
	// default baseline of five windows, before the first trial: the baseline is the
	// steady load, as it is for an operator whose system ran normally before.
	quietUntil := time.Now().Add(6 * c.window)
	time.Sleep(minSettle)
	base := l.window(minSettle)
	t.Logf("baseline over %s: %v", minSettle, base)

	var results []result
	for _, tr := range trials {
		if d := time.Until(quietUntil.Add(-minSettle)); d > 0 {
			time.Sleep(d) // the previous fault has left the doctor's window by the time it runs
		}
		r := runTrial(t, c, g, l, base, tr)
		quietUntil = time.Now().Add(c.window)
		results = append(results, r)
		t.Logf("trial %d %s target=%s variant=%s: verdict %s (%.2f), ranked %v, truth %s, top1 %v top3 %v, doctor %.1fs, shown %v %v, recovered %v in %.0fs %s",
			r.N, r.Class, r.Target, r.Variant, r.Verdict, r.Confidence, r.Ranked, r.Truth, r.Top1, r.Top3, r.DoctorSeconds,
			r.Shown, r.Symptoms, r.Recovered, r.RecoverySecs, r.DoctorError)
		writeArtifacts(t, c, results) // after every trial: an interrupted run keeps what it measured
	}
	rows := writeArtifacts(t, c, results)
	fmt.Println(markdown(rows, ""))
	for _, rw := range rows {
		if !rw.GoalsMet {
			t.Logf("goal missed: %s (top-1 %d/%d, top-3 %d/%d, max %.1fs)", rw.Class, rw.Top1, rw.Trials, rw.Top3, rw.Trials, rw.MaxSecs)
		}
	}
	if c.mode == "short" {
		for _, f := range shortFailures(c.classes, results) {
			assert.Fail(t, f)
		}
		// CI keeps only the log: what the doctor saw in a missed trial goes there too.
		for _, r := range results {
			if !r.Top1 && len(r.Output) > 0 {
				t.Logf("trial %d (%s on %s) symptoms %v, doctor output: %s", r.N, r.Class, r.Target, r.Symptoms, tail(r.Output, 4000))
			}
		}
	} else {
		for _, r := range results {
			if r.DoctorError != "" {
				assert.Failf(t, "the doctor failed", "trial %d (%s): %s", r.N, r.Class, r.DoctorError)
			}
		}
	}
}

func writeArtifacts(t *testing.T, c config, rs []result) []row {
	rows := table(c.classes, rs)
	consulted := "Prometheus " + c.prometheus
	if c.logsURL != "" {
		consulted += ", VictoriaLogs " + c.logsURL
	}
	if c.jaegerURL != "" {
		consulted += ", Jaeger " + c.jaegerURL
	} else {
		consulted += "; no Jaeger in the cluster (the doctor lists it as not consulted)"
	}
	header := fmt.Sprintf("# tungsten doctor evaluation (%s form)\n\n%s, seed %d, %d trials, window %s, load %d req/s; %s.\n"+
		"Goals: top-1 >= %.0f%%, top-3 >= %.0f%% per class, none on clean >= %.0f%%, doctor <= %s.\n\n",
		c.mode, time.Now().UTC().Format(time.RFC3339), c.seed, len(rs), c.window, loadRate, consulted,
		100*goalTop1, 100*goalTop3, 100*goalClean, goalDuration)
	md := markdown(rows, header)
	require.NoError(t, os.WriteFile(filepath.Join(c.art, "doctor-eval.md"), []byte(md), 0o644))
	js, _ := json.MarshalIndent(map[string]any{"mode": c.mode, "seed": c.seed, "window": c.window.String(),
		"table": rows, "trials": rs}, "", "  ")
	require.NoError(t, os.WriteFile(filepath.Join(c.art, "doctor-eval.json"), js, 0o644))
	return rows
}

// runTrial injects, waits for the fault to show, runs the doctor, clears and waits for
// recovery.
func runTrial(t *testing.T, c config, g *rig, l *load, base map[string]routeStats, tr trial) result {
	r := result{trial: tr}
	// A trial without the background load would score the doctor on evidence the
	// harness never produced: on 2026-12-06 the load stopped reaching the gateway
	// after trial 10 (cause not found; see docs/operations.md) and 20 trials ran blind.
	if len(l.window(15*time.Second)) == 0 {
		dump := filepath.Join(c.art, fmt.Sprintf("trial-%02d-load-goroutines.txt", tr.N))
		require.NoError(t, l.restart(dump))
		t.Logf("trial %d: the background load sent nothing in 15 s; goroutines in %s, attacker restarted", tr.N, dump)
		time.Sleep(minSettle) // the new load's results fill the window the checks below read
	}
	if len(l.window(15*time.Second)) == 0 {
		r.Note = "the background load sent nothing in the last 15 s, even after a restart of the attacker"
		r.DoctorError = "not run: " + r.Note
		assert.Fail(t, "background load stopped", "trial %d (%s): %s", tr.N, tr.Class, r.Note)
		return r
	}
	before, err := readState()
	require.NoError(t, err)
	usage, _ := podUsage()
	start := time.Now()
	clear, err := g.inject(tr)
	if err != nil {
		r.Note = "injection failed: " + err.Error()
		assert.Failf(t, "injection failed", "trial %d %s on %s: %v", tr.N, tr.Class, tr.Target, err)
		r.DoctorError = "not run: " + r.Note
		return r
	}
	// Wait for the fault to show (bounded), and at least two scrape intervals.
	for {
		r.Symptoms = symptoms(tr, l, base, before, usage)
		r.Shown = shows(tr, r.Symptoms)
		el := time.Since(start)
		if (r.Shown && el >= minSettle) || el >= maxShow {
			break
		}
		if r.Shown && r.ShowSeconds == 0 {
			r.ShowSeconds = el.Seconds()
		}
		time.Sleep(2 * time.Second)
	}
	if r.ShowSeconds == 0 && r.Shown {
		r.ShowSeconds = time.Since(start).Seconds()
	}
	stdout, stderr, code, took, derr := runDoctor(c)
	r.DoctorSeconds, r.ExitCode = took.Seconds(), code
	r.Stderr = tail(stderr, 2000)
	if derr != nil {
		r.DoctorError = derr.Error()
	} else {
		score(&r, stdout)
	}
	_ = os.WriteFile(filepath.Join(c.art, fmt.Sprintf("trial-%02d-%s.json", tr.N, tr.Class)), stdout, 0o644)
	if err := clear(); err != nil {
		assert.Failf(t, "clearing the fault failed", "trial %d: clearing %s: %v", tr.N, tr.Class, err)
	}
	cleared := time.Now()
	r.Recovered = waitRecovered(l, base)
	r.RecoverySecs = time.Since(cleared).Seconds()
	if !r.Recovered {
		t.Logf("trial %d: not recovered within %s (the next trial may see it)", tr.N, recoverLimit)
	}
	return r
}

// symptoms is what the harness sees of the fault: degraded routes of its own load, pods
// not Ready, waiting or restarted since the trial began, and the usage a CPU, memory or
// node fault should raise.
func symptoms(tr trial, l *load, base map[string]routeStats, before clusterState, usage map[string][2]float64) []string {
	out := degraded(l.window(15*time.Second), base)
	st, err := readState()
	if err == nil {
		if len(st.NotReady) > 0 {
			out = append(out, "not Ready: "+strings.Join(st.NotReady, ","))
		}
		out = append(out, st.Waiting...)
		for p, n := range st.Restarts {
			if n > before.Restarts[p] {
				out = append(out, fmt.Sprintf("%s restarted %dx", p, n-before.Restarts[p]))
			}
		}
		for p := range before.Restarts {
			if _, ok := st.Restarts[p]; !ok {
				out = append(out, p+" gone")
			}
		}
	}
	switch tr.Class {
	case "cpu", "memory":
		now, err := podUsage()
		if err != nil {
			break
		}
		for p, u := range now {
			if !strings.HasPrefix(p, "tungsten-"+tr.Target+"-") {
				continue
			}
			if tr.Class == "cpu" && u[0] >= 0.5 {
				out = append(out, fmt.Sprintf("usage: %s at %.2f cores", p, u[0]))
			}
			if tr.Class == "memory" && u[1] >= usage[p][1]+100 {
				out = append(out, fmt.Sprintf("usage: %s at %.0f MiB (was %.0f)", p, u[1], usage[p][1]))
			}
		}
	case "node-cpu":
		if f, err := nodeCPU(); err == nil && f >= 0.7 {
			out = append(out, fmt.Sprintf("usage: node CPU %.0f%%", 100*f))
		}
	}
	return out
}

// shows: any symptom, except that CPU, memory and node faults must show as usage and a
// crash loop or a killed pod on the target's own pods (the HPA replacing blog pods is
// no crash).
func shows(tr trial, sy []string) bool {
	switch tr.Class {
	case "clean":
		return true
	case "crashloop", "pod-killed":
		for _, s := range sy {
			if strings.Contains(s, "tungsten-"+tr.Target+"-") && (strings.Contains(s, "restarted") ||
				strings.Contains(s, "CrashLoopBackOff") || strings.Contains(s, ": Error") ||
				(tr.Class == "pod-killed" && strings.HasSuffix(s, " gone"))) {
				return true
			}
		}
		return false
	case "cpu", "memory", "node-cpu":
		for _, s := range sy {
			if strings.HasPrefix(s, "usage: ") {
				return true
			}
		}
		return false
	}
	return len(sy) > 0
}

// waitRecovered waits (bounded) until every workload is rolled out and Ready and the
// load is back to its baseline (no route failing or slow over the last 15 s).
func waitRecovered(l *load, base map[string]routeStats) bool {
	deadline := time.Now().Add(recoverLimit)
	for time.Now().Before(deadline) {
		st, err := readState()
		if err == nil && st.Settled && len(st.NotReady) == 0 && len(st.Waiting) == 0 &&
			len(degraded(l.window(15*time.Second), base)) == 0 {
			return true
		}
		time.Sleep(2 * time.Second)
	}
	return false
}

// runDoctor runs the doctor built from the repo against the cluster's sources.
func runDoctor(c config) (stdout, stderr []byte, code int, took time.Duration, err error) {
	args := []string{"doctor", "--kubeconfig", c.kubeconfig, "--namespace", namespace,
		"--prometheus-url", c.prometheus, "--window", c.window.String(), "--output", "json"}
	if c.logsURL != "" {
		args = append(args, "--logs-url", c.logsURL)
	}
	if c.jaegerURL != "" {
		args = append(args, "--jaeger-url", c.jaegerURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), doctorLimit)
	defer cancel()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	runErr := cmd.Run()
	took = time.Since(start)
	code = cmd.ProcessState.ExitCode()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("killed after %s", doctorLimit)
	case errors.As(runErr, &exit) && exit.ExitCode() >= 2 && !json.Valid(o.Bytes()):
		// A non-zero exit with a verdict (a culprit found) is an answer; a crash is not.
		err = fmt.Errorf("exit %d: %s", exit.ExitCode(), tail(e.Bytes(), 300))
	case runErr != nil && !errors.As(runErr, &exit):
		err = runErr
	}
	return o.Bytes(), e.Bytes(), code, took, err
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// setup gives the services an admin token (the optional Secret tungsten-admin), puts
// toxiproxy between the pods and the node's PostgreSQL and Redis (the node-services'
// EndpointSlices name the proxy's ports on the node IP instead of the servers'), and
// restarts every Deployment so each pod has the token and connects through the proxy.
// Cleanup undoes it (endpoints back, Deployments restarted).
func setup(t *testing.T, c config) *rig {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	g := &rig{token: hex.EncodeToString(b), containerd: c.containerd}
	self, err := os.Executable()
	require.NoError(t, err)
	g.self = self
	secret, err := kubectl("", "-n", namespace, "create", "secret", "generic", "tungsten-admin",
		"--from-literal=token="+g.token, "--dry-run=client", "-o", "yaml")
	require.NoError(t, err)
	_, err = kubectl(secret, "-n", namespace, "apply", "-f", "-")
	require.NoError(t, err)

	apiPort := freePort(t, "127.0.0.1")
	srv := exec.Command(c.toxiproxy, "-host", "127.0.0.1", "-port", strconv.Itoa(apiPort))
	logf, err := os.Create(filepath.Join(c.art, "toxiproxy.log"))
	require.NoError(t, err)
	srv.Stdout, srv.Stderr = logf, logf
	srv.Env = append(os.Environ(), "LOG_LEVEL=info") // the default logs every packet
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait(); logf.Close() })
	require.Eventually(t, func() bool { return dial(fmt.Sprintf("127.0.0.1:%d", apiPort)) }, 20*time.Second, 200*time.Millisecond)
	g.toxi = toxiproxy.NewClient(fmt.Sprintf("127.0.0.1:%d", apiPort))
	// Cleanups run last-in first-out: the endpoints go back first (registered below),
	// then every pod is restarted onto them, then toxiproxy stops (registered above).
	t.Cleanup(func() { restartAll(t, c) })

	for _, s := range []string{"postgres", "redis"} {
		slice := "tungsten-" + s + "-node"
		var es struct {
			Metadata struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"metadata"`
			Ports []struct {
				Port int `json:"port"`
			} `json:"ports"`
		}
		require.NoError(t, getJSON(&es, "endpointslice", slice))
		require.NotEmpty(t, es.Ports, slice)
		// The server's own port, kept in an annotation while the slice points at the
		// proxy, so a run killed before its cleanup does not make the next one proxy
		// to a dead proxy.
		orig := es.Ports[0].Port
		if p, err := strconv.Atoi(es.Metadata.Annotations[origPortAnnotation]); err == nil && p > 0 {
			orig = p
		}
		kc(t, "annotate", "--overwrite", "endpointslice", slice, fmt.Sprintf("%s=%d", origPortAnnotation, orig))
		port := freePort(t, c.nodeIP)
		_, err := g.toxi.CreateProxy(s, fmt.Sprintf("%s:%d", c.nodeIP, port), fmt.Sprintf("%s:%d", c.nodeIP, orig))
		require.NoError(t, err, "toxiproxy %s", s)
		kc(t, "patch", "endpointslice", slice, "--type=json", "-p", fmt.Sprintf(`[{"op":"replace","path":"/ports/0/port","value":%d}]`, port))
		t.Cleanup(func() {
			_, _ = kubectl("", "-n", namespace, "patch", "endpointslice", slice, "--type=json",
				"-p", fmt.Sprintf(`[{"op":"replace","path":"/ports/0/port","value":%d}]`, orig))
			_, _ = kubectl("", "-n", namespace, "annotate", "endpointslice", slice, origPortAnnotation+"-")
		})
		t.Logf("%s: pods -> toxiproxy %s:%d -> %s:%d", s, c.nodeIP, port, c.nodeIP, orig)
	}
	restartAll(t, c)
	return g
}

// origPortAnnotation holds a node-service EndpointSlice's real port while the
// evaluation points it at toxiproxy.
const origPortAnnotation = "tungsten.dev/doctor-eval-original-port"

// restartAll rolls every Deployment (adding the token from the Secret where a manifest
// predates it) and waits for them.
func restartAll(t *testing.T, c config) {
	var ds appsv1.DeploymentList
	require.NoError(t, getJSON(&ds, "deployments"))
	for _, d := range ds.Items {
		has := false
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			has = has || e.Name == "TUNGSTEN_ADMIN_TOKEN"
		}
		if !has {
			t.Logf("%s: no TUNGSTEN_ADMIN_TOKEN in its manifest; adding it from the Secret", d.Name)
			kc(t, "set", "env", "deploy/"+d.Name, "--from=secret/tungsten-admin", "--prefix=TUNGSTEN_ADMIN_")
		} else {
			kc(t, "rollout", "restart", "deploy/"+d.Name)
		}
	}
	for _, d := range ds.Items {
		kc(t, "rollout", "status", "deploy/"+d.Name, "--timeout=240s")
	}
}

func dial(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err == nil {
		conn.Close()
	}
	return err == nil
}

// freePort returns a port in 20000-32767 (below the ephemeral range) free on host.
func freePort(t *testing.T, host string) int {
	for p := 20000 + int(time.Now().UnixNano()%10000); p < 32767; p++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			ln.Close()
			return p
		}
	}
	require.FailNow(t, "no free port on "+host)
	return 0
}
