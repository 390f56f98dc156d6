package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/platform/modules"
	"github.com/tungsten-blog/tungsten/internal/platform/telemetry"
)

// initServer prepares the public and admin listeners. The public handler is
// assembled at start, once every co-located service has been initialised.
func (a *App) initServer(context.Context) (modules.Service, error) {
	a.admin = &http.Server{Addr: a.cfg.AdminAddr, Handler: a.adminHandler(), ReadHeaderTimeout: 5 * time.Second}
	a.public = &http.Server{
		Addr:              a.cfg.HTTPAddr,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return modules.Funcs{StartFunc: a.startServers, StopFunc: a.stopAdmin}, nil
}

// publicHandler routes the public listener. With the gateway here it takes
// every request, and co-located services add only the routes the gateway
// does not forward and other pods need (auth's JWKS): never the public API,
// internal endpoints or the web UI, which must pass the gateway's limits.
// Without a gateway, each service's own routes are served directly (one
// service per pod).
func (a *App) publicHandler() http.Handler {
	mux := http.NewServeMux()
	gw, hasGateway := a.handlers[Gateway]
	if hasGateway {
		mux.Handle("/", gw)
	}
	for name, patterns := range a.patterns {
		if hasGateway && name == Web {
			continue
		}
		for _, p := range patterns {
			_, path, _ := strings.Cut(p, " ")
			if path == "" {
				path = p
			}
			if hasGateway && (strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/internal/") || path == "/" || path == "/{$}") {
				continue
			}
			mux.Handle(p, a.handlers[name])
		}
	}
	if !hasGateway {
		if _, ok := a.handlers[Web]; !ok {
			mux.HandleFunc("/", httpx.NotFound)
		}
	}
	return mux
}

func (a *App) startServers(context.Context) error {
	a.public.Handler = a.publicHandler()
	pl, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listening on --http-addr %s: %w", a.cfg.HTTPAddr, err)
	}
	al, err := net.Listen("tcp", a.cfg.AdminAddr)
	if err != nil {
		_ = pl.Close()
		return fmt.Errorf("listening on --admin-addr %s: %w", a.cfg.AdminAddr, err)
	}
	a.publicLn = pl
	a.adminLn = al
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{a.public, pl}, {a.admin, al}} {
		a.serveWG.Go(func() {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("listener failed", "addr", s.ln.Addr().String(), "error", err)
			}
		})
	}
	a.log.Info("listening", "http", pl.Addr().String(), "admin", al.Addr().String())
	return nil
}

// Started is closed once every module runs; PublicAddr and AdminAddr are
// valid from then on.
func (a *App) Started() <-chan struct{} { return a.started }

// PublicAddr returns the public listener's address once started (useful
// with --http-addr 127.0.0.1:0).
func (a *App) PublicAddr() string {
	if a.publicLn == nil {
		return ""
	}
	return a.publicLn.Addr().String()
}

// AdminAddr returns the admin listener's address once started.
func (a *App) AdminAddr() string {
	if a.adminLn == nil {
		return ""
	}
	return a.adminLn.Addr().String()
}

// shutdownPublic stops accepting requests and waits for in-flight ones.
func (a *App) shutdownPublic(ctx context.Context) error {
	if a.public == nil {
		return nil
	}
	return a.public.Shutdown(ctx)
}

// disableKeepAlives makes the public listener close each connection after its current
// response (the drain's first step).
func (a *App) disableKeepAlives() {
	if a.public != nil {
		a.public.SetKeepAlivesEnabled(false)
	}
}

func (a *App) stopAdmin(ctx context.Context) error {
	err := a.admin.Shutdown(ctx)
	a.serveWG.Wait()
	return err
}

// Ready reports whether the process should receive traffic: every module
// started, not shutting down, and every dependency check passes.
func (a *App) Ready(ctx context.Context) error {
	if a.stopping.Load() {
		return errors.New("shutting down")
	}
	if !a.mgr.Running() {
		return errors.New("modules are starting")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var errs []error
	for _, check := range a.readiness {
		if err := check(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (a *App) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "alive"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Ready(r.Context()); err != nil {
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reason": err.Error()})
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "ready", "modules": a.targets})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /admin/log-level", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"level": strings.ToLower(a.level.Level().String())})
	})
	mux.HandleFunc("PUT /admin/log-level", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Level string `json:"level"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024)).Decode(&in); err != nil {
			httpx.WriteJSON(w, http.StatusUnprocessableEntity, httpx.NewErrorBody(`body must be {"level":"debug|info|warn|error"}`))
			return
		}
		l, err := telemetry.ParseLevel(in.Level)
		if err != nil {
			httpx.WriteJSON(w, http.StatusUnprocessableEntity, httpx.NewErrorBody(err.Error()))
			return
		}
		a.level.Set(l)
		a.log.Info("log level changed", "level", in.Level)
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"level": strings.ToLower(l.String())})
	})
	return mux
}

// Run starts the modules, serves until ctx ends (SIGTERM/SIGINT), then shuts
// down: report not ready, wait the drain delay, stop accepting and finish
// in-flight requests, stop the modules in reverse order.
func (a *App) Run(ctx context.Context, started time.Time) error {
	if err := a.mgr.Init(ctx, a.cfg.Target); err != nil {
		return err // the process exits; nothing has started
	}
	if err := a.mgr.Start(ctx); err != nil {
		return err
	}
	close(a.started)
	go releaseStartupMemory()
	a.log.Info("ready", "modules", a.targets, "version", a.build.Version,
		"startup_ms", time.Since(started).Milliseconds())
	<-ctx.Done()

	a.log.Info("shutting down", "drain_delay", a.cfg.DrainDelay.String())
	a.stopping.Store(true)
	// Answer the drain delay's requests with "Connection: close": a client with a kept-alive
	// connection (the gateway's pool, a load balancer) then closes it itself after its
	// answer, instead of sending its next request on a connection Shutdown closes under it,
	// where a POST fails because it cannot be retried.
	a.disableKeepAlives()
	time.Sleep(a.cfg.DrainDelay)
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := a.shutdownPublic(sctx); err != nil {
		errs = append(errs, fmt.Errorf("closing listener: %w", err))
	}
	if err := a.mgr.Stop(sctx); err != nil {
		errs = append(errs, err)
	}
	a.log.Info("stopped")
	return errors.Join(errs...)
}

// releaseStartupMemory hands the memory that only starting needed back to the
// operating system. Migrating parks goose's 4 MiB scan buffers in a
// sync.Pool (16 MiB of the embedded default's 25 MiB heap once ready), and
// an idle process allocates too little to ever run a GC that would free
// them. Two collections empty a sync.Pool (the first moves it to its victim
// cache); FreeOSMemory then returns the pages, which is what idle RSS counts.
func releaseStartupMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}
