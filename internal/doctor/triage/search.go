package triage

import (
	"net/http"

	"github.com/tungsten-blog/tungsten/internal/doctor"
	"github.com/tungsten-blog/tungsten/internal/doctor/logs"
	"github.com/tungsten-blog/tungsten/internal/doctor/traces"
)

// extraSources are the log search (VictoriaLogs) and the traces (Jaeger).
func extraSources(c Config, hc *http.Client, snap *doctor.Snapshot) []source {
	var out []source
	skip := func(name, why string) {
		snap.NotConsulted = append(snap.NotConsulted, doctor.NotConsulted{Source: name, Why: why})
	}
	if c.LogsURL == "" {
		skip("logsearch", "no --logs-url")
	} else {
		l := &logs.Client{URL: c.LogsURL, HTTP: hc}
		out = append(out, source{"logsearch", l.Collect})
	}
	if c.JaegerURL == "" {
		skip("traces", "no --jaeger-url")
	} else {
		j := &traces.Client{URL: c.JaegerURL, HTTP: hc}
		out = append(out, source{"traces", j.Collect})
	}
	return out
}
