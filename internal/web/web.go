// Package web is Tungsten's server-rendered UI: html/template pages and
// embedded static assets that work without JavaScript. It owns no data and
// reads and writes only through the public API of the auth, users and blog
// services, like any other client; the signed-in user's JWT lives in an
// HttpOnly cookie and travels to those services as "Authorization: Token".
package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/faults"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deps are the UI's collaborators: the clients of the services it calls and
// the telemetry every service gets.
type Deps struct {
	Version string
	// TrustedProxies are the peers (the gateway) whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []*net.IPNet
	Auth           *httpx.Client
	Users          *httpx.Client
	Blog           *httpx.Client
	Logger         *slog.Logger
	Registerer     prometheus.Registerer
	Tracer         trace.Tracer
	Propagator     propagation.TextMapPropagator
	Faults         *faults.Switch // injected latency, errors and dependency failures (ADR 0016); nil: none
}

// Service is the web module.
type Service struct {
	api       api
	log       *slog.Logger
	version   string
	publicURL string // scheme://host from --web.public-url, or "" (see origin)
	pages     map[*locale]map[string]*template.Template
	md        *markdown
	cats      categoryCache
	handler   http.Handler
	patterns  []string
}

// perPage is the page size of every article list.
const perPage = 20

// contentSecurityPolicy allows scripts and styles from our own origin only:
// no inline script or style, no framing, forms post only to us.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// New builds the UI.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Auth == nil || deps.Users == nil || deps.Blog == nil {
		return nil, fmt.Errorf("web: the auth, users and blog clients are required")
	}
	s := &Service{
		api: api{auth: deps.Auth, users: deps.Users, blog: deps.Blog},
		log: deps.Logger, version: deps.Version, md: newMarkdown(),
	}
	if cfg.PublicURL != "" {
		u, err := parsePublicURL(cfg.PublicURL)
		if err != nil {
			return nil, err
		}
		s.publicURL = u
	}
	s.cats.ttl = time.Minute
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages

	rt := httpx.NewRouter()
	static, _ := fs.Sub(staticFS, "static")
	rt.Handle("GET /static/", staticHandler(http.StripPrefix("/static/", http.FileServerFS(static))))
	rt.Handle("GET /categories.css", s.page(s.categoriesCSS))
	rt.Handle("GET /highlight.css", staticHandler(http.HandlerFunc(s.highlightCSS)))
	rt.Handle("GET /{$}", s.page(s.home))
	rt.Handle("GET /search", s.page(s.search))
	rt.Handle("GET /article/{slug}", s.page(s.article))
	rt.Handle("POST /article/{slug}/comments", s.page(s.addComment))
	rt.Handle("POST /article/{slug}/comments/{id}/delete", s.page(s.deleteComment))
	rt.Handle("POST /article/{slug}/favorite", s.page(s.favorite))
	rt.Handle("POST /article/{slug}/delete", s.page(s.deleteArticle))
	rt.Handle("POST /article/{slug}/preview-link", s.page(s.newPreviewLink))
	rt.Handle("GET /preview/{token}", s.page(s.preview))
	rt.Handle("GET /editor", s.page(s.editor))
	rt.Handle("POST /editor", s.page(s.saveArticle))
	rt.Handle("GET /editor/{slug}", s.page(s.editor))
	rt.Handle("POST /editor/{slug}", s.page(s.saveArticle))
	rt.Handle("GET /login", s.page(s.loginForm))
	rt.Handle("POST /login", s.page(s.login))
	rt.Handle("GET /register", s.page(s.registerForm))
	rt.Handle("POST /register", s.page(s.register))
	rt.Handle("POST /logout", s.page(s.logout))
	rt.Handle("GET /settings", s.page(s.settings))
	rt.Handle("POST /settings", s.page(s.saveSettings))
	rt.Handle("POST /lang", s.page(s.setLang))
	rt.Handle("GET /profile/{username}", s.page(s.profile))
	rt.Handle("POST /profile/{username}/follow", s.page(s.follow))
	for _, k := range feedKinds {
		for _, f := range feedFormats {
			rt.Handle("GET "+k.prefix+"/"+f.file, s.feed(k, f))
		}
	}
	rt.Handle("GET /sitemap.xml", s.public(s.sitemap))
	rt.Handle("GET /robots.txt", s.public(s.robots))
	// Unknown paths are 404 for every method: a POST to nowhere is not a CSRF question.
	rt.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		l := negotiate(r)
		s.errorPage(w, r, &session{w: w, loc: l}, http.StatusNotFound, l.T("error.not_found.title"), l.T("error.not_found.text"))
	}))

	s.handler = withPeer(deps.TrustedProxies, rt.Build(httpx.ServiceConfig{
		Name: "web", Logger: deps.Logger, Registerer: deps.Registerer,
		Tracer: deps.Tracer, Propagator: deps.Propagator, MaxBodyBytes: 256 << 10, Faults: deps.Faults,
	}))
	s.patterns = rt.Patterns()
	return s, nil
}

