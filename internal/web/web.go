// Package web is the server-rendered UI. Until the UI lands it serves a
// small landing page that says what Tungsten is and where the API lives.
package web

import (
	"html/template"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// Deps are the UI's collaborators.
type Deps struct {
	Version    string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
}

// Service is the web module.
type Service struct {
	handler  http.Handler
	patterns []string
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Tungsten</title>
<style>
body{font:16px/1.6 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1b1f24;background:#fff}
h1{font-size:2rem;margin:0 0 .5rem}code{background:#f1f3f5;padding:.1rem .3rem;border-radius:3px}
a{color:#0b57d0}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
<p>The API lives under <a href="/api/articles"><code>/api</code></a> and follows the RealWorld (Conduit) specification.</p>
<p><small>Tungsten {{.Version}}</small></p>
</main>
</body>
</html>
`))

// New builds the UI.
func New(deps Deps) *Service {
	rt := httpx.NewRouter()
	render := func(w http.ResponseWriter, status int, title, msg string) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		w.WriteHeader(status)
		_ = page.Execute(w, map[string]string{"Title": title, "Message": msg, "Version": deps.Version})
	}
	rt.Handle("GET /{$}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, "Tungsten", "A blog anyone can start with one command. The reading and writing pages are on their way.")
	}))
	rt.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusNotFound, "Page not found", "There is nothing at this address.")
	}))
	return &Service{
		handler: rt.Build(httpx.ServiceConfig{
			Name: "web", Logger: deps.Logger, Registerer: deps.Registerer,
			Tracer: deps.Tracer, Propagator: deps.Propagator,
		}),
		patterns: rt.Patterns(),
	}
}

// Handler returns the UI handler.
func (s *Service) Handler() http.Handler { return s.handler }

// Patterns returns the routes the UI serves.
func (s *Service) Patterns() []string { return s.patterns }
