package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// Client calls a neighbour service. Every call has a deadline, carries the
// trace context and the request ID, and turns failures into error kinds.
type Client struct {
	name       string // the service called, for errors and spans
	baseURL    string
	http       *http.Client
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	faults     *faults.Switch
}

// ClientConfig configures a Client.
type ClientConfig struct {
	Service    string            // name of the service called
	BaseURL    string            // e.g. http://users:8080; ignored when Transport serves in process
	Transport  http.RoundTripper // nil: a pooled network transport
	Timeout    time.Duration     // per-call deadline
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	// Faults, when set, fails the calls a dependency fault names this
	// service in (ADR 0016), as a refused connection.
	Faults *faults.Switch
}

// NewClient returns a client for one neighbour.
func NewClient(cfg ClientConfig) *Client {
	tr := cfg.Transport
	if tr == nil {
		// A refused dial is retried (DialRetry): nothing was sent, so it is safe for every method.
		tr = &DialRetry{Attempts: 3, Backoff: 100 * time.Millisecond, Next: &http.Transport{
			Proxy:               nil, // internal calls never go through a proxy
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     90 * time.Second,
		}}
	}
	base := cfg.BaseURL
	if base == "" {
		base = "http://" + cfg.Service + ".in-process"
	}
	return &Client{
		name: cfg.Service, baseURL: base,
		http:   &http.Client{Transport: tr, Timeout: cfg.Timeout},
		tracer: cfg.Tracer, propagator: cfg.Propagator, faults: cfg.Faults,
	}
}

// Do sends method path with in (if non-nil) as JSON and decodes a 2xx answer
// into out (if non-nil). header entries are added to the request. A 4xx answer
// becomes an *errs.Error of the matching kind with the service's messages; a
// transport failure or 5xx becomes KindUnavailable.
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encoding request to %s: %w", c.name, err)
		}
		body = bytes.NewReader(b)
	}
	ctx, span := c.tracer.Start(ctx, method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(semconv.HTTPRequestMethodKey.String(method), semconv.PeerService(c.name)))
	defer span.End()

	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, body)
	if err != nil {
		return fmt.Errorf("building request to %s: %w", c.name, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if id := telemetry.RequestID(ctx); id != "" {
		req.Header.Set(RequestIDHeader, id)
	}
	c.propagator.Inject(ctx, propagation.HeaderCarrier(req.Header))
	span.SetAttributes(semconv.URLFull(req.URL.String()))

	resp, err := c.send(req)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "transport error")
		return errs.Unavailable(c.name, fmt.Errorf("%s %s: %w", method, path, err))
	}
	defer resp.Body.Close()
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return errs.Unavailable(c.name, fmt.Errorf("reading %s %s: %w", method, path, err))
	}
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, resp.Status)
		return errs.Unavailable(c.name, fmt.Errorf("%s %s: status %d", method, path, resp.StatusCode))
	}
	if resp.StatusCode >= 400 {
		var eb ErrorBody
		_ = json.Unmarshal(data, &eb)
		return &errs.Error{Kind: kindOfStatus(resp.StatusCode), Messages: eb.Errors.Body,
			Err: fmt.Errorf("%s %s %s: status %d", c.name, method, path, resp.StatusCode)}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return errs.Unavailable(c.name, fmt.Errorf("decoding %s %s: %w", method, path, err))
	}
	return nil
}

// send sends req, unless an injected fault fails it first.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	if err := c.faults.Fail(c.name); err != nil {
		return nil, fmt.Errorf("dialing %s: %w", c.name, err)
	}
	return c.http.Do(req)
}

func kindOfStatus(status int) errs.Kind {
	switch status {
	case http.StatusNotFound:
		return errs.KindNotFound
	case http.StatusUnauthorized:
		return errs.KindUnauthenticated
	case http.StatusForbidden:
		return errs.KindForbidden
	case http.StatusTooManyRequests:
		return errs.KindTooManyRequests
	case http.StatusRequestEntityTooLarge:
		return errs.KindTooLarge
	default:
		return errs.KindInvalid
	}
}
