// Package faults is Tungsten's fault injection (issue 13, ADR 0016): one
// Switch per process, set by an operator on the admin listener, that makes
// the process slow, failing, busy, growing, unready or cut off from one
// dependency, so that alerts, dashboards and `tungsten doctor` can be
// checked against a fault whose cause is known. It is off by default, costs
// one atomic load per seam when off, and every set clears itself after its
// duration so a forgotten fault ends by itself.
package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// The faults, as named in the API and in the fault label of the metrics.
const (
	Latency    = "latency"
	Errors     = "errors"
	CPU        = "cpu"
	Memory     = "memory"
	Dependency = "dependency"
	Unready    = "unready"
	Clock      = "clock"
)

// Names lists every fault, in the API's order.
func Names() []string { return []string{Latency, Errors, CPU, Memory, Dependency, Unready, Clock} }

// Dependency targets besides the neighbour services (auth, users, blog,
// gateway, web).
const (
	Postgres = "postgres" // any SQL database, SQLite included
	Redis    = "redis"    // the cache and the shared rate limiter
	NATS     = "nats"     // the event bus: relay publish and consumers
)

// Targets lists the accepted dependency targets.
func Targets() []string {
	return []string{Postgres, Redis, NATS, "auth", "users", "blog", "gateway", "web"}
}

// Limits of a set (validated by Parse).
const (
	MaxBodyBytes    = 4 << 10
	MaxDelay        = 30 * time.Second
	DefaultDuration = 10 * time.Minute
	MaxDuration     = time.Hour
	MaxMiB          = 1024
	MaxClockOffset  = 24 * time.Hour
)

// Duration is a time.Duration written as a Go duration string ("300ms").
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration is a string such as "300ms" or "10m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a string such as \"300ms\" or \"10m\"", s)
	}
	*d = Duration(v)
	return nil
}

// LatencyFault adds Delay before the public handler of Percent% of requests.
type LatencyFault struct {
	Delay   Duration `json:"delay"`
	Percent *float64 `json:"percent,omitempty"`
}

// ErrorsFault answers Percent% of public API requests 500.
type ErrorsFault struct {
	Percent *float64 `json:"percent,omitempty"`
}

// CPUFault keeps Cores goroutines busy.
type CPUFault struct {
	Cores int `json:"cores"`
}

// MemoryFault allocates and holds MiBPerSecond MiB each second up to MaxMiB.
type MemoryFault struct {
	MiBPerSecond int `json:"mib_per_second"`
	MaxMiB       int `json:"max_mib"`
}

// DependencyFault fails Percent% of the calls to Target.
type DependencyFault struct {
	Target  string   `json:"target"`
	Percent *float64 `json:"percent,omitempty"`
}

// ClockFault moves the clock the process issues tokens by (Switch.Now: the
// auth service's iat, exp and key rotation) Offset ahead, or behind when
// negative: a token issuer with a skewed clock, without touching the
// machine's (ADR 0021).
type ClockFault struct {
	Offset Duration `json:"offset"`
}

// Set is the whole fault set of a process; PUT /admin/faults replaces it.
// Absent faults are off. Percentages left out mean 100.
type Set struct {
	Latency    *LatencyFault    `json:"latency,omitempty"`
	Errors     *ErrorsFault     `json:"errors,omitempty"`
	CPU        *CPUFault        `json:"cpu,omitempty"`
	Memory     *MemoryFault     `json:"memory,omitempty"`
	Dependency *DependencyFault `json:"dependency,omitempty"`
	Unready    bool             `json:"unready,omitempty"`
	Clock      *ClockFault      `json:"clock,omitempty"`
	// Duration is how long the set lasts before it clears itself
	// (default 10m, at most 1h).
	Duration Duration `json:"duration,omitempty"`
}

// Empty reports whether no fault is set.
func (s Set) Empty() bool {
	return s.Latency == nil && s.Errors == nil && s.CPU == nil && s.Memory == nil && s.Dependency == nil && !s.Unready && s.Clock == nil
}

// active reports, per fault name, whether s sets it.
func (s Set) active() map[string]bool {
	return map[string]bool{
		Latency: s.Latency != nil, Errors: s.Errors != nil, CPU: s.CPU != nil,
		Memory: s.Memory != nil, Dependency: s.Dependency != nil, Unready: s.Unready, Clock: s.Clock != nil,
	}
}

