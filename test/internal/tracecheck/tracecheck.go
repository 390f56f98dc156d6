// Package tracecheck checks, against a real Jaeger, that one write through
// Tungsten's gateway is one complete trace across its services: shared by the
// loopback observability test and the cluster test.
package tracecheck

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Trace is a trace as Jaeger's query API (/api/traces/<id>) returns it.
type Trace struct {
	TraceID string `json:"traceID"`
	Spans   []struct {
		TraceID       string `json:"traceID"`
		OperationName string `json:"operationName"`
		ProcessID     string `json:"processID"`
		Tags          []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
		} `json:"tags"`
	} `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

// Check asks Jaeger for the trace of one authenticated POST /api/articles
// through the gateway until it holds every hop, or timeout: the gateway's and
// the blog's server spans, the gateway's client span, the SQL insert, a Redis
// command, the NATS publish and the consumer of blog.article.published (spans
// arrive in batches). It returns the trace.
func Check(t *testing.T, jaegerURL, traceID string, timeout time.Duration) Trace {
	t.Helper()
	var missing []string
	var last Trace
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var body struct {
			Data []Trace `json:"data"`
		}
		if getJSON(jaegerURL+"/api/traces/"+traceID, &body) == nil && len(body.Data) == 1 {
			last = body.Data[0]
			missing = Missing(last)
			if len(missing) == 0 {
				break
			}
		} else {
			missing = []string{"the trace itself"}
		}
		time.Sleep(500 * time.Millisecond)
	}
	require.Empty(t, missing, "trace %s in Jaeger lacks: %s (spans: %s)", traceID, strings.Join(missing, ", "), Summary(last))
	for _, s := range last.Spans {
		require.Equal(t, traceID, s.TraceID, "a span of another trace")
	}
	t.Logf("trace %s: %d spans from %d processes: %s", traceID, len(last.Spans), len(last.Processes), Summary(last))
	return last
}

// Missing names the hops of Check the trace lacks.
func Missing(tr Trace) []string {
	have := map[string]bool{}
	for _, s := range tr.Spans {
		svc := tr.Processes[s.ProcessID].ServiceName
		tags := map[string]string{}
		for _, tg := range s.Tags {
			tags[tg.Key] = fmt.Sprint(tg.Value)
		}
		switch {
		case svc == "tungsten-gateway" && s.OperationName == "POST /api/articles" && tags["span.kind"] == "server":
			have["gateway server span POST /api/articles"] = true
		case svc == "tungsten-gateway" && tags["span.kind"] == "client" && tags["peer.service"] == "blog":
			have["gateway client span to blog (peer.service)"] = true
		case svc == "tungsten-blog" && s.OperationName == "POST /api/articles" && tags["span.kind"] == "server" &&
			tags["http.route"] == "/api/articles" && tags["http.response.status_code"] == "201":
			have["blog server span POST /api/articles (http.route, http.response.status_code)"] = true
		case svc == "tungsten-blog" && tags["db.system.name"] == "postgresql" && strings.Contains(tags["db.query.text"], "INSERT INTO articles"):
			have["SQL INSERT INTO articles (db.system.name, db.query.text)"] = true
		case svc == "tungsten-blog" && tags["span.kind"] == "producer" && tags["messaging.system"] == "nats" &&
			strings.HasSuffix(tags["messaging.destination.name"], ".blog.article.published"):
			have["NATS publish of blog.article.published (messaging.system)"] = true
		case svc == "tungsten-blog" && tags["span.kind"] == "consumer" && strings.HasSuffix(s.OperationName, ".blog.article.published"):
			have["consumer of blog.article.published"] = true
		case tags["db.system.name"] == "redis":
			have["Redis command"] = true
		}
	}
	var missing []string
	for _, want := range []string{
		"gateway server span POST /api/articles",
		"gateway client span to blog (peer.service)",
		"blog server span POST /api/articles (http.route, http.response.status_code)",
		"SQL INSERT INTO articles (db.system.name, db.query.text)",
		"Redis command",
		"NATS publish of blog.article.published (messaging.system)",
		"consumer of blog.article.published",
	} {
		if !have[want] {
			missing = append(missing, want)
		}
	}
	return missing
}

// Summary lists a trace's spans as service:operation, sorted.
func Summary(tr Trace) string {
	var parts []string
	for _, s := range tr.Spans {
		parts = append(parts, tr.Processes[s.ProcessID].ServiceName+":"+s.OperationName)
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// getJSON decodes the 200 answer of GET u into out.
func getJSON(u string, out any) error {
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(u)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", u, res.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}
