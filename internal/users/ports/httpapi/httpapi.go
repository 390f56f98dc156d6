// Package httpapi serves the users service over HTTP: the RealWorld user and
// profile endpoints, and the internal endpoints the auth and blog services
// call (never routed by the gateway).
package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
	"github.com/tungsten-blog/tungsten/internal/users/app"
	"github.com/tungsten-blog/tungsten/internal/users/domain"
)

// Handlers holds the users service's HTTP handlers.
type Handlers struct {
	app     *app.Service
	signIn  SignIn
	trusted []*net.IPNet
}

// SignIn signs a user in with the auth service (as POST /api/users/login
// from clientIP would) and returns the new token. A password change uses it
// to hand the caller a token of the new version.
type SignIn func(ctx context.Context, clientIP, email, password string) (string, error)

// New returns the handlers over the use cases. trusted are the proxies
// whose X-Forwarded-For is believed (httpx.ClientIP: the client IP passed on
// to sign-in limits).
func New(a *app.Service, signIn SignIn, trusted []*net.IPNet) *Handlers {
	return &Handlers{app: a, signIn: signIn, trusted: trusted}
}

// Register adds every route to rt.
func (h *Handlers) Register(rt *httpx.Router) { rt.HandleRoutes(h.routes()) }

// Routes lists the users service's routes; the gateway forwards the public
// (/api/) ones here, and never the /internal/ ones.
func Routes() []string { return httpx.Patterns((&Handlers{}).routes()) }

func (h *Handlers) routes() []httpx.Route {
	return []httpx.Route{
		{Pattern: "GET /api/user", Handler: h.currentUser},
		{Pattern: "PUT /api/user", Handler: h.updateUser},
		{Pattern: "DELETE /api/user", Handler: h.deleteUser},
		{Pattern: "DELETE /api/user/session", Handler: h.signOut},
		{Pattern: "GET /api/profiles/{username}", Handler: h.profile},
		{Pattern: "POST /api/profiles/{username}/follow", Handler: h.follow},
		{Pattern: "DELETE /api/profiles/{username}/follow", Handler: h.unfollow},

		{Pattern: "POST /internal/users/accounts", Handler: h.createAccount},
		{Pattern: "POST /internal/users/credentials", Handler: h.checkCredentials},
		{Pattern: "GET /internal/users/profiles", Handler: h.lookupProfiles},
		{Pattern: "GET /internal/users/snapshot", Handler: h.snapshot},
	}
}

// userJSON is the RealWorld user: the account and the caller's token.
type userJSON struct {
	Email    string  `json:"email"`
	Token    string  `json:"token"`
	Username string  `json:"username"`
	Bio      *string `json:"bio"`
	Image    *string `json:"image"`
}

func userResponse(u domain.User, token string) any {
	return struct {
		User userJSON `json:"user"`
	}{userJSON{Email: u.Email, Token: token, Username: u.Username, Bio: u.Bio, Image: u.Image}}
}

type profileJSON struct {
	Username  string  `json:"username"`
	Bio       *string `json:"bio"`
	Image     *string `json:"image"`
	Following bool    `json:"following"`
}

func profileResponse(p domain.Profile) any {
	return struct {
		Profile profileJSON `json:"profile"`
	}{profileJSON{Username: p.Username, Bio: p.Bio, Image: p.Image, Following: p.Following}}
}

func (h *Handlers) currentUser(w http.ResponseWriter, r *http.Request) error {
	p, err := authn.RequireUser(r.Context())
	if err != nil {
		return err
	}
	u, err := h.app.CurrentUser(r.Context(), p.UserID, p.Version)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store") // the body carries a token
	httpx.WriteJSON(w, http.StatusOK, userResponse(u, p.Token))
	return nil
}

// field is an optional JSON string that tells absent, null and a value apart.
type field struct {
	set, null bool
	value     string
}

func (f *field) UnmarshalJSON(b []byte) error {
	f.set = true
	if string(b) == "null" {
		f.null = true
		return nil
	}
	return json.Unmarshal(b, &f.value)
}

// required: null means "unchanged" (some clients send the whole form).
func (f field) required() *string {
	if !f.set || f.null {
		return nil
	}
	return &f.value
}

// clearable: null and "" both clear the field.
func (f field) clearable() *string {
	if !f.set {
		return nil
	}
	return &f.value
}