// ValidationError is a body Parse refused; its message is for the operator.
type ValidationError struct{ msg string }

func (e *ValidationError) Error() string { return e.msg }

func invalid(format string, args ...any) error {
	return &ValidationError{msg: fmt.Sprintf(format, args...)}
}

// Parse decodes and validates a PUT /admin/faults body strictly (unknown
// fields, trailing data, out-of-range values are refused) and fills in the
// defaults: percentages 100, duration 10m. maxCores bounds cpu.cores
// (runtime.NumCPU() when 0). Every error is a *ValidationError.
func Parse(body []byte, maxCores int) (Set, error) {
	if maxCores <= 0 {
		maxCores = runtime.NumCPU()
	}
	if len(body) > MaxBodyBytes {
		return Set{}, invalid("the body is larger than %d bytes", MaxBodyBytes)
	}
	var s Set
	if len(bytes.TrimSpace(body)) == 0 {
		return Set{}, invalid(`the body must be a JSON object such as {"latency":{"delay":"300ms","percent":100}}`)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Set{}, invalid("decoding the fault set: %s", decodeMessage(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Set{}, invalid("the body must hold one JSON object and nothing after it")
	}
	if err := s.normalise(maxCores); err != nil {
		return Set{}, err
	}
	return s, nil
}

// decodeMessage shortens encoding/json's errors to what an operator needs.
func decodeMessage(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("%s must be a %s", te.Field, jsonType(te.Type.Kind().String()))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonType(goKind string) string {
	switch goKind {
	case "int", "int64", "float64":
		return "number"
	case "bool":
		return "boolean"
	case "ptr", "struct":
		return "object"
	}
	return goKind
}

func percent(field string, p **float64) error {
	if *p == nil {
		v := 100.0
		*p = &v
		return nil
	}
	if v := **p; !(v >= 0 && v <= 100) {
		return invalid("%s.percent must be between 0 and 100, not %v", field, v)
	}
	return nil
}

func (s *Set) normalise(maxCores int) error {
	if l := s.Latency; l != nil {
		if l.Delay <= 0 || time.Duration(l.Delay) > MaxDelay {
			return invalid("latency.delay must be positive and at most %v", MaxDelay)
		}
		if err := percent(Latency, &l.Percent); err != nil {
			return err
		}
	}
	if e := s.Errors; e != nil {
		if err := percent(Errors, &e.Percent); err != nil {
			return err
		}
	}
	if c := s.CPU; c != nil {
		if c.Cores == 0 {
			c.Cores = 1
		}
		if c.Cores < 1 || c.Cores > maxCores {
			return invalid("cpu.cores must be between 1 and %d (the CPUs of this process), not %d", maxCores, c.Cores)
		}
	}
	if m := s.Memory; m != nil {
		if m.MaxMiB == 0 {
			m.MaxMiB = 256
		}
		if m.MiBPerSecond == 0 {
			m.MiBPerSecond = 8
		}
		if m.MaxMiB < 1 || m.MaxMiB > MaxMiB {
			return invalid("memory.max_mib must be between 1 and %d, not %d", MaxMiB, m.MaxMiB)
		}
		if m.MiBPerSecond < 1 || m.MiBPerSecond > MaxMiB {
			return invalid("memory.mib_per_second must be between 1 and %d, not %d", MaxMiB, m.MiBPerSecond)
		}
	}
	if d := s.Dependency; d != nil {
		if !validTarget(d.Target) {
			return invalid("dependency.target must be one of %s, not %q", strings.Join(Targets(), ", "), d.Target)
		}
		if err := percent(Dependency, &d.Percent); err != nil {
			return err
		}
	}
	if c := s.Clock; c != nil {
		if c.Offset == 0 || time.Duration(c.Offset).Abs() > MaxClockOffset {
			return invalid("clock.offset must be non-zero and at most %v either way", MaxClockOffset)
		}
	}
	switch {
	case s.Duration == 0:
		s.Duration = Duration(DefaultDuration)
	case s.Duration < 0 || time.Duration(s.Duration) > MaxDuration:
		return invalid("duration must be positive and at most %v", MaxDuration)
	}
	return nil
}

func validTarget(t string) bool {
	for _, v := range Targets() {
		if t == v {
			return true
		}
	}
	return false
}
