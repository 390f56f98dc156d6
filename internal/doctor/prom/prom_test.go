package prom

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tungsten-blog/tungsten/internal/doctor"
)

func TestDecodeVector(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"vector","result":[
		{"metric":{"service":"blog"},"value":[1733338800.123,"0.25"]},
		{"metric":{"service":"users"},"value":[1733338800.123,"NaN"]},
		{"metric":{"service":"web"},"value":[1733338800.123,"+Inf"]}]}}`
	got, err := DecodeVector([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Labels["service"] != "blog" || got[0].Value != 0.25 {
		t.Fatalf("DecodeVector = %+v, want only blog's 0.25 (NaN and Inf dropped)", got)
	}
	for _, bad := range []string{`{`, `{"status":"error","error":"parse error"}`, `{"status":"success","data":{"resultType":"matrix","result":[]}}`} {
		if _, err := DecodeVector([]byte(bad)); err == nil {
			t.Errorf("DecodeVector(%s): no error", bad)
		}
	}
}

func TestDecodeAlerts(t *testing.T) {
	body := `{"status":"success","data":{"alerts":[
		{"labels":{"alertname":"TungstenTargetDown","service":"users"},"state":"firing"},
		{"labels":{"alertname":"TungstenTargetDown","service":"users","pod":"b"},"state":"firing"},
		{"labels":{"alertname":"TungstenLatencyBudgetBurnFast","service":"blog"},"state":"pending"}]}}`
	got, err := DecodeAlerts([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != (doctor.Alert{Name: "TungstenTargetDown", Component: "users"}) {
		t.Fatalf("DecodeAlerts = %+v, want the firing one, once", got)
	}
}

func TestSelectors(t *testing.T) {
	w := doctor.Window{Window: 2 * time.Minute, Baseline: 10 * time.Minute}
	if got := now(w); got != "[120s]" {
		t.Errorf("now = %q", got)
	}
	if got := base(w); got != "[600s] offset 120s" {
		t.Errorf("base = %q", got)
	}
}

func TestDepSignalsRender(t *testing.T) {
	for _, d := range depSignals {
		q := fmt.Sprintf(d.expr, "[60s]")
		if strings.Contains(q, "%!") || !strings.Contains(q, "[60s]") || !strings.Contains(q, "by (target)") {
			t.Errorf("%s %s renders as %q", d.datastore, d.signal, q)
		}
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
