package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// RequestIDHeader carries the request ID between client, gateway and services.
const RequestIDHeader = "X-Request-Id"

type loggerKey struct{}

type routeKey struct{}

// routeInfo is filled in by Routed once the mux has matched a pattern, so the
// outer middleware can label metrics, spans and logs with the route template.
// handoff and logged record a hand-off to a service in the same process
// (see HandOff).
type routeInfo struct {
	pattern string
	handoff string // the backend the request was handed to in process
	logged  bool   // the backend's Instrument left the access line to us
	// faults is set when faults are active and this is the first
	// Instrument of the process on the request: Routed injects them.
	faults *faults.Switch
}

// HandOff marks the request in ctx as handed, as it is, to backend in this
// process (the gateway calling a co-located service's handler). The
// backend's Instrument then writes no access line of its own: the outer one
// writes the only line, with backend=<name>, so one request is one line per
// process. Its span, metrics and error logs stay as they are.
func HandOff(ctx context.Context, backend string) {
	if ri, ok := ctx.Value(routeKey{}).(*routeInfo); ok {
		ri.handoff = backend
	}
}

// InstrumentConfig configures Instrument.
type InstrumentConfig struct {
	Logger     *slog.Logger
	Metrics    *telemetry.HTTPMetrics
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	// Faults injects latency and 500s (ADR 0016) into the requests this
	// Instrument is the first in the process to see: a request the gateway
	// hands to a co-located service, or a call in process, is not delayed or
	// failed twice. Nil: none.
	Faults *faults.Switch
}

// Instrument is the outer part of the one middleware chain, in this order:
// recover → request id → tracing → metrics → access log. The handler it wraps
// should end in Routed(mux) so the route template is known.
func Instrument(cfg InstrumentConfig, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &StatusRecorder{ResponseWriter: w}
		ri := &routeInfo{}
		quiet := false // the caller in this process writes the access line
		outer, nested := r.Context().Value(routeKey{}).(*routeInfo)
		if nested && outer.handoff != "" && !outer.logged {
			outer.logged, quiet = true, true
		}

		// request id
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		rec.Header().Set(RequestIDHeader, id)
		ctx := telemetry.WithRequestID(r.Context(), id)
		ctx = context.WithValue(ctx, routeKey{}, ri)

		// tracing
		ctx = cfg.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
		ctx, span := cfg.Tracer.Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				semconv.HTTPRequestMethodKey.String(r.Method),
				semconv.URLPath(r.URL.Path),
				semconv.URLScheme(scheme(r)),
				semconv.ClientAddress(peerIP(r.RemoteAddr)),
				semconv.ServerAddress(r.Host),
				semconv.UserAgentOriginal(r.UserAgent()),
			))
		defer span.End()

		// metrics
		done := cfg.Metrics.Begin()

		log := cfg.Logger // already carries service=<name>
		ctx = context.WithValue(ctx, loggerKey{}, log)
		r = r.WithContext(ctx)

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(ctx, "panic serving request", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				span.RecordError(fmt.Errorf("panic: %v", p))
				if !rec.wroteHeader {
					WriteJSON(rec, http.StatusInternalServerError, NewErrorBody("internal error"))
				}
			}
			route := ri.pattern
			if route == "" {
				route = "unmatched"
			}
			status := rec.Status()
			elapsed := time.Since(start)
			span.SetName(r.Method + " " + route)
			span.SetAttributes(semconv.HTTPRoute(route), semconv.HTTPResponseStatusCode(status))
			if status >= 500 { // 4xx are the client's errors: not a server span error (semconv)
				span.SetStatus(codes.Error, http.StatusText(status))
				span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
			}
			done(ctx, route, r.Method, status, elapsed)
			if quiet || !log.Enabled(ctx, slog.LevelInfo) {
				return
			}
			attrs := [9]slog.Attr{
				slog.String("method", r.Method),
				slog.String("route", route),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.Int64("bytes", rec.bytes),
				slog.String("remote", r.RemoteAddr),
			}
			n := 7
			if ri.logged {
				attrs[n] = slog.String("backend", ri.handoff)
				n++
			}
			log.LogAttrs(ctx, slog.LevelInfo, "request", attrs[:n]...)
		}()
		if !nested && cfg.Faults.Active() {
			ri.faults = cfg.Faults
		}
		next.ServeHTTP(rec, r)
	})
}

// injectFault delays the request (the route's handler has not run yet) and may
// answer it 500, logged and traced like any 5xx: the API with its error shape,
// a page (the web UI) with a plain 500. It reports whether it answered.
func injectFault(sw *faults.Switch, w http.ResponseWriter, r *http.Request) bool {
	if d := sw.Delay(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if !sw.FailRequest() {
		return false
	}
	err := errors.New("fault injection: injected error (errors fault)")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		WriteError(w, r, err)
		return true
	}
	Logger(r.Context()).LogAttrs(r.Context(), slog.LevelError, "request failed",
		append(telemetry.ErrorAttrs(err), slog.Int("status", http.StatusInternalServerError))...)
	span := trace.SpanFromContext(r.Context())
	span.RecordError(err)
	span.SetStatus(codes.Error, http.StatusText(http.StatusInternalServerError))
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
	return true
}

