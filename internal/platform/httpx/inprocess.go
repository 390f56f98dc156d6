package httpx

import (
	"bytes"
	"io"
	"net/http"
)

// InProcess is a RoundTripper that serves requests with a handler in the same
// process. The composition root uses it when the called service runs in this
// process, so services talk HTTP the same way whether their neighbour is
// local or remote: one code path, no socket.
type InProcess struct{ Handler http.Handler }

// RoundTrip implements http.RoundTripper.
func (t InProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	sreq := req.Clone(req.Context())
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:0"
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	rw := &bufferedWriter{header: http.Header{}}
	t.Handler.ServeHTTP(rw, sreq)
	if rw.code == 0 {
		rw.code = http.StatusOK
	}
	return &http.Response{
		Status:        http.StatusText(rw.code),
		StatusCode:    rw.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rw.header,
		Body:          io.NopCloser(&rw.body),
		ContentLength: int64(rw.body.Len()),
		Request:       req,
	}, nil
}

type bufferedWriter struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *bufferedWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.body.Write(b)
}
