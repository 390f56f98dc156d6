package faults

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestParse_Full(t *testing.T) {
	t.Parallel()
	s, err := Parse([]byte(`{"latency":{"delay":"300ms","percent":100},"errors":{"percent":50},"cpu":{"cores":1},
		"memory":{"mib_per_second":8,"max_mib":256},"dependency":{"target":"postgres","percent":100},"unready":true,"duration":"10m"}`), 2)
	require.NoError(t, err)
	require.Equal(t, Duration(300*time.Millisecond), s.Latency.Delay)
	require.Equal(t, 50.0, *s.Errors.Percent)
	require.Equal(t, 1, s.CPU.Cores)
	require.Equal(t, MemoryFault{MiBPerSecond: 8, MaxMiB: 256}, *s.Memory)
	require.Equal(t, "postgres", s.Dependency.Target)
	require.True(t, s.Unready)
	require.Equal(t, Duration(10*time.Minute), s.Duration)
}

func TestParse_Defaults(t *testing.T) {
	t.Parallel()
	s, err := Parse([]byte(`{"latency":{"delay":"1s"},"errors":{},"dependency":{"target":"redis"},"cpu":{},"memory":{}}`), 2)
	require.NoError(t, err)
	require.Equal(t, 100.0, *s.Latency.Percent)
	require.Equal(t, 100.0, *s.Errors.Percent)
	require.Equal(t, 100.0, *s.Dependency.Percent)
	require.Equal(t, 1, s.CPU.Cores)
	require.Equal(t, MemoryFault{MiBPerSecond: 8, MaxMiB: 256}, *s.Memory)
	require.Equal(t, Duration(DefaultDuration), s.Duration)

	s, err = Parse([]byte(`{}`), 2)
	require.NoError(t, err)
	require.True(t, s.Empty())
}

