package httpx

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// DialRetry wraps a transport so that a request whose connection could not even be
// opened (a refused or unreachable dial) is sent again, on a fresh dial, up to Attempts
// times in all. Nothing of such a request left this process, so resending it is safe
// for every method, a POST included. It is what a killed pod needs: until kube-proxy
// drops its endpoint (a second or so), a new connection through the Service may still
// land on its address and be refused, while the next dial reaches a live replica.
//
// A request whose body was read (a byte may have been sent) is never resent, and
// neither is one that failed after connecting: the server may have acted on it.
type DialRetry struct {
	Next     http.RoundTripper // the transport that dials; nil: http.DefaultTransport
	Attempts int               // attempts in all; < 2 means no retry
	Backoff  time.Duration     // pause before each retry
}

// RoundTrip implements http.RoundTripper.
func (t *DialRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	var body *unreadBody
	if req.Body != nil && req.Body != http.NoBody {
		body = &unreadBody{rc: req.Body}
	}
	for attempt := 1; ; attempt++ {
		r := req
		if body != nil {
			// A RoundTripper must not modify the caller's request: send a shallow copy.
			r = req.Clone(req.Context())
			r.Body = body
		}
		res, err := next.RoundTrip(r)
		if err == nil || attempt >= t.Attempts || !isDialError(err) || (body != nil && body.touched.Load()) {
			if err != nil && body != nil {
				_ = body.rc.Close() // the transport's Close was held back for a retry
			}
			return res, err
		}
		select {
		case <-req.Context().Done():
			if body != nil {
				_ = body.rc.Close()
			}
			return nil, err
		case <-time.After(t.Backoff):
		}
	}
}

// isDialError reports whether err is a failure to open the connection.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// unreadBody remembers whether the transport read any of a request body, and holds back
// the transport's Close while it has not (a failed dial closes the body it never sent).
type unreadBody struct {
	rc      io.ReadCloser
	touched atomic.Bool
}

func (b *unreadBody) Read(p []byte) (int, error) {
	b.touched.Store(true)
	return b.rc.Read(p)
}

func (b *unreadBody) Close() error {
	if b.touched.Load() {
		return b.rc.Close()
	}
	return nil
}