// scheme is the request's url.scheme (TLS ends in front of us, if anywhere).
func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// Routed wraps a mux so that the matched pattern (without its method) is
// recorded for Instrument. Patterns are written "METHOD /path/{param}".
// It is also where injected latency and errors (InstrumentConfig.Faults)
// take effect: the route is known, so the metrics, spans and logs of an
// injected failure carry it like those of a real one.
func Routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ri, ok := r.Context().Value(routeKey{}).(*routeInfo); ok && ri.faults != nil {
			_, pattern := mux.Handler(r)
			if _, path, found := strings.Cut(pattern, " "); found {
				pattern = path
			}
			ri.pattern = pattern
			sw := ri.faults
			ri.faults = nil // once per request, whichever Routed comes first
			if injectFault(sw, w, r) {
				return
			}
		}
		// ServeMux sets r.Pattern on this very request; read it even when the
		// handler panics, so the panic is attributed to its route.
		defer func() {
			if ri, ok := r.Context().Value(routeKey{}).(*routeInfo); ok && r.Pattern != "" {
				_, path, found := strings.Cut(r.Pattern, " ")
				if !found {
					path = r.Pattern
				}
				ri.pattern = path
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// NotFound is the JSON answer for a path no route matches.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteJSON(w, http.StatusNotFound, NewErrorBody("no route for "+r.Method+" "+r.URL.Path))
}

// LimitBody rejects bodies over max bytes with 413 (by Content-Length at once,
// otherwise while reading).
func LimitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			WriteError(w, r, errs.TooLarge(fmt.Sprintf("request body is larger than %d bytes", max)))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// Timeout gives every request a deadline; handlers and the calls they make
// honour it through the context.
func Timeout(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// ClientIP returns the address limits and logs attribute r to. It is the
// one trust rule of every listener: forwarded headers are believed only when
// the direct peer is in trusted (a proxy we run or chose), and then the
// client is the right-most X-Forwarded-For entry that is not itself a trusted
// proxy. Entries left of that one were written by the client and are never
// used. When every entry is trusted, the left-most is the client; an entry
// that is not an IP stops the walk at the last trusted hop. With no trusted
// proxies (or an untrusted peer) the peer address is the client.
func ClientIP(r *http.Request, trusted []*net.IPNet) string {
	peer := peerIP(r.RemoteAddr)
	if len(trusted) == 0 || !ipIn(peer, trusted) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		entries := strings.Split(hops[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			ip := net.ParseIP(strings.TrimSpace(entries[j]))
			if ip == nil {
				return client
			}
			client = ip.String()
			if !ipNetsContain(trusted, ip) {
				return client
			}
		}
	}
	return client
}

// ForwardedHTTPS reports whether the client reached us over TLS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto (same trust rule
// as ClientIP).
func ForwardedHTTPS(r *http.Request, trusted []*net.IPNet) bool {
	if r.TLS != nil {
		return true
	}
	if !ipIn(peerIP(r.RemoteAddr), trusted) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// SetForwarded replaces the forwarded headers of a request handed to a
// backend with what this hop decided: the client IP and whether it came over
// TLS. Nothing the client wrote passes through.
func SetForwarded(h http.Header, clientIP string, https bool) {
	h.Del("X-Real-Ip")
	h.Set("X-Forwarded-For", clientIP)
	if https {
		h.Set("X-Forwarded-Proto", "https")
	} else {
		h.Set("X-Forwarded-Proto", "http")
	}
}

// peerIP is the direct peer's address without its port.
func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	return host
}

func ipIn(s string, nets []*net.IPNet) bool {
	ip := net.ParseIP(s)
	return ip != nil && ipNetsContain(nets, ip)
}

func ipNetsContain(nets []*net.IPNet, ip net.IP) bool {
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseCIDRs parses a list of CIDRs.
func ParseCIDRs(list []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("parsing CIDR %q: %w", s, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// StatusRecorder remembers the status and size of a response.
type StatusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
	bytes       int64
}

// WriteHeader implements http.ResponseWriter.
func (s *StatusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (s *StatusRecorder) Write(b []byte) (int, error) {
	if !s.wroteHeader {
		s.code, s.wroteHeader = http.StatusOK, true
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Status is the status written, 200 if none was written explicitly.
func (s *StatusRecorder) Status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// FormatRetryAfter renders a duration as whole seconds, rounded up.
func FormatRetryAfter(d time.Duration) string {
	return strconv.Itoa(max(int((d+time.Second-1)/time.Second), 1))
}
