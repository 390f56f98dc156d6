package doctor

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
	corev1 "k8s.io/api/core/v1"
)

// adminBodies are the PUT /admin/faults documents of the app fault classes. Each fault
// also ends by itself after 10 minutes, should the harness die before clearing it.
var adminBodies = map[string]string{
	"latency":    `{"latency":{"delay":"300ms","percent":100},"duration":"10m"}`,
	"errors":     `{"errors":{"percent":50},"duration":"10m"}`,
	"cpu":        `{"cpu":{"cores":1},"duration":"10m"}`,
	"memory":     `{"memory":{"mib_per_second":8,"max_mib":256},"duration":"10m"}`,
	"dependency": `{"dependency":{"target":"postgres","percent":100},"duration":"10m"}`,
	"unready":    `{"unready":true,"duration":"10m"}`,
}

// rig is what the injectors share: the admin token, toxiproxy and the node.
type rig struct {
	token      string
	toxi       *toxiproxy.Client
	containerd string // containerd's socket, to find a container's host pid
	self       string // this test binary, re-run as the node CPU burner
}

var adminClient = &http.Client{Timeout: 5 * time.Second}

// admin sends method /admin/faults to the admin port (9090) of every running pod of
// svc, straight to the pod IP from the node.
func (g *rig) admin(svc, method, body string) error {
	ps, err := pods(svc)
	if err != nil {
		return err
	}
	var errs []string
	hit := 0
	for _, p := range ps {
		if p.Status.PodIP == "" || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		req, _ := http.NewRequest(method, "http://"+p.Status.PodIP+":9090/admin/faults", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+g.token)
		req.Header.Set("Content-Type", "application/json")
		res, err := adminClient.Do(req)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		res.Body.Close()
		if res.StatusCode >= 300 {
			errs = append(errs, fmt.Sprintf("%s %s: %d", method, p.Name, res.StatusCode))
			continue
		}
		hit++
	}
	if hit == 0 || len(errs) > 0 {
		return fmt.Errorf("admin faults on %s (%d pods hit): %s", svc, hit, strings.Join(errs, "; "))
	}
	return nil
}

// inject starts the fault of tr and returns how to clear it.
func (g *rig) inject(tr trial) (func() error, error) {
	deploy := "deploy/tungsten-" + tr.Target
	switch tr.Class {
	case "clean":
		return func() error { return nil }, nil
	case "latency", "errors", "cpu", "memory", "dependency", "unready":
		if err := g.admin(tr.Target, http.MethodPut, adminBodies[tr.Class]); err != nil {
			_ = g.admin(tr.Target, http.MethodDelete, "")
			return nil, err
		}
		return func() error { return g.admin(tr.Target, http.MethodDelete, "") }, nil
	case "crashloop":
		var err error
		if tr.Variant == "env" {
			_, err = kubectl("", "-n", namespace, "set", "env", deploy, "TUNGSTEN_FAULTS_CRASH_ON_START=true")
		} else { // a bad command line: an unknown flag
			_, err = kubectl("", "-n", namespace, "patch", deploy, "--type=json",
				"-p", `[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--doctor-eval-no-such-flag"}]`)
		}
		if err != nil {
			return nil, err
		}
		return func() error {
			if _, err := kubectl("", "-n", namespace, "rollout", "undo", deploy); err != nil {
				return err
			}
			_, err := kubectl("", "-n", namespace, "rollout", "status", deploy, "--timeout=150s")
			return err
		}, nil
	case "pod-killed":
		ps, err := pods(tr.Target)
		if err != nil {
			return nil, err
		}
		var victim *corev1.Pod
		for i := range ps {
			if podReady(ps[i]) {
				victim = &ps[i]
				break
			}
		}
		if victim == nil {
			return nil, fmt.Errorf("no Ready pod of %s", tr.Target)
		}
		if tr.Variant == "delete" {
			_, err = kubectl("", "-n", namespace, "delete", "pod", victim.Name, "--wait=false")
		} else {
			var pid int
			if pid, err = g.containerPID(*victim); err == nil {
				err = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return func() error { return nil }, err // Kubernetes heals it; the harness only waits
	case "postgres-slow", "redis-slow":
		p, err := g.toxi.Proxy(strings.TrimSuffix(tr.Class, "-slow"))
		if err != nil {
			return nil, err
		}
		if _, err := p.AddToxic("eval-latency", "latency", "downstream", 1, toxiproxy.Attributes{"latency": 300, "jitter": 30}); err != nil {
			return nil, err
		}
		return func() error { return p.RemoveToxic("eval-latency") }, nil
	case "postgres-down", "redis-down":
		p, err := g.toxi.Proxy(strings.TrimSuffix(tr.Class, "-down"))
		if err != nil {
			return nil, err
		}
		if tr.Variant == "refused" { // the listener closed: connections refused, open ones reset
			if err := p.Disable(); err != nil {
				return nil, err
			}
			return p.Enable, nil
		}
		// blackhole: connections accepted, nothing ever answered (a partition)
		for _, s := range []string{"upstream", "downstream"} {
			if _, err := p.AddToxic("eval-blackhole-"+s, "timeout", s, 1, toxiproxy.Attributes{"timeout": 0}); err != nil {
				return nil, err
			}
		}
		return func() error {
			for _, s := range []string{"upstream", "downstream"} {
				if err := p.RemoveToxic("eval-blackhole-" + s); err != nil {
					return err
				}
			}
			return nil
		}, nil
	case "nats-down":
		if _, err := kubectl("", "-n", namespace, "scale", "statefulset/tungsten-nats", "--replicas=0"); err != nil {
			return nil, err
		}
		return func() error {
			if _, err := kubectl("", "-n", namespace, "scale", "statefulset/tungsten-nats", "--replicas=1"); err != nil {
				return err
			}
			_, err := kubectl("", "-n", namespace, "rollout", "status", "statefulset/tungsten-nats", "--timeout=150s")
			return err
		}, nil
	case "node-cpu":
		// A bounded burner on the node itself (this binary again, one busy thread per
		// core, 4 minutes at most): pressure no pod's limits account for.
		cmd := exec.Command(g.self, "-test.run=^$")
		cmd.Env = append(os.Environ(), "TUNGSTEN_DOCTOR_BURN=240s")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return func() error { _ = cmd.Process.Kill(); _ = cmd.Wait(); return nil }, nil
	}
	return nil, fmt.Errorf("unknown fault class %q", tr.Class)
}

// containerPID finds the host pid of a pod's container through containerd (ctr task ls).
func (g *rig) containerPID(p corev1.Pod) (int, error) {
	if len(p.Status.ContainerStatuses) == 0 {
		return 0, fmt.Errorf("pod %s has no container status", p.Name)
	}
	id := strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "containerd://")
	out, err := exec.Command("ctr", "-a", g.containerd, "-n", "k8s.io", "task", "ls").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ctr task ls: %w: %s", err, out)
	}
	for _, l := range bytes.Split(out, []byte("\n")) {
		f := strings.Fields(string(l))
		if len(f) >= 2 && f[0] == id {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("container %s of %s not among containerd's tasks", id, p.Name)
}

// burn keeps every core busy for d (the node CPU burner, run as a child process).
func burn(d time.Duration) {
	deadline := time.Now().Add(d)
	for range runtime.NumCPU() {
		go func() {
			runtime.LockOSThread()
			x := 0
			for time.Now().Before(deadline) {
				for i := range 1 << 20 {
					x += i
				}
			}
			_ = x
		}()
	}
	time.Sleep(d)
}
