package prom

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tungsten-blog/tungsten/internal/doctor"
)

func TestDecodeVector(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"vector","result":[
		{"metric":{"service":"blog"},"value":[1733338800.123,"0.25"]},
		{"metric":{"service":"users"},"value":[1733338800.123,"NaN"]},
		{"metric":{"service":"web"},"value":[1733338800.123,"+Inf"]}]}}`
	got, err := DecodeVector([]byte(body))
	require.NoError(t, err)
	require.Len(t, got, 1, "DecodeVector = %+v, want only blog's 0.25 (NaN and Inf dropped)", got)
	require.Equal(t, "blog", got[0].Labels["service"], "DecodeVector = %+v, want only blog's 0.25 (NaN and Inf dropped)", got)
	require.Equal(t, 0.25, got[0].Value, "DecodeVector = %+v, want only blog's 0.25 (NaN and Inf dropped)", got)
	for _, bad := range []string{`{`, `{"status":"error","error":"parse error"}`, `{"status":"success","data":{"resultType":"matrix","result":[]}}`} {
		_, err := DecodeVector([]byte(bad))
		assert.Error(t, err, "DecodeVector(%s): no error", bad)
	}
}

func TestDecodeAlerts(t *testing.T) {
	body := `{"status":"success","data":{"alerts":[
		{"labels":{"alertname":"TungstenTargetDown","service":"users"},"state":"firing"},
		{"labels":{"alertname":"TungstenTargetDown","service":"users","pod":"b"},"state":"firing"},
		{"labels":{"alertname":"TungstenLatencyBudgetBurnFast","service":"blog"},"state":"pending"}]}}`
	got, err := DecodeAlerts([]byte(body))
	require.NoError(t, err)
	require.Equal(t, []doctor.Alert{{Name: "TungstenTargetDown", Component: "users"}}, got, "DecodeAlerts: want the firing one, once")
}

func TestSelectors(t *testing.T) {
	w := doctor.Window{Window: 2 * time.Minute, Baseline: 10 * time.Minute}
	assert.Equal(t, "[120s]", now(w), "now")
	assert.Equal(t, "[600s] offset 120s", base(w), "base")
}

func TestDepSignalsRender(t *testing.T) {
	for _, d := range depSignals {
		q := fmt.Sprintf(d.expr, "[60s]")
		assert.True(t, !strings.Contains(q, "%!") && strings.Contains(q, "[60s]") && strings.Contains(q, "by (target)"),
			"%s %s renders as %q", d.datastore, d.signal, q)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}`)
	f.Add(`{"status":"success","data":{"alerts":[{"labels":{},"state":"firing"}]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = DecodeVector([]byte(s))
		_, _ = DecodeAlerts([]byte(s))
	})
}

func TestMemoryQueriesRender(t *testing.T) {
	q := fmt.Sprintf(rssBaseQ, base(doctor.Window{Window: time.Minute, Baseline: 5 * time.Minute}))
	require.Equal(t, `max by (target) (avg_over_time(process_resident_memory_bytes{job="tungsten"}[300s] offset 60s))`, q)
	require.NotContains(t, rssNowQ, "%")
}

func TestTypicalIsTheMedianOfWindowsBeforeTheWindow(t *testing.T) {
	w := doctor.Window{Window: time.Minute, Baseline: 5 * time.Minute}
	require.Equal(t, `quantile_over_time(0.5, (sum by (service) (rate(tungsten_http_requests_total{code=~"5.."}[60s])) / (sum by (service) (rate(tungsten_http_requests_total[60s])) > 0))[300s:60s] offset 60s)`, typical(errQ, w))
	for _, d := range depSignals {
		require.NotContains(t, typical(d.expr, w), "%!", d.signal)
	}
}
