package promcheck

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSelectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum by (service, le) (rate(tungsten_http_request_duration_seconds_bucket{service=~".+"}[1m]))`,
			[]string{`tungsten_http_request_duration_seconds_bucket{service=~".+"}`}},
		{`label_replace(rate(x_total{route=~"/api/[a-z].*",code=~"5.."}[5m]), "route_group", "$1", "route", "/api/([a-z]+).*") or y * 0`,
			[]string{`x_total{route=~"/api/[a-z].*",code=~"5.."}`, "y"}},
		{`route_group:tungsten_slo_errors:ratio_rate1h > (14.4 * 0.001) and on (a) b:c:d offset 5m`,
			[]string{"b:c:d", "route_group:tungsten_slo_errors:ratio_rate1h"}},
		{`time() - last_seconds`, []string{"last_seconds"}},
		{`histogram_quantile(0.99, sum by (le) (rate(h_bucket[1m:10s])))`, []string{"h_bucket"}},
		{`up{job="tungsten"} == 0`, []string{`up{job="tungsten"}`}},
		{`1 - (sum(rate(a{le="0.25"}[1m])) / sum(rate(b[1m])))`, []string{`a{le="0.25"}`, "b"}},
	} {
		require.Equal(t, tc.want, Selectors(tc.expr), tc.expr)
	}
}

func TestLabelsOnly(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`m{service=~".+",code=~"5.."}`:  `m{service!="",code!=""}`,
		`m{a="x\"y",b!="z",c!~"w"}`:     `m{a!=""}`,
		`m`:                             `m`,
		`{__name__="m",x="1"}`:          `{__name__="m",x!=""}`,
		`m{route = "/api/users/login"}`: `m{route!=""}`,
	} {
		require.Equal(t, want, LabelsOnly(in), in)
	}
}
