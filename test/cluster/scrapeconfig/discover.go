package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TargetGroup is one entry of a file_sd file.
type TargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// Discover returns the targets Prometheus' kubernetes_sd_configs role pod gives for pods:
// one per declared container port (address podIP:port), and one without a port for a
// container that declares none, with the pod role's __meta_kubernetes_* labels. Pods
// without an IP yet are left out, as Prometheus does.
func Discover(pods []corev1.Pod) []TargetGroup {
	var out []TargetGroup
	for _, p := range pods {
		if p.Status.PodIP == "" {
			continue
		}
		base := map[string]string{
			"__meta_kubernetes_namespace":     p.Namespace,
			"__meta_kubernetes_pod_name":      p.Name,
			"__meta_kubernetes_pod_ip":        p.Status.PodIP,
			"__meta_kubernetes_pod_node_name": p.Spec.NodeName,
			"__meta_kubernetes_pod_host_ip":   p.Status.HostIP,
			"__meta_kubernetes_pod_uid":       string(p.UID),
			"__meta_kubernetes_pod_phase":     string(p.Status.Phase),
			"__meta_kubernetes_pod_ready":     podReadyLabel(p),
		}
		for k, v := range p.Labels {
			base["__meta_kubernetes_pod_label_"+labelName(k)] = v
			base["__meta_kubernetes_pod_labelpresent_"+labelName(k)] = "true"
		}
		for k, v := range p.Annotations {
			base["__meta_kubernetes_pod_annotation_"+labelName(k)] = v
			base["__meta_kubernetes_pod_annotationpresent_"+labelName(k)] = "true"
		}
		for _, c := range p.Spec.Containers {
			labels := func() map[string]string {
				l := make(map[string]string, len(base)+6)
				for k, v := range base {
					l[k] = v
				}
				l["__meta_kubernetes_pod_container_name"] = c.Name
				l["__meta_kubernetes_pod_container_image"] = c.Image
				l["__meta_kubernetes_pod_container_init"] = "false"
				return l
			}
			if len(c.Ports) == 0 {
				out = append(out, TargetGroup{Targets: []string{p.Status.PodIP}, Labels: labels()})
				continue
			}
			for _, port := range c.Ports {
				l := labels()
				l["__meta_kubernetes_pod_container_port_name"] = port.Name
				l["__meta_kubernetes_pod_container_port_number"] = strconv.Itoa(int(port.ContainerPort))
				l["__meta_kubernetes_pod_container_port_protocol"] = string(port.Protocol)
				addr := net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(port.ContainerPort)))
				out = append(out, TargetGroup{Targets: []string{addr}, Labels: l})
			}
		}
	}
	return out
}

func podReadyLabel(p corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return strings.ToLower(string(c.Status))
		}
	}
	return "unknown"
}

// discoverLoop lists the namespace's pods every interval and rewrites dir/pods.json when the
// targets changed (atomically: Prometheus never reads half a file), until ctx ends. A failed
// listing is logged and retried; the last good file stays.
func discoverLoop(ctx context.Context, api API, namespace, dir string, interval time.Duration) error {
	client, err := apiClient(api)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	u := strings.TrimSuffix(api.Server, "/") + "/api/v1/namespaces/" + url.PathEscape(namespace) + "/pods"
	var last []byte
	for {
		pods, err := listPods(ctx, client, u, api.TokenFile)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			log.Printf("listing pods: %v", err)
		default:
			b, err := json.MarshalIndent(Discover(pods), "", "  ")
			if err != nil {
				return err
			}
			if !bytes.Equal(b, last) {
				if err := writeAtomic(filepath.Join(dir, "pods.json"), b); err != nil {
					return err
				}
				last = b
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func apiClient(api API) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if api.CAFile != "" {
		pem, err := os.ReadFile(api.CAFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", api.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, nil
}

func listPods(ctx context.Context, c *http.Client, u, tokenFile string) ([]corev1.Pod, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if tokenFile != "" {
		tok, err := os.ReadFile(tokenFile) // re-read: a rotated token is picked up
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %.300s", u, res.Status, body)
	}
	var list corev1.PodList
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("decoding the pod list: %w", err)
	}
	if list.Kind != "" && list.Kind != "PodList" {
		return nil, errors.New("the API answered a " + list.Kind + ", not a PodList")
	}
	return list.Items, nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