func (h *Handlers) updateUser(w http.ResponseWriter, r *http.Request) error {
	p, err := authn.RequireUser(r.Context())
	if err != nil {
		return err
	}
	var in struct {
		User *struct {
			Email    field `json:"email"`
			Username field `json:"username"`
			Password field `json:"password"`
			Image    field `json:"image"`
			Bio      field `json:"bio"`
		} `json:"user"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.User == nil {
		return errs.Invalid("user can't be blank")
	}
	u, err := h.app.UpdateUser(r.Context(), p.UserID, p.Version, domain.Changes{
		Username: in.User.Username.required(),
		Email:    in.User.Email.required(),
		Password: in.User.Password.required(),
		Bio:      in.User.Bio.clearable(),
		Image:    in.User.Image.clearable(),
	})
	if err != nil {
		return err
	}
	token := p.Token
	if pw := in.User.Password.required(); pw != nil && u.TokenVersion > p.Version {
		// The new password revoked p.Token: sign in with it.
		if token, err = h.signIn(r.Context(), httpx.ClientIP(r, h.trusted), u.Email, *pw); err != nil {
			return fmt.Errorf("password changed; signing in with it: %w", err)
		}
	}
	w.Header().Set("Cache-Control", "no-store") // the body carries a token
	httpx.WriteJSON(w, http.StatusOK, userResponse(u, token))
	return nil
}

// deleteUser serves DELETE /api/user (an extension): the caller's account,
// its follows and every token it holds go; its articles and comments stay.
func (h *Handlers) deleteUser(w http.ResponseWriter, r *http.Request) error {
	p, err := authn.RequireUser(r.Context())
	if err != nil {
		return err
	}
	if err := h.app.DeleteAccount(r.Context(), p.UserID, p.Version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// signOut serves DELETE /api/user/session (an extension): every token of
// the caller's account issued so far stops working (ADR 0011).
func (h *Handlers) signOut(w http.ResponseWriter, r *http.Request) error {
	p, err := authn.RequireUser(r.Context())
	if err != nil {
		return err
	}
	if err := h.app.SignOut(r.Context(), p.UserID, p.Version); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// snapshotJSON is one page of every account and the follows they make.
type snapshotJSON struct {
	Profiles []domain.UserEvent   `json:"profiles"`
	Follows  []domain.FollowEvent `json:"follows"`
	Next     int64                `json:"next"` // the after of the next page; 0 when this was the last
}

// snapshot serves GET /internal/users/snapshot?after=ID&limit=N: public
// profiles and follows for rebuilding a read model (ADR 0011). Like the
// profile lookup it returns public data and needs no token; the gateway
// never routes /internal.
func (h *Handlers) snapshot(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var after int64
	limit := app.MaxSnapshotPage
	var err error
	if v := q.Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return errs.Invalid("after must be a non-negative integer")
		}
	}
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit <= 0 {
			return errs.Invalid("limit must be a positive integer")
		}
	}
	ps, fs, err := h.app.Snapshot(r.Context(), after, limit)
	if err != nil {
		return err
	}
	out := snapshotJSON{Profiles: make([]domain.UserEvent, 0, len(ps)), Follows: fs}
	if out.Follows == nil {
		out.Follows = []domain.FollowEvent{}
	}
	for _, p := range ps {
		out.Profiles = append(out.Profiles, domain.ProfileEvent(p))
	}
	if len(ps) > 0 && len(ps) == min(limit, app.MaxSnapshotPage) {
		out.Next = ps[len(ps)-1].ID
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handlers) profile(w http.ResponseWriter, r *http.Request) error {
	p, err := h.app.Profile(r.Context(), r.PathValue("username"), authn.ViewerID(r.Context()))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, profileResponse(p))
	return nil
}

func (h *Handlers) follow(w http.ResponseWriter, r *http.Request) error {
	return h.setFollow(w, r, true)
}

func (h *Handlers) unfollow(w http.ResponseWriter, r *http.Request) error {
	return h.setFollow(w, r, false)
}

func (h *Handlers) setFollow(w http.ResponseWriter, r *http.Request, follow bool) error {
	viewer, err := authn.RequireUser(r.Context())
	if err != nil {
		return err
	}
	op := h.app.Unfollow
	if follow {
		op = h.app.Follow
	}
	p, err := op(r.Context(), viewer.UserID, r.PathValue("username"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, profileResponse(p))
	return nil
}

// accountJSON is an account as the auth service sees it.
type accountJSON struct {
	ID           int64   `json:"id"`
	Username     string  `json:"username"`
	Email        string  `json:"email"`
	Bio          *string `json:"bio"`
	Image        *string `json:"image"`
	TokenVersion int64   `json:"tokenVersion"`
}

func accountResponse(u domain.User) any {
	return struct {
		User accountJSON `json:"user"`
	}{accountJSON{ID: u.ID, Username: u.Username, Email: u.Email, Bio: u.Bio, Image: u.Image, TokenVersion: u.TokenVersion}}
}

func (h *Handlers) createAccount(w http.ResponseWriter, r *http.Request) error {
	if _, err := authn.RequireService(r.Context(), "auth"); err != nil {
		return err
	}
	var in struct {
		Username string `json:"username"`
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	u, err := h.app.Register(r.Context(), in.Username, in.Email, in.Password)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, accountResponse(u))
	return nil
}

func (h *Handlers) checkCredentials(w http.ResponseWriter, r *http.Request) error {
	if _, err := authn.RequireService(r.Context(), "auth"); err != nil {
		return err
	}
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	u, err := h.app.CheckCredentials(r.Context(), in.Email, in.Password)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, accountResponse(u))
	return nil
}

// lookupProfiles serves GET /internal/users/profiles?id=1&id=2&username=bob.
// It returns public data only, so it needs no token.
func (h *Handlers) lookupProfiles(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	rawIDs, usernames := q["id"], q["username"]
	if len(rawIDs)+len(usernames) > app.MaxLookup {
		// Checked before parsing, so a huge query costs nothing.
		return errs.Invalid("at most " + strconv.Itoa(app.MaxLookup) + " ids and usernames per lookup")
	}
	ids := make([]int64, 0, len(rawIDs))
	for _, s := range rawIDs {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return errs.Invalid("id must be a positive integer")
		}
		ids = append(ids, id)
	}
	ps, err := h.app.Profiles(r.Context(), ids, usernames)
	if err != nil {
		return err
	}
	out := make([]domain.UserEvent, 0, len(ps))
	for _, p := range ps {
		out = append(out, domain.ProfileEvent(p))
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		Profiles []domain.UserEvent `json:"profiles"`
	}{out})
	return nil
}
