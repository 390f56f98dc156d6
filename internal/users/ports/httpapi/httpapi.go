// Package httpapi serves the users service over HTTP: the RealWorld user and
// profile endpoints, and the internal endpoints the auth and blog services
// call (never routed by the gateway).
package httpapi

import (
	"encoding/json"
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
	app *app.Service
}

// New returns the handlers over the use cases.
func New(a *app.Service) *Handlers { return &Handlers{app: a} }

// Register adds every route to rt.
func (h *Handlers) Register(rt *httpx.Router) {
	rt.HandleFunc("GET /api/user", h.currentUser)
	rt.HandleFunc("PUT /api/user", h.updateUser)
	rt.HandleFunc("GET /api/profiles/{username}", h.profile)
	rt.HandleFunc("POST /api/profiles/{username}/follow", h.follow)
	rt.HandleFunc("DELETE /api/profiles/{username}/follow", h.unfollow)

	rt.HandleFunc("POST /internal/users/accounts", h.createAccount)
	rt.HandleFunc("POST /internal/users/credentials", h.checkCredentials)
	rt.HandleFunc("GET /internal/users/profiles", h.lookupProfiles)
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
	u, err := h.app.CurrentUser(r.Context(), p.UserID)
	if err != nil {
		return err
	}
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
	u, err := h.app.UpdateUser(r.Context(), p.UserID, domain.Changes{
		Username: in.User.Username.required(),
		Email:    in.User.Email.required(),
		Password: in.User.Password.required(),
		Bio:      in.User.Bio.clearable(),
		Image:    in.User.Image.clearable(),
	})
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, userResponse(u, p.Token))
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
	ID       int64   `json:"id"`
	Username string  `json:"username"`
	Email    string  `json:"email"`
	Bio      *string `json:"bio"`
	Image    *string `json:"image"`
}

func accountResponse(u domain.User) any {
	return struct {
		User accountJSON `json:"user"`
	}{accountJSON{ID: u.ID, Username: u.Username, Email: u.Email, Bio: u.Bio, Image: u.Image}}
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

// lookupJSON is a public profile with its version, for read models.
type lookupJSON struct {
	ID        int64   `json:"id"`
	Username  string  `json:"username"`
	Bio       *string `json:"bio"`
	Image     *string `json:"image"`
	UpdatedAt int64   `json:"updatedAt"` // unix ms
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
	out := make([]lookupJSON, 0, len(ps))
	for _, p := range ps {
		out = append(out, lookupJSON{ID: p.ID, Username: p.Username, Bio: p.Bio, Image: p.Image, UpdatedAt: p.UpdatedAt.UnixMilli()})
	}
	httpx.WriteJSON(w, http.StatusOK, struct {
		Profiles []lookupJSON `json:"profiles"`
	}{out})
	return nil
}