// Handler returns the UI handler.
func (s *Service) Handler() http.Handler { return s.handler }

// Patterns returns the routes the UI serves.
func (s *Service) Patterns() []string { return s.patterns }

// --- requests ----------------------------------------------------------------------

// session is what a page handler knows about the browser: the token (empty
// when signed out), the signed-in user, the CSRF token its forms carry and
// the language it reads.
type session struct {
	w     http.ResponseWriter
	token string
	user  *User
	csrf  string
	loc   *locale
}

// response is what a page handler produces; it writes itself.
type response func(w http.ResponseWriter, r *http.Request)

var (
	errNotFound  = errs.NotFound("page")
	errForbidden = errs.Forbidden("forbidden")
)

// page adapts a page handler: security headers, the session from the
// cookie, CSRF on every POST, and friendly error pages.
func (s *Service) page(h func(*http.Request, *session) (response, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w)
		secret := csrfSecret(w, r)
		l := negotiate(r)
		sess := &session{w: w, csrf: csrfBind(secret, sessionValue(r)), loc: l}
		if r.Method == http.MethodPost && !csrfOK(r) {
			s.errorPage(w, r, sess, http.StatusForbidden, l.T("error.csrf.title"), l.T("error.csrf.text"))
			return
		}
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			u, err := s.api.currentUser(r.Context(), c.Value)
			switch {
			case err == nil:
				sess.token, sess.user = c.Value, &u
			case errs.Is(err, errs.KindUnauthenticated):
				clearSession(w, r) // expired or forged: signed out
				sess.csrf = csrfBind(secret, "")
			default:
				s.fail(w, r, sess, err)
				return
			}
		}
		resp, err := h(r, sess)
		if err != nil {
			s.fail(w, r, sess, err)
			return
		}
		resp(w, r)
	})
}

func setPageHeaders(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	// The language follows the cookie or Accept-Language.
	hd.Set("Vary", "Accept-Language, Cookie")
}

func (s *Service) fail(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	l := sess.loc
	switch errs.KindOf(err) {
	case errs.KindNotFound:
		s.errorPage(w, r, sess, http.StatusNotFound, l.T("error.not_found.title"), l.T("error.not_found.text"))
	case errs.KindUnauthenticated:
		clearSession(w, r)
		http.Redirect(w, r, "/login?next="+urlQueryEscape(localPath(r.URL.RequestURI(), "/")), http.StatusSeeOther)
	case errs.KindForbidden:
		s.errorPage(w, r, sess, http.StatusForbidden, l.T("error.forbidden.title"), l.T("error.forbidden.text"))
	case errs.KindTooManyRequests:
		s.errorPage(w, r, sess, http.StatusTooManyRequests, l.T("error.too_many.title"), l.T("error.too_many.text"))
	default:
		s.log.ErrorContext(r.Context(), "rendering page", "path", r.URL.Path, "error", err)
		s.errorPage(w, r, sess, http.StatusInternalServerError, l.T("error.internal.title"), l.T("error.internal.text"))
	}
}