func TestParse_Refused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ body, want string }{
		{``, "JSON object"},
		{`[]`, "decoding"},
		{`{"latency":{"delay":"300ms"}} {}`, "nothing after it"},
		{`{"latncy":{}}`, `unknown field "latncy"`},
		{`{"latency":{"delay":"300ms","extra":1}}`, `unknown field "extra"`},
		{`{"latency":{"percent":10}}`, "latency.delay must be positive"},
		{`{"latency":{"delay":"31s"}}`, "at most 30s"},
		{`{"latency":{"delay":"-1s"}}`, "latency.delay must be positive"},
		{`{"latency":{"delay":300}}`, "duration is a string"},
		{`{"latency":{"delay":"soon"}}`, `duration "soon"`},
		{`{"errors":{"percent":101}}`, "errors.percent must be between 0 and 100"},
		{`{"errors":{"percent":-1}}`, "errors.percent must be between 0 and 100"},
		{`{"errors":{"percent":"50"}}`, "must be a number"},
		{`{"cpu":{"cores":3}}`, "cpu.cores must be between 1 and 2"},
		{`{"cpu":{"cores":-1}}`, "cpu.cores must be between 1 and 2"},
		{`{"memory":{"max_mib":1025}}`, "memory.max_mib must be between 1 and 1024"},
		{`{"memory":{"mib_per_second":-2}}`, "memory.mib_per_second"},
		{`{"dependency":{"target":"mysql"}}`, "dependency.target must be one of postgres, redis, nats, auth"},
		{`{"dependency":{}}`, "dependency.target"},
		{`{"dependency":{"target":"nats","percent":200}}`, "dependency.percent"},
		{`{"unready":"yes"}`, "must be a boolean"},
		{`{"duration":"2h"}`, "duration must be positive and at most 1h"},
		{`{"clock":{}}`, "clock.offset must be non-zero"},
		{`{"clock":{"offset":"25h"}}`, "at most 24h0m0s either way"},
		{`{"clock":{"offset":"-25h"}}`, "at most 24h0m0s either way"},
		{`{"duration":"-1m"}`, "duration must be positive"},
		{`{"unready":true,"pad":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, "larger than 4096 bytes"},
	} {
		_, err := Parse([]byte(tc.body), 2)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve, tc.body)
		require.Contains(t, err.Error(), tc.want, tc.body)
	}
}

// The clock fault moves Now by its offset, ahead or behind, while it is
// set; a nil or cleared switch reads the real clock.
func TestSwitch_ClockOffset(t *testing.T) {
	t.Parallel()
	var nilSwitch *Switch
	require.WithinDuration(t, time.Now(), nilSwitch.Now(), time.Second)
	s, reg := newSwitch(t)
	require.WithinDuration(t, time.Now(), s.Now(), time.Second)
	for _, offset := range []string{"2m", "-2m"} {
		set, err := Parse([]byte(`{"clock":{"offset":"`+offset+`"}}`), 2)
		require.NoError(t, err)
		s.Apply(set, "test")
		d, _ := time.ParseDuration(offset)
		require.WithinDuration(t, time.Now().Add(d), s.Now(), time.Second, offset)
		require.Equal(t, 1.0, testutil.ToFloat64(s.active.WithLabelValues(Clock)))
	}
	s.Clear("test")
	require.WithinDuration(t, time.Now(), s.Now(), time.Second)
	require.Equal(t, 7, testutil.CollectAndCount(reg, "tungsten_fault_active"))
}

func TestSample(t *testing.T) {
	t.Parallel()
	hits := func(pct float64) int {
		n := 0
		for range 10_000 {
			if sample(pct) {
				n++
			}
		}
		return n
	}
	require.Equal(t, 0, hits(0))
	require.Equal(t, 10_000, hits(100))
	require.InDelta(t, 5_000, hits(50), 400) // > 8 standard deviations
	require.InDelta(t, 1_000, hits(10), 250)
}

func newSwitch(t *testing.T) (*Switch, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s := New(Deps{Registerer: reg, MaxCores: 2})
	t.Cleanup(s.Close)
	return s, reg
}

func mustParse(t *testing.T, body string) Set {
	t.Helper()
	s, err := Parse([]byte(body), 2)
	require.NoError(t, err)
	return s
}

func TestSwitch_NilAndOff(t *testing.T) {
	t.Parallel()
	var nilSwitch *Switch
	require.False(t, nilSwitch.Active())
	require.Zero(t, nilSwitch.Delay())
	require.False(t, nilSwitch.FailRequest())
	require.False(t, nilSwitch.Unready())
	require.NoError(t, nilSwitch.Fail(Postgres))
	nilSwitch.Close()

	s, reg := newSwitch(t)
	require.False(t, s.Active())
	require.NoError(t, s.Fail(Postgres))
	require.True(t, s.Status().Faults.Empty())
	// Every fault is exported at 0 from the start.
	require.Equal(t, 7, testutil.CollectAndCount(reg, "tungsten_fault_active"))
	require.Equal(t, 7, testutil.CollectAndCount(reg, "tungsten_fault_injections_total"))
}

func TestSwitch_ApplyReplacesAndClears(t *testing.T) {
	t.Parallel()
	s, _ := newSwitch(t)
	st := s.Apply(mustParse(t, `{"latency":{"delay":"250ms"},"errors":{},"dependency":{"target":"users"},"unready":true}`), "test")
	require.NotNil(t, st.ExpiresAt)
	require.Equal(t, 250*time.Millisecond, s.Delay())
	require.True(t, s.FailRequest())
	require.True(t, s.Unready())
	err := s.Fail("users")
	require.Error(t, err)
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "an injected failure looks like a refused connection")
	var fe *Error
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "users", fe.Target)
	require.NoError(t, s.Fail("blog"), "only the target fails")
	require.Equal(t, 1.0, testutil.ToFloat64(s.active.WithLabelValues(Latency)))
	require.Equal(t, 0.0, testutil.ToFloat64(s.active.WithLabelValues(CPU)))
	require.Equal(t, 1.0, testutil.ToFloat64(s.injected[Dependency]))

	// PUT replaces the whole set.
	s.Apply(mustParse(t, `{"errors":{"percent":0}}`), "test")
	require.Zero(t, s.Delay())
	require.False(t, s.Unready())
	require.False(t, s.FailRequest(), "0% never fires")
	require.Equal(t, 0.0, testutil.ToFloat64(s.active.WithLabelValues(Latency)))
	require.Equal(t, 1.0, testutil.ToFloat64(s.active.WithLabelValues(Errors)))

	st = s.Clear("test")
	require.True(t, st.Faults.Empty())
	require.Nil(t, st.ExpiresAt)
	require.False(t, s.Active())
	require.Equal(t, 0.0, testutil.ToFloat64(s.active.WithLabelValues(Errors)))
}

func TestSwitch_Expires(t *testing.T) {
	t.Parallel()
	s, _ := newSwitch(t)
	set := mustParse(t, `{"unready":true,"cpu":{"cores":1}}`)
	set.Duration = Duration(50 * time.Millisecond)
	s.Apply(set, "test")
	require.True(t, s.Active())
	require.Eventually(t, func() bool { return !s.Active() }, 5*time.Second, 10*time.Millisecond)
	require.True(t, s.Status().Faults.Empty())
	require.Equal(t, 0.0, testutil.ToFloat64(s.active.WithLabelValues(CPU)))

	// A stale expiry does not clear a newer set.
	s.Apply(set, "test")
	gen := s.gen
	s.Apply(mustParse(t, `{"unready":true}`), "test")
	s.expire(gen)
	require.True(t, s.Active())
}

func TestSwitch_CPUAndMemoryStop(t *testing.T) {
	t.Parallel()
	s, _ := newSwitch(t)
	s.Apply(mustParse(t, `{"cpu":{"cores":2},"memory":{"mib_per_second":100,"max_mib":4}}`), "test")
	time.Sleep(100 * time.Millisecond)
	done := make(chan struct{})
	go func() { s.Clear("test"); close(done) }()
	select {
	case <-done: // Clear waits for the workers, so they have stopped
	case <-time.After(5 * time.Second):
		require.Fail(t, "clearing did not stop the CPU and memory workers")
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"latency":{"delay":"300ms","percent":100},"errors":{"percent":50},"cpu":{"cores":1},"memory":{"mib_per_second":8,"max_mib":256},"dependency":{"target":"postgres","percent":100},"unready":true,"duration":"10m"}`,
		`{}`, `{"latency":{"delay":"1s"}}`, `{"errors":{"percent":1e400}}`, `{"duration":"1h0m1s"}`, `null`, `{"cpu":{"cores":1.5}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := Parse(body, 4)
		if err != nil {
			var ve *ValidationError
			require.ErrorAs(t, err, &ve)
			return
		}
		// What Parse accepts is within every limit, and reads back the same.
		d := time.Duration(s.Duration)
		require.True(t, d > 0 && d <= MaxDuration)
		if l := s.Latency; l != nil {
			require.True(t, l.Delay > 0 && time.Duration(l.Delay) <= MaxDelay)
			require.True(t, *l.Percent >= 0 && *l.Percent <= 100)
		}
		if c := s.CPU; c != nil {
			require.True(t, c.Cores >= 1 && c.Cores <= 4)
		}
		if m := s.Memory; m != nil {
			require.True(t, m.MaxMiB >= 1 && m.MaxMiB <= MaxMiB && m.MiBPerSecond >= 1)
		}
		if dep := s.Dependency; dep != nil {
			require.True(t, validTarget(dep.Target))
		}
		again, err := Parse([]byte(setJSON(s)), 4)
		require.NoError(t, err, setJSON(s))
		require.Equal(t, setJSON(s), setJSON(again))
	})
}
