// Package errs defines the small set of error kinds that services return and
// that the HTTP layer maps to status codes in one place.
//
// The messages carried by an *Error are written for the client; the wrapped
// cause is for logs only and never reaches a response.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error for the transport layer.
type Kind int

// The kinds, from the client's point of view.
const (
	KindInternal        Kind = iota // a bug or an unexpected failure: 500
	KindInvalid                     // bad input: 422
	KindNotFound                    // 404
	KindConflict                    // a uniqueness rule was broken: 422 per the RealWorld spec
	KindUnauthenticated             // 401
	KindForbidden                   // 403
	KindUnavailable                 // a dependency is down: 503
	KindTooManyRequests             // 429
	KindTooLarge                    // 413
)

func (k Kind) String() string {
	switch k {
	case KindInvalid:
		return "invalid"
	case KindNotFound:
		return "not found"
	case KindConflict:
		return "conflict"
	case KindUnauthenticated:
		return "unauthenticated"
	case KindForbidden:
		return "forbidden"
	case KindUnavailable:
		return "unavailable"
	case KindTooManyRequests:
		return "too many requests"
	case KindTooLarge:
		return "too large"
	default:
		return "internal"
	}
}

// Error is a classified error. Messages are safe to show to a client.
type Error struct {
	Kind       Kind
	Messages   []string
	RetryAfter time.Duration // for KindTooManyRequests and KindUnavailable (default 1s)
	Err        error         // the cause, for logs
}

func (e *Error) Error() string {
	msg := e.Kind.String()
	if len(e.Messages) > 0 {
		msg = fmt.Sprintf("%s: %v", msg, e.Messages)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Invalid reports input that fails validation. Each message names the field
// and the rule, e.g. "title can't be blank".
func Invalid(msgs ...string) error { return &Error{Kind: KindInvalid, Messages: msgs} }

// NotFound reports that the named thing does not exist, e.g. NotFound("article").
func NotFound(what string) error {
	return &Error{Kind: KindNotFound, Messages: []string{what + " not found"}}
}

// Conflict reports a broken uniqueness rule, e.g. Conflict("username has already been taken").
func Conflict(msg string) error { return &Error{Kind: KindConflict, Messages: []string{msg}} }

// Unauthenticated reports missing or invalid credentials.
func Unauthenticated(msg string) error {
	return &Error{Kind: KindUnauthenticated, Messages: []string{msg}}
}

// Forbidden reports that the caller may not do this.
func Forbidden(msg string) error { return &Error{Kind: KindForbidden, Messages: []string{msg}} }

// Unavailable wraps the failure of a dependency.
func Unavailable(what string, cause error) error {
	return &Error{Kind: KindUnavailable, Messages: []string{what + " is unavailable"}, Err: cause}
}

// TooManyRequests reports a rate limit; retryAfter tells the client when to come back.
func TooManyRequests(retryAfter time.Duration) error {
	return &Error{Kind: KindTooManyRequests, Messages: []string{"too many requests"}, RetryAfter: retryAfter}
}

// TooLarge reports a request body over the limit.
func TooLarge(msg string) error { return &Error{Kind: KindTooLarge, Messages: []string{msg}} }

// KindOf returns the kind of the first *Error in err's chain, or KindInternal.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return KindInternal
}

// Is reports whether err is classified as kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }
