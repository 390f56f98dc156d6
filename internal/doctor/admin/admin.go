// Package admin is the doctor's source for processes outside Kubernetes
// (a laptop, a VM, the loopback deployment of the tests): each process's
// admin listener answers /readyz with the modules it serves and, when it
// is not ready, why. A process that does not answer at all is reported
// under the name the operator gave it ("users=http://127.0.0.1:9092").
package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/tungsten-blog/tungsten/internal/doctor"
	"github.com/tungsten-blog/tungsten/internal/doctor/fetch"
)

// Target is one admin listener, optionally named by the operator.
type Target struct {
	Name, URL string
}

// ParseTargets parses a comma-separated list of [name=]URL.
func ParseTargets(list string) ([]Target, error) {
	var out []Target
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var t Target
		if name, u, ok := strings.Cut(item, "="); ok && !strings.Contains(name, "/") {
			t.Name, item = name, u
		}
		if !strings.HasPrefix(item, "http://") && !strings.HasPrefix(item, "https://") {
			return nil, fmt.Errorf("admin URL %q: want http(s)://host:port, optionally prefixed by a name (users=http://127.0.0.1:9092)", item)
		}
		t.URL = strings.TrimRight(item, "/")
		out = append(out, t)
	}
	return out, nil
}

// Ready is a decoded /readyz answer.
type Ready struct {
	Status  string   `json:"status"`
	Reason  string   `json:"reason"`
	Modules []string `json:"modules"`
}

// DecodeReady decodes a /readyz body.
func DecodeReady(body []byte) (Ready, error) {
	var r Ready
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("decoding /readyz: %w", err)
	}
	if r.Status == "" {
		return r, fmt.Errorf("decoding /readyz: no status")
	}
	return r, nil
}

// Source probes admin listeners.
type Source struct {
	Targets []Target
	HTTP    *http.Client
}

// Collect fills snap.Processes, one per target, probed concurrently.
func (s *Source) Collect(ctx context.Context, snap *doctor.Snapshot) {
	out := make([]doctor.Process, len(s.Targets))
	var wg sync.WaitGroup
	for i, t := range s.Targets {
		wg.Go(func() { out[i] = s.probe(ctx, t) })
	}
	wg.Wait()
	snap.Processes = append(snap.Processes, out...)
}

func (s *Source) probe(ctx context.Context, t Target) doctor.Process {
	p := doctor.Process{URL: t.URL}
	if t.Name != "" {
		p.Components = strings.Split(t.Name, "+")
	}
	code, body, err := s.get(ctx, t.URL+"/readyz")
	if err != nil {
		p.Detail = "admin listener unreachable: " + err.Error()
		return p
	}
	r, err := DecodeReady(body)
	if err != nil {
		p.Detail = fmt.Sprintf("HTTP %d, %v", code, err)
		return p
	}
	if len(r.Modules) > 0 && t.Name == "" {
		p.Components = r.Modules
	}
	p.Healthy = true
	p.Ready = code == http.StatusOK && r.Status == "ready"
	p.Detail = r.Status
	if r.Reason != "" {
		p.Detail += ": " + r.Reason
	}
	return p
}

func (s *Source) get(ctx context.Context, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	return fetch.Read(s.HTTP, req, "admin listener", 64<<10)
}
