package triage

import (
	"net/http"

	"github.com/tungsten-blog/tungsten/internal/doctor"
)

// extraSources are the log search and the traces.
func extraSources(c Config, hc *http.Client, snap *doctor.Snapshot) []source {
	var out []source
	skip := func(name, why string) {
		snap.NotConsulted = append(snap.NotConsulted, doctor.NotConsulted{Source: name, Why: why})
	}
	if c.LogsURL == "" {
		skip("logsearch", "no --logs-url")
	}
	if c.JaegerURL == "" {
		skip("traces", "no --jaeger-url")
	}
	return out
}
