package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Cookie names. The session cookie holds the user's JWT; JavaScript never
// sees it (HttpOnly) and other sites' forms never send it (SameSite=Lax).
const (
	sessionCookie = "tungsten_session"
	csrfCookie    = "tungsten_csrf"
	csrfField     = "csrf"
	sessionMaxAge = 72 * time.Hour // the default token lifetime; an expired token signs the user out
)

// secureRequest reports whether the browser reached us over TLS, directly
// or through a TLS-terminating proxy, so cookies get the Secure flag.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secureRequest(r),
	}
	if maxAge < 0 {
		c.MaxAge = -1
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

func setSession(w http.ResponseWriter, r *http.Request, token string) {
	setCookie(w, r, sessionCookie, token, sessionMaxAge)
}

func clearSession(w http.ResponseWriter, r *http.Request) {
	setCookie(w, r, sessionCookie, "", -1)
}

// csrfToken returns the request's double-submit token, issuing a new cookie
// when the browser has none. Every state-changing form echoes it in a hidden
// field; a cross-site form cannot read the cookie, so it cannot forge the field.
func csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && validToken(c.Value) {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	tok := base64.RawURLEncoding.EncodeToString(b)
	setCookie(w, r, csrfCookie, tok, 0)
	return tok
}

func validToken(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// csrfOK checks a POST: the form field must equal the cookie, and a browser
// that names its origin must name ours.
func csrfOK(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || !validToken(c.Value) {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	got := r.PostFormValue(csrfField)
	return subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) == 1
}

// localPath returns next if it is a path on this site, else fallback. It is
// the only way a redirect target taken from a request is used, so redirects
// can never leave the site ("//evil.example", "/\evil.example",
// "https://evil.example" and control characters are all refused).
func localPath(next, fallback string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\x00\r\n\t") {
		return fallback
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return fallback
	}
	return u.RequestURI()
}