func (s *Service) errorPage(w http.ResponseWriter, r *http.Request, sess *session, status int, title, msg string) {
	s.render(sess, status, "error", title, map[string]string{"Message": msg})(w, r)
}

// redirect answers a form post with 303 See Other to a local path.
func redirect(path string) response {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, localPath(path, "/"), http.StatusSeeOther)
	}
}

// --- rendering ---------------------------------------------------------------------

// view is what every template gets.
type view struct {
	Title   string
	Lang    string // the page's language tag, for <html lang>
	User    *User
	CSRF    string
	Path    string // the current request URI, for "next" links
	Back    string // where the language switcher returns: this page, or for a form's answer the page of the form
	Version string
	Head    pageHead // canonical URL, feeds, share preview
	Data    any
}

func (s *Service) render(sess *session, status int, name, title string, data any) response {
	return s.renderHead(sess, status, name, title, data, pageHead{})
}

// renderHead is render for a page that describes its head (canonical URL,
// feeds, share preview); completeHead adds what every page has.
func (s *Service) renderHead(sess *session, status int, name, title string, data any, h pageHead) response {
	return func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		v := view{Title: title, Lang: sess.loc.Tag, User: sess.user, CSRF: sess.csrf, Path: localPath(r.URL.RequestURI(), "/"), Back: backPath(r), Version: s.version,
			Head: s.completeHead(r, sess.loc, h, status), Data: data}
		if err := s.pages[sess.loc][name].ExecuteTemplate(&buf, "layout", v); err != nil {
			s.log.ErrorContext(r.Context(), "executing template", "template", name, "error", err)
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(sess.loc.T("error.internal.title") + "\n"))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	}
}

// backPath is the page to come back to after switching language: the page
// itself for a GET, and for a page answering a form (a POST, which a
// redirect would turn into a GET of a route that may not exist) the page the
// form was on, when the browser says it was ours.
func backPath(r *http.Request) string {
	if r.Method == http.MethodGet {
		return localPath(r.URL.RequestURI(), "/")
	}
	if u, err := url.Parse(r.Referer()); err == nil && u.Host == r.Host && (u.Scheme == "http" || u.Scheme == "https") {
		return localPath(u.RequestURI(), "/")
	}
	return "/"
}

func staticHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// --- categories ----------------------------------------------------------------------

// categoryCache keeps the blog's categories for a minute: they change only
// with a migration, and every page's filters and styles need them.
type categoryCache struct {
	mu   sync.Mutex
	ttl  time.Duration
	at   time.Time
	list []Category
}

func (s *Service) categories(ctx context.Context) ([]Category, error) {
	c := &s.cats
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.list != nil && time.Since(c.at) < c.ttl {
		return c.list, nil
	}
	list, err := s.api.categories(ctx)
	if err != nil {
		if c.list != nil {
			return c.list, nil // stale beats broken
		}
		return nil, err
	}
	c.list, c.at = list, time.Now()
	return list, nil
}

var (
	cssSlug  = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
	cssColor = regexp.MustCompile(`^#[0-9a-fA-F]{3,8}$`)
)

// categoriesCSS serves one class per category with its colour, so pages
// show the colours without inline styles (the CSP forbids them).
func (s *Service) categoriesCSS(r *http.Request, _ *session) (response, error) {
	list, err := s.categories(r.Context())
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, c := range list {
		if cssSlug.MatchString(c.Slug) && cssColor.MatchString(c.Color) {
			fmt.Fprintf(&b, ".cat-%s{background:%s;color:#fff}\n", c.Slug, c.Color)
		}
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write([]byte(b.String()))
	}, nil
}

// highlightCSS serves the code-highlighting stylesheet, generated from the
// chroma theme at start (it changes only with the binary).
func (s *Service) highlightCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(s.md.css)
}

func (s *Service) categoryByID(ctx context.Context) map[string]Category {
	list, err := s.categories(ctx)
	if err != nil {
		return nil
	}
	m := make(map[string]Category, len(list))
	for _, c := range list {
		m[c.Slug] = c
	}
	return m
}
