package app

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tungsten-blog/tungsten/internal/platform/faults"
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
	return modules.Funcs{StartFunc: a.startServers, StopFunc: a.stopServers}, nil
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

// stopServers closes both listeners and waits for their serve loops. Run
// has already drained the public one on a normal shutdown; when a later
// module fails to start, this is what closes it (waiting for a public
// listener nobody closed used to hang the process for ever).
func (a *App) stopServers(ctx context.Context) error {
	err := errors.Join(a.public.Shutdown(ctx), a.admin.Shutdown(ctx))
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
	if a.faults.Unready() {
		return errors.New("fault injection: unready")
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
			httpx.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reason": err.Error(), "modules": a.targets})
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"status": "ready", "modules": a.targets})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	if a.cfg.AdminPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /admin/log-level", func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"level": strings.ToLower(a.level.Level().String())})
	})
	setLevel := func(w http.ResponseWriter, r *http.Request) {
		if !operator(r, a.cfg.AdminToken) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			httpx.WriteJSON(w, http.StatusForbidden, httpx.NewErrorBody("changing the log level needs a loopback address or the --admin.token bearer token"))
			return
		}
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
	}
	mux.HandleFunc("PUT /admin/log-level", setLevel)
	mux.HandleFunc("POST /admin/log-level", setLevel)
	mux.HandleFunc("GET /admin/faults", a.faultOperator(func(w http.ResponseWriter, _ *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, a.faults.Status())
	}))
	mux.HandleFunc("PUT /admin/faults", a.faultOperator(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, faults.MaxBodyBytes))
		if err != nil {
			httpx.WriteJSON(w, http.StatusUnprocessableEntity, httpx.NewErrorBody(fmt.Sprintf("the body is larger than %d bytes", faults.MaxBodyBytes)))
			return
		}
		set, err := faults.Parse(body, a.faults.MaxCores())
		if err != nil {
			httpx.WriteJSON(w, http.StatusUnprocessableEntity, httpx.NewErrorBody(err.Error()))
			return
		}
		httpx.WriteJSON(w, http.StatusOK, a.faults.Apply(set, r.RemoteAddr))
	}))
	mux.HandleFunc("DELETE /admin/faults", a.faultOperator(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, a.faults.Clear(r.RemoteAddr))
	}))
	return mux
}

// faultOperator guards the fault injection endpoints (ADR 0016): they are
// refused, even from loopback, unless an operator token is configured, and
// then need it. Reading the set needs it too: it tells an attacker which
// faults are on.
func (a *App) faultOperator(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.AdminToken == "" {
			httpx.WriteJSON(w, http.StatusForbidden, httpx.NewErrorBody(
				"fault injection is off: start the process with --admin.token (TUNGSTEN_ADMIN_TOKEN) and send Authorization: Bearer <token>"))
			return
		}
		if !operator(r, a.cfg.AdminToken) {
			w.Header().Set("WWW-Authenticate", "Bearer")
			httpx.WriteJSON(w, http.StatusForbidden, httpx.NewErrorBody("fault injection needs Authorization: Bearer <the --admin.token token>"))
			return
		}
		next(w, r)
	}
}

// operator reports whether r may change settings on the admin listener: it
// carries the operator token (when one is configured), or it comes from
// loopback and carries no forwarded headers (a proxy on the same host does
// not make a remote caller local).
func operator(r *http.Request, token string) bool {
	if token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback() &&
		r.Header.Get("X-Forwarded-For") == "" && r.Header.Get("Forwarded") == ""
}

// Run starts the modules, serves until ctx ends (SIGTERM/SIGINT) or a
// module's background work fails, then shuts down: report not ready, wait
// the drain delay, stop accepting and finish in-flight requests, stop the
// modules in reverse order. A module failure is logged with its cause and
// returned, so the process exits non-zero (and its supervisor restarts it).
func (a *App) Run(ctx context.Context, started time.Time) error {
	if err := a.mgr.Init(ctx, a.cfg.Target); err != nil {
		return err // the process exits; what was opened is closed
	}
	if err := a.startModules(ctx); err != nil {
		return err
	}
	if a.cfg.FaultsCrashOnStart {
		// Initialised, then gone: what a crash-looping process looks like
		// to its supervisor, its logs and `tungsten doctor`.
		a.log.Error("fault injection: crashing on start (--faults.crash-on-start)", "fault", "crash-on-start")
		a.stopping.Store(true)
		sctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		return errors.Join(errors.New("fault injection: crash on start (--faults.crash-on-start)"), a.mgr.Stop(sctx))
	}
	close(a.started)
	go releaseStartupMemory()
	a.log.Info("ready", "modules", a.targets, "version", a.build.Version,
		"startup_ms", time.Since(started).Milliseconds())
	var failure error
	select {
	case <-ctx.Done():
	case failure = <-a.mgr.Failed():
		a.log.Error("a module failed; shutting down", "error", failure)
	}

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
	errs := []error{failure}
	if err := a.shutdownPublic(sctx); err != nil {
		errs = append(errs, fmt.Errorf("closing listener: %w", err))
	}
	if err := a.mgr.Stop(sctx); err != nil {
		errs = append(errs, err)
	}
	a.faults.Close() // CPU burners and held memory end with the process's work
	a.log.Info("stopped")
	return errors.Join(errs...)
}

// startModules starts the modules, bounded by the shutdown timeout: a
// module that cannot start (its dependency unreachable) fails the process
// instead of blocking it. What had started is stopped again.
func (a *App) startModules(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, a.cfg.ShutdownTimeout)
	defer cancel()
	return a.mgr.Start(sctx)
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
