package kube

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Counts are one container's error lines in the window (Now) and before it
// (Base, not yet scaled), with the message of the last one in the window.
type Counts struct {
	Now, Base int
	Sample    string
}

// maxLine is the longest log line judged; the rest of a longer one is skipped.
const maxLine = 64 << 10

var errorLevel = []byte(`"level":"ERROR"`)

// CountErrors reads container logs written with timestamps (`kubectl logs
// --timestamps`: an RFC 3339 time, a space, the line) and counts Tungsten's
// JSON error lines before and after cutoff, with the repeats the log
// handler suppressed. Lines without a timestamp are not counted.
func CountErrors(r io.Reader, cutoff time.Time) (Counts, error) {
	var c Counts
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, isPrefix, err := br.ReadLine()
		if errors.Is(err, io.EOF) {
			return c, nil
		}
		if err != nil {
			return c, fmt.Errorf("reading logs: %w", err)
		}
		if isPrefix { // too long: skip to its end
			for isPrefix && err == nil {
				_, isPrefix, err = br.ReadLine()
			}
			continue
		}
		ts, rest, ok := bytes.Cut(line, []byte(" "))
		if !ok || !bytes.Contains(rest, errorLevel) {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, string(ts))
		if err != nil {
			continue
		}
		var l struct {
			Msg        string `json:"msg"`
			Error      string `json:"error"`
			Suppressed int    `json:"suppressed"`
		}
		decoded := json.Unmarshal(rest, &l) == nil
		// The log handler writes one line per repeated message and interval
		// and counts the ones it held back in "suppressed".
		n := 1 + max(0, min(l.Suppressed, 1_000_000))
		if t.Before(cutoff) {
			c.Base += n
			continue
		}
		c.Now += n
		if decoded && l.Msg != "" {
			c.Sample = l.Msg
			if l.Error != "" {
				c.Sample += ": " + l.Error
			}
			c.Sample = truncate(c.Sample, 200)
		}
	}
}

// Quantities are a usage sample of metrics.k8s.io.
type Quantities struct {
	CPUMilli, MemBytes int64
}

type usageJSON struct {
	CPU    string `json:"cpu"`
	Memory string `json:"memory"`
}

func (u usageJSON) quantities() (Quantities, error) {
	var q Quantities
	if u.CPU != "" {
		v, err := resource.ParseQuantity(u.CPU)
		if err != nil {
			return q, fmt.Errorf("cpu %q: %w", u.CPU, err)
		}
		q.CPUMilli = v.MilliValue()
	}
	if u.Memory != "" {
		v, err := resource.ParseQuantity(u.Memory)
		if err != nil {
			return q, fmt.Errorf("memory %q: %w", u.Memory, err)
		}
		q.MemBytes = v.Value()
	}
	return q, nil
}

// DecodePodMetrics decodes a metrics.k8s.io PodMetricsList into usage by
// pod and container.
func DecodePodMetrics(body []byte) (map[string]map[string]Quantities, error) {
	var l struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Containers []struct {
				Name  string    `json:"name"`
				Usage usageJSON `json:"usage"`
			} `json:"containers"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, fmt.Errorf("decoding pod metrics: %w", err)
	}
	out := make(map[string]map[string]Quantities, len(l.Items))
	for _, it := range l.Items {
		m := map[string]Quantities{}
		for _, c := range it.Containers {
			q, err := c.Usage.quantities()
			if err != nil {
				return nil, fmt.Errorf("pod %s container %s: %w", it.Metadata.Name, c.Name, err)
			}
			m[c.Name] = q
		}
		out[it.Metadata.Name] = m
	}
	return out, nil
}

// DecodeNodeMetrics decodes a metrics.k8s.io NodeMetricsList into usage by
// node.
func DecodeNodeMetrics(body []byte) (map[string]Quantities, error) {
	var l struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Usage usageJSON `json:"usage"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, fmt.Errorf("decoding node metrics: %w", err)
	}
	out := make(map[string]Quantities, len(l.Items))
	for _, it := range l.Items {
		q, err := it.Usage.quantities()
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", it.Metadata.Name, err)
		}
		out[it.Metadata.Name] = q
	}
	return out, nil
}
