// Package httpapi is the auth service's HTTP surface: registration and login
// (RealWorld) and the JWKS endpoint.
package httpapi

import (
	"net"
	"net/http"

	"github.com/tungsten-blog/tungsten/internal/auth/app"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// Handlers serves the auth routes.
type Handlers struct {
	svc     *app.Service
	trusted []*net.IPNet // proxies whose X-Forwarded-For is believed (httpx.ClientIP)
}

// New returns the handlers.
func New(svc *app.Service, trustedProxies []*net.IPNet) *Handlers {
	return &Handlers{svc: svc, trusted: trustedProxies}
}

// Register adds the routes to rt.
func (h *Handlers) Register(rt *httpx.Router) { rt.HandleRoutes(h.routes()) }

// Routes lists the auth service's routes; the gateway forwards the public
// (/api/) ones here.
func Routes() []string { return httpx.Patterns((&Handlers{}).routes()) }

func (h *Handlers) routes() []httpx.Route {
	return []httpx.Route{
		{Pattern: "POST /api/users", Handler: h.register},
		{Pattern: "POST /api/users/login", Handler: h.login},
		{Pattern: "GET /.well-known/jwks.json", Handler: h.jwks},
	}
}

type userEnvelope struct {
	User app.User `json:"user"`
}

func (h *Handlers) register(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		User *app.NewAccount `json:"user"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.User == nil {
		return errs.Invalid("user can't be blank")
	}
	u, err := h.svc.Register(r.Context(), httpx.ClientIP(r, h.trusted), *in.User)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store") // the body carries a token
	httpx.WriteJSON(w, http.StatusCreated, userEnvelope{u})
	return nil
}

func (h *Handlers) login(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		User *struct {
			Email    string `json:"email"`
			Password string `json:"password"`
		} `json:"user"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.User == nil {
		return errs.Invalid("user can't be blank")
	}
	u, err := h.svc.Login(r.Context(), httpx.ClientIP(r, h.trusted), in.User.Email, in.User.Password)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store") // the body carries a token
	httpx.WriteJSON(w, http.StatusOK, userEnvelope{u})
	return nil
}

func (h *Handlers) jwks(w http.ResponseWriter, _ *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=60")
	httpx.WriteJSON(w, http.StatusOK, h.svc.JWKS())
	return nil
}
