package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// Cookie names. The session cookie holds the user's JWT; JavaScript never
// sees it (HttpOnly) and other sites' forms never send it (SameSite=Lax).
const (
	sessionCookie = "tungsten_session"
	csrfCookie    = "tungsten_csrf"
	// csrfCookieTLS is the CSRF cookie's name over TLS: the __Host- prefix
	// makes browsers refuse it unless it is Secure, host-only and Path=/, so
	// a sibling subdomain cannot plant one (cookie tossing).
	csrfCookieTLS = "__Host-tungsten_csrf"
	csrfField     = "csrf"
	sessionMaxAge = 72 * time.Hour // the default token lifetime; an expired token signs the user out
)

// peer is what the trust rule (httpx.ClientIP) decided about a request.
type peer struct {
	ip    string
	https bool
}

type peerKey struct{}

// withPeer records the client IP and scheme, believing forwarded headers
// only from trusted proxies (the gateway).
func withPeer(trusted []*net.IPNet, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := peer{ip: httpx.ClientIP(r, trusted), https: httpx.ForwardedHTTPS(r, trusted)}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), peerKey{}, p)))
	})
}

func peerOf(r *http.Request) peer {
	if p, ok := r.Context().Value(peerKey{}).(peer); ok {
		return p
	}
	return peer{ip: httpx.ClientIP(r, nil), https: r.TLS != nil}
}

// secureRequest reports whether the browser reached us over TLS, directly
// or through a trusted TLS-terminating proxy, so cookies get the Secure flag.
func secureRequest(r *http.Request) bool { return peerOf(r).https }

// clientIP is the address auth's limits count against.
func clientIP(r *http.Request) string { return peerOf(r).ip }

func csrfCookieName(r *http.Request) string {
	if secureRequest(r) {
		return csrfCookieTLS
	}
	return csrfCookie
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

// csrfSecret returns the browser's CSRF secret, issuing a new cookie when it
// has none.
func csrfSecret(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookieName(r)); err == nil && validToken(c.Value) {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	tok := base64.RawURLEncoding.EncodeToString(b)
	setCookie(w, r, csrfCookieName(r), tok, 0)
	return tok
}

// csrfBind is the token forms carry: the secret bound to the session cookie
// the browser holds ("" when signed out). A token planted with a cookie, or
// copied from another session, does not match once the session differs.
func csrfBind(secret, session string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("tungsten-csrf\x00"))
	m.Write([]byte(session))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func validToken(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

func sessionValue(r *http.Request) string {
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// csrfOK checks a POST: the form field must be the CSRF cookie bound to the
// session cookie, and a browser that names its origin must name ours.
func csrfOK(r *http.Request) bool {
	c, err := r.Cookie(csrfCookieName(r))
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
	return subtle.ConstantTimeCompare([]byte(got), []byte(csrfBind(c.Value, sessionValue(r)))) == 1
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
