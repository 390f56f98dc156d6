package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// bufferPool lends the proxy its copy buffers instead of allocating 32 KiB
// per request.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// NewRemote returns a reverse proxy to a service in another process.
// Failures to reach it become a JSON 503, never internal detail.
func NewRemote(name, baseURL string, log *slog.Logger) (http.Handler, error) {
	target, err := url.Parse(baseURL)
	if err != nil || target.Scheme == "" || target.Host == "" {
		return nil, fmt.Errorf("URL of %s %q: want e.g. http://%s:8080", name, baseURL, name)
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			// Rewrite drops the forwarded headers; forward set them from
			// what the gateway decided, not from the client.
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto"} {
				if v := pr.In.Header.Values(h); len(v) > 0 {
					pr.Out.Header[h] = v
				}
			}
		},
		// A refused dial (a replica just killed, still behind the Service for a second) is
		// retried on a fresh connection: nothing was sent, so it is safe even for a POST.
		Transport: &httpx.DialRetry{Attempts: 3, Backoff: 100 * time.Millisecond, Next: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          512,
			MaxIdleConnsPerHost:   256, // at least the connections a replica serves at once: a miss dials
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			// Bodies are JSON and small; compressing between processes costs
			// CPU on both ends for nothing on loopback or a pod network.
			DisableCompression: true,
			// Larger buffers: one read/write syscall for a typical list body.
			WriteBufferSize: 32 << 10,
			ReadBufferSize:  32 << 10,
		}},
		BufferPool: &bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, http.ErrAbortHandler) {
				panic(err)
			}
			log.WarnContext(r.Context(), "proxying request", "backend", name, "error", err)
			httpx.WriteError(w, r, errs.Unavailable(name, err))
		},
	}, nil
}
