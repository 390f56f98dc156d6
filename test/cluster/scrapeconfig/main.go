// Command scrapeconfig writes the Prometheus scrape configuration the Prometheus Operator
// would generate from a PodMonitor, for a Prometheus that runs without the operator (the
// local cluster's, Debian's package on the node): pods found through the Kubernetes API,
// kept by the PodMonitor's selector and port, labelled by its relabelings. The local
// cluster (scripts/k8s-cluster.sh) scrapes Tungsten's pods with it, so the PodMonitor users
// deploy is the one tested.
//
//	scrapeconfig -podmonitor deploy/kubernetes/components/monitoring/podmonitor.yaml \
//	  -namespace tungsten -api-server https://10.0.0.2:6443 -ca-file ca.crt -token-file token
//
// writes one scrape_configs entry per podMetricsEndpoint to stdout, as YAML, discovering
// pods with kubernetes_sd_configs (role pod). Debian's Prometheus is built without the
// Kubernetes discovery, so with -file-sd DIR the entries read file_sd_configs from DIR
// instead, and
//
//	scrapeconfig -discover DIR -namespace tungsten -api-server ... -ca-file ... -token-file ...
//
// keeps DIR/pods.json up to date: the targets and meta labels the pod role would give
// (Discover), from the API every two seconds, until it is stopped. The relabelling, which
// is what the PodMonitor decides, is the same in both forms.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// PodMonitor is the part of monitoring.coreos.com/v1 PodMonitor this command reads.
type PodMonitor struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Selector          metav1.LabelSelector `json:"selector"`
		NamespaceSelector struct {
			Any        bool     `json:"any"`
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		PodMetricsEndpoints []Endpoint `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// Endpoint is one podMetricsEndpoint.
type Endpoint struct {
	Port              string          `json:"port"`
	Path              string          `json:"path"`
	Scheme            string          `json:"scheme"`
	Interval          string          `json:"interval"`
	ScrapeTimeout     string          `json:"scrapeTimeout"`
	HonorLabels       bool            `json:"honorLabels"`
	Relabelings       []RelabelConfig `json:"relabelings"`
	MetricRelabelings []RelabelConfig `json:"metricRelabelings"`
}

// RelabelConfig is the operator's RelabelConfig; its JSON names are Prometheus' own once
// renamed (sourceLabels → source_labels, ...), which MarshalJSON does.
type RelabelConfig struct {
	SourceLabels []string `json:"sourceLabels,omitempty"`
	Separator    *string  `json:"separator,omitempty"`
	TargetLabel  string   `json:"targetLabel,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// Relabel is a Prometheus relabel_config.
type Relabel struct {
	SourceLabels []string `json:"source_labels,omitempty"`
	Separator    *string  `json:"separator,omitempty"`
	TargetLabel  string   `json:"target_label,omitempty"`
	Regex        string   `json:"regex,omitempty"`
	Modulus      uint64   `json:"modulus,omitempty"`
	Replacement  *string  `json:"replacement,omitempty"`
	Action       string   `json:"action,omitempty"`
}

// API is how Prometheus (or -discover) reaches the Kubernetes API; with FileSD set, the
// scrape configs read their targets from the files -discover writes there instead.
type API struct {
	Server, CAFile, TokenFile string
	FileSD                    string
}

// ScrapeConfig is a Prometheus scrape_configs entry (the fields this command sets).
type ScrapeConfig struct {
	JobName              string     `json:"job_name"`
	HonorLabels          bool       `json:"honor_labels"`
	ScrapeInterval       string     `json:"scrape_interval,omitempty"`
	ScrapeTimeout        string     `json:"scrape_timeout,omitempty"`
	MetricsPath          string     `json:"metrics_path,omitempty"`
	Scheme               string     `json:"scheme,omitempty"`
	KubernetesSDConfigs  []SDConfig `json:"kubernetes_sd_configs,omitempty"`
	FileSDConfigs        []FileSD   `json:"file_sd_configs,omitempty"`
	RelabelConfigs       []Relabel  `json:"relabel_configs"`
	MetricRelabelConfigs []Relabel  `json:"metric_relabel_configs,omitempty"`
}

// SDConfig is a kubernetes_sd_configs entry of role pod.
type SDConfig struct {
	Role          string         `json:"role"`
	APIServer     string         `json:"api_server,omitempty"`
	TLSConfig     map[string]any `json:"tls_config,omitempty"`
	Authorization map[string]any `json:"authorization,omitempty"`
	Namespaces    map[string]any `json:"namespaces,omitempty"`
}

// FileSD is a file_sd_configs entry.
type FileSD struct {
	Files           []string `json:"files"`
	RefreshInterval string   `json:"refresh_interval,omitempty"`
}

var invalidLabelChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// labelName is how Prometheus' Kubernetes discovery names a Kubernetes label in its meta
// labels (app.kubernetes.io/name → app_kubernetes_io_name).
func labelName(k string) string { return invalidLabelChars.ReplaceAllString(k, "_") }

func ptr(s string) *string { return &s }

// Generate returns the scrape configs of pm's endpoints, in the operator's order: the
// selector (keep/drop on the pod's labels), the endpoint's port, no finished pods, the
// namespace/pod/container/job/endpoint labels, then the endpoint's own relabelings.
// namespace is the PodMonitor's namespace where its metadata names none.
func Generate(pm PodMonitor, namespace string, api API) ([]ScrapeConfig, error) {
	if pm.Kind != "PodMonitor" {
		return nil, fmt.Errorf("a %q, not a PodMonitor", pm.Kind)
	}
	if pm.Metadata.Namespace != "" {
		namespace = pm.Metadata.Namespace
	}
	if namespace == "" {
		return nil, errors.New("the PodMonitor names no namespace: give -namespace")
	}
	if len(pm.Spec.PodMetricsEndpoints) == 0 {
		return nil, errors.New("the PodMonitor has no podMetricsEndpoints")
	}
	sd := SDConfig{Role: "pod", APIServer: api.Server} // the pod role of kubernetes_sd_configs
	if api.CAFile != "" {
		sd.TLSConfig = map[string]any{"ca_file": api.CAFile}
	}
	if api.TokenFile != "" {
		sd.Authorization = map[string]any{"credentials_file": api.TokenFile}
	}
	switch ns := pm.Spec.NamespaceSelector; {
	case ns.Any:
	case len(ns.MatchNames) > 0:
		sd.Namespaces = map[string]any{"names": ns.MatchNames}
	default:
		sd.Namespaces = map[string]any{"names": []string{namespace}}
	}
	selector, err := selectorRelabels(pm.Spec.Selector)
	if err != nil {
		return nil, err
	}
	var out []ScrapeConfig
	for i, ep := range pm.Spec.PodMetricsEndpoints {
		if ep.Port == "" {
			return nil, fmt.Errorf("podMetricsEndpoints[%d] names no port (this command supports named ports only)", i)
		}
		rc := []Relabel{{SourceLabels: []string{"job"}, TargetLabel: "__tmp_prometheus_job_name"}}
		rc = append(rc, selector...)
		rc = append(rc,
			Relabel{Action: "keep", SourceLabels: []string{"__meta_kubernetes_pod_container_port_name"}, Regex: regexp.QuoteMeta(ep.Port)},
			Relabel{Action: "drop", SourceLabels: []string{"__meta_kubernetes_pod_phase"}, Regex: "(Failed|Succeeded)"},
			Relabel{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: "namespace"},
			Relabel{SourceLabels: []string{"__meta_kubernetes_pod_container_name"}, TargetLabel: "container"},
			Relabel{SourceLabels: []string{"__meta_kubernetes_pod_name"}, TargetLabel: "pod"},
			Relabel{TargetLabel: "job", Replacement: ptr(namespace + "/" + pm.Metadata.Name)},
			Relabel{TargetLabel: "endpoint", Replacement: ptr(ep.Port)},
		)
		for _, r := range ep.Relabelings {
			rc = append(rc, Relabel(r))
		}
		sc := ScrapeConfig{
			JobName:        fmt.Sprintf("podMonitor/%s/%s/%d", namespace, pm.Metadata.Name, i),
			HonorLabels:    ep.HonorLabels,
			ScrapeInterval: ep.Interval,
			ScrapeTimeout:  ep.ScrapeTimeout,
			MetricsPath:    ep.Path,
			Scheme:         ep.Scheme,
			RelabelConfigs: rc,
		}
		if api.FileSD != "" {
			sc.FileSDConfigs = []FileSD{{Files: []string{filepath.Join(api.FileSD, "*.json")}, RefreshInterval: "5s"}}
		} else {
			sc.KubernetesSDConfigs = []SDConfig{sd}
		}
		for _, r := range ep.MetricRelabelings {
			sc.MetricRelabelConfigs = append(sc.MetricRelabelConfigs, Relabel(r))
		}
		out = append(out, sc)
	}
	return out, nil
}

// selectorRelabels turns a label selector into keep/drop rules on the pod's meta labels, as
// the operator does: a label's value and whether it is present, joined by ";".
func selectorRelabels(s metav1.LabelSelector) ([]Relabel, error) {
	var out []Relabel
	meta := func(k string) []string {
		n := labelName(k)
		return []string{"__meta_kubernetes_pod_label_" + n, "__meta_kubernetes_pod_labelpresent_" + n}
	}
	for _, k := range slices.Sorted(maps.Keys(s.MatchLabels)) {
		out = append(out, Relabel{Action: "keep", SourceLabels: meta(k), Regex: "(" + regexp.QuoteMeta(s.MatchLabels[k]) + ");true"})
	}
	for _, e := range s.MatchExpressions {
		values := make([]string, len(e.Values))
		for i, v := range e.Values {
			values[i] = regexp.QuoteMeta(v)
		}
		alt := "(" + strings.Join(values, "|") + ");true"
		switch e.Operator {
		case metav1.LabelSelectorOpIn:
			out = append(out, Relabel{Action: "keep", SourceLabels: meta(e.Key), Regex: alt})
		case metav1.LabelSelectorOpNotIn:
			out = append(out, Relabel{Action: "drop", SourceLabels: meta(e.Key), Regex: alt})
		case metav1.LabelSelectorOpExists:
			out = append(out, Relabel{Action: "keep", SourceLabels: meta(e.Key)[1:], Regex: "true"})
		case metav1.LabelSelectorOpDoesNotExist:
			out = append(out, Relabel{Action: "drop", SourceLabels: meta(e.Key)[1:], Regex: "true"})
		default:
			return nil, fmt.Errorf("selector operator %q is not one of In, NotIn, Exists, DoesNotExist", e.Operator)
		}
	}
	return out, nil
}

func main() {
	var (
		file      = flag.String("podmonitor", "", "the PodMonitor manifest (YAML): print its scrape configs")
		discover  = flag.String("discover", "", "instead, keep `DIR`/pods.json up to date with the pods of -namespace, as file_sd target groups")
		namespace = flag.String("namespace", "", "the PodMonitor's namespace, where the manifest names none; the namespace -discover lists")
		api       API
	)
	flag.StringVar(&api.Server, "api-server", "", "the Kubernetes API URL (empty: Prometheus' in-cluster config)")
	flag.StringVar(&api.CAFile, "ca-file", "", "the CA that signed the API server's certificate")
	flag.StringVar(&api.TokenFile, "token-file", "", "a bearer token allowed to list and watch pods")
	flag.StringVar(&api.FileSD, "file-sd", "", "read targets from `DIR`/*.json (written by -discover) instead of Kubernetes discovery")
	flag.Parse()
	var err error
	switch {
	case *discover != "":
		if api.Server == "" || *namespace == "" {
			fmt.Fprintln(os.Stderr, "scrapeconfig: -discover needs -api-server and -namespace")
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err = discoverLoop(ctx, api, *namespace, *discover, 2*time.Second)
	case *file != "":
		err = run(*file, *namespace, api)
	default:
		fmt.Fprintln(os.Stderr, "scrapeconfig: give -podmonitor or -discover")
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scrapeconfig:", err)
		os.Exit(1)
	}
}

func run(file, namespace string, api API) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var pm PodMonitor // fields this command does not read are ignored
	if err := yaml.Unmarshal(b, &pm); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	configs, err := Generate(pm, namespace, api)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	out, err := yaml.Marshal(configs)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
