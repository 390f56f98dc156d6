package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

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
		},
		// A refused dial (a replica just killed, still behind the Service for a second) is
		// retried on a fresh connection: nothing was sent, so it is safe even for a POST.
		Transport: &httpx.DialRetry{Attempts: 3, Backoff: 100 * time.Millisecond, Next: &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          512,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, http.ErrAbortHandler) {
				panic(err)
			}
			log.WarnContext(r.Context(), "proxying request", "backend", name, "error", err)
			httpx.WriteError(w, r, errs.Unavailable(name, err))
		},
	}, nil
}
