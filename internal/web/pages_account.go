package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

type authData struct {
	Register bool
	Username string
	Email    string
	Next     string
	Errors   formErrors
}

func (s *Service) loginForm(r *http.Request, sess *session) (response, error) {
	return s.render(sess, http.StatusOK, "auth", sess.loc.T("auth.sign_in"), authData{Next: localPath(r.URL.Query().Get("next"), "/")}), nil
}

func (s *Service) registerForm(r *http.Request, sess *session) (response, error) {
	return s.render(sess, http.StatusOK, "auth", sess.loc.T("auth.sign_up"), authData{Register: true, Next: localPath(r.URL.Query().Get("next"), "/")}), nil
}

func (s *Service) login(r *http.Request, sess *session) (response, error) {
	d := authData{Email: strings.TrimSpace(r.PostFormValue("email")), Next: localPath(r.PostFormValue("next"), "/")}
	u, err := s.api.login(r.Context(), clientIP(r), d.Email, r.PostFormValue("password"))
	if err != nil {
		fe, err := userErrors(sess.loc, err, nil, "email", "password")
		if err != nil {
			return nil, err
		}
		d.Errors = fe
		return s.render(sess, http.StatusUnprocessableEntity, "auth", sess.loc.T("auth.sign_in"), d), nil
	}
	return s.signedIn(u.Token, d.Next), nil
}

func (s *Service) register(r *http.Request, sess *session) (response, error) {
	d := authData{Register: true, Username: strings.TrimSpace(r.PostFormValue("username")),
		Email: strings.TrimSpace(r.PostFormValue("email")), Next: localPath(r.PostFormValue("next"), "/")}
	u, err := s.api.register(r.Context(), clientIP(r), d.Username, d.Email, r.PostFormValue("password"))
	if err != nil {
		fe, err := userErrors(sess.loc, err, nil, "username", "email", "password")
		if err != nil {
			return nil, err
		}
		d.Errors = fe
		return s.render(sess, http.StatusUnprocessableEntity, "auth", sess.loc.T("auth.sign_up"), d), nil
	}
	return s.signedIn(u.Token, d.Next), nil
}

func (s *Service) signedIn(token, next string) response {
	return func(w http.ResponseWriter, r *http.Request) {
		setSession(w, r, token)
		redirect(next)(w, r)
	}
}

// logout signs the account out everywhere (its tokens are revoked, ADR
// 0011), then forgets the session cookie. A failed revocation still clears
// the cookie, and is logged.
func (s *Service) logout(r *http.Request, sess *session) (response, error) {
	if sess != nil && sess.token != "" {
		if err := s.api.signOut(r.Context(), sess.token); err != nil && !errs.Is(err, errs.KindUnauthenticated) {
			s.log.WarnContext(r.Context(), "signing out: revoking the session's token", "error", err)
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		clearSession(w, r)
		redirect("/")(w, r)
	}, nil
}

type settingsData struct {
	Image, Username, Bio, Email string
	Errors                      formErrors
}

func (s *Service) settings(r *http.Request, sess *session) (response, error) {
	if sess.user == nil {
		return nil, errs.Unauthenticated("sign in to change settings")
	}
	u := sess.user
	d := settingsData{Image: deref(u.Image), Username: u.Username, Bio: deref(u.Bio), Email: u.Email}
	return s.render(sess, http.StatusOK, "settings", sess.loc.T("nav.settings"), d), nil
}

func (s *Service) saveSettings(r *http.Request, sess *session) (response, error) {
	if sess.user == nil {
		return nil, errs.Unauthenticated("sign in to change settings")
	}
	d := settingsData{Image: strings.TrimSpace(r.PostFormValue("image")), Username: strings.TrimSpace(r.PostFormValue("username")),
		Bio: r.PostFormValue("bio"), Email: strings.TrimSpace(r.PostFormValue("email"))}
	c := UserChanges{Image: &d.Image, Username: &d.Username, Bio: &d.Bio, Email: &d.Email}
	if pw := r.PostFormValue("password"); pw != "" {
		c.Password = &pw
	}
	u, err := s.api.updateUser(r.Context(), sess.token, clientIP(r), c)
	if err != nil {
		fe, err := userErrors(sess.loc, err, nil, "image", "username", "bio", "email", "password")
		if err != nil {
			return nil, err
		}
		d.Errors = fe
		return s.render(sess, http.StatusUnprocessableEntity, "settings", sess.loc.T("nav.settings"), d), nil
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if u.Token != "" {
			setSession(w, r, u.Token) // a new name is a new token
		}
		redirect("/profile/"+url.PathEscape(u.Username))(w, r)
	}, nil
}
