package httpx_test

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

func telemetryMetrics(reg *prometheus.Registry) *telemetry.HTTPMetrics {
	return telemetry.NewHTTPMetrics(reg)
}

// counterValue reads tungsten_http_requests_total for a route and status.
func counterValue(reg *prometheus.Registry, route, code string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "tungsten_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
