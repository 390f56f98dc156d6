// Package httpx holds the HTTP building blocks every service shares: JSON
// encoding and decoding, the one error-to-status mapping, the middleware
// chain, and the in-process transport that lets co-located services talk
// HTTP without a socket.
package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// Handler is an http.Handler that returns an error; ServeHTTP writes it with
// WriteError. Handlers therefore never format error responses themselves.
type Handler func(w http.ResponseWriter, r *http.Request) error

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		WriteError(w, r, err)
	}
}

// WriteJSON writes v as JSON with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only a programming error gets here (an unencodable type).
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"errors":{"body":["internal error"]}}`)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// WriteJSONBytes writes a body already encoded as JSON, with the same
// headers as WriteJSON (the body should end in a newline, as WriteJSON's do).
func WriteJSONBytes(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ErrorBody is the RealWorld error shape: {"errors":{"body":["..."]}}.
type ErrorBody struct {
	Errors struct {
		Body []string `json:"body"`
	} `json:"errors"`
}

// NewErrorBody builds the error shape from messages.
func NewErrorBody(msgs ...string) ErrorBody {
	var b ErrorBody
	b.Errors.Body = msgs
	return b
}

// StatusOf maps an error kind to its HTTP status.
func StatusOf(kind errs.Kind) int {
	switch kind {
	case errs.KindInvalid, errs.KindConflict:
		return http.StatusUnprocessableEntity
	case errs.KindNotFound:
		return http.StatusNotFound
	case errs.KindUnauthenticated:
		return http.StatusUnauthorized
	case errs.KindForbidden:
		return http.StatusForbidden
	case errs.KindUnavailable:
		return http.StatusServiceUnavailable
	case errs.KindTooManyRequests:
		return http.StatusTooManyRequests
	case errs.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusInternalServerError
	}
}

// WriteError writes err in the RealWorld error shape. Internal errors are
// logged with their cause and answered with a generic message: no internal
// error text ever reaches a client.
//
// A request whose client hung up is answered (to no one) and counted as 499,
// logged at info: it is not a server error, and no breaker, cooldown or
// availability objective may count it as one. A database that cannot serve
// is a 503 with Retry-After (a full disk says so in the message); a value it
// refuses is the client's 422.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if ClientGone(r, err) {
		Logger(r.Context()).LogAttrs(r.Context(), slog.LevelInfo, "client closed request",
			slog.Int("status", StatusClientClosedRequest), slog.String("error", err.Error()))
		WriteJSON(w, StatusClientClosedRequest, NewErrorBody("client closed request"))
		return
	}
	e, ok := errors.AsType[*errs.Error](err)
	if !ok || e.Kind == errs.KindInternal {
		switch {
		case database.IsInvalidValue(err):
			e = &errs.Error{Kind: errs.KindInvalid, Messages: []string{"a value is too long, out of range or not valid text"}, Err: err}
		case database.IsStorageFull(err):
			e = &errs.Error{Kind: errs.KindUnavailable, Messages: []string{"the service cannot store data right now: its storage is full"}, Err: err}
		case database.IsUnavailable(err):
			e = &errs.Error{Kind: errs.KindUnavailable, Messages: []string{"the service is temporarily unavailable"}, Err: err}
		case !ok:
			e = &errs.Error{Kind: errs.KindInternal, Err: err}
		}
	}
	status := StatusOf(e.Kind)
	if status == http.StatusServiceUnavailable && e.RetryAfter == 0 {
		e.RetryAfter = unavailableRetryAfter
	}
	msgs := e.Messages
	if status >= 500 {
		attrs := append(telemetry.ErrorAttrs(err), slog.Int("status", status))
		Logger(r.Context()).LogAttrs(r.Context(), slog.LevelError, "request failed", attrs...)
		span := trace.SpanFromContext(r.Context())
		span.RecordError(err)
		span.SetStatus(codes.Error, http.StatusText(status))
		if e.Kind == errs.KindInternal {
			msgs = []string{"internal error"}
		}
	}
	if len(msgs) == 0 {
		msgs = []string{http.StatusText(status)}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Token realm="tungsten"`)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", FormatRetryAfter(e.RetryAfter))
	}
	WriteJSON(w, status, NewErrorBody(msgs...))
}

// StatusClientClosedRequest is nginx's non-standard status for a request
// whose client went away before the answer: logs and metrics use it so a
// hang-up is not counted as a server error.
const StatusClientClosedRequest = 499

// unavailableRetryAfter is what a 503 tells clients when its cause does
// not know better.
const unavailableRetryAfter = time.Second

// ClientGone reports whether err is only the consequence of the client
// having cancelled the request (it hung up): the request's context was
// cancelled, not timed out.
func ClientGone(r *http.Request, err error) bool {
	return err != nil && errors.Is(r.Context().Err(), context.Canceled)
}

// DecodeJSON decodes the request body into dst. Malformed JSON, a wrong
// content type, trailing data and an over-limit body are client errors with a
// clear message, never a 500.
func DecodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return errs.Invalid("body must be JSON (Content-Type: application/json)")
		}
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return errs.Invalid("body must hold a single JSON object")
	}
	return nil
}

func decodeError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return errs.TooLarge("request body is too large")
	}
	if ute, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := ute.Field
		if field == "" {
			return errs.Invalid("body has the wrong shape")
		}
		return errs.Invalid(fmt.Sprintf("%s must be %s", field, jsonTypeName(ute.Type.Kind().String())))
	}
	if errors.Is(err, io.EOF) {
		return errs.Invalid("body can't be empty")
	}
	return errs.Invalid("body is not valid JSON")
}

func jsonTypeName(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "a list"
	case "struct", "map", "ptr":
		return "an object"
	case "bool":
		return "a boolean"
	default:
		return "a number"
	}
}

// Logger returns the request-scoped logger set by the access-log middleware,
// or slog's default when there is none (only in tests).
func Logger(ctx interface{ Value(any) any }) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}
