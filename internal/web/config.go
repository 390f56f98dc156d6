package web

import (
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Config is the web UI's configuration.
type Config struct {
	// PublicURL is the site's address as readers see it (https://host[:port]):
	// the base of every absolute URL the UI writes (feeds, the sitemap,
	// robots.txt, canonical links, share previews). Empty: each request's own
	// scheme and Host (see origin).
	PublicURL string
}

// RegisterFlags registers the web flags.
func (c *Config) RegisterFlags(f *flag.FlagSet) {
	f.StringVar(&c.PublicURL, "web.public-url", "", "the site's public address, http(s)://host[:port] without a path: the base of the absolute URLs in feeds, the sitemap, robots.txt, canonical links and share previews; empty: the scheme and Host of each request, which the client chooses (answers built from it are then not cacheable by shared caches): set it in production")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.PublicURL == "" {
		return nil
	}
	_, err := parsePublicURL(c.PublicURL)
	return err
}

// hostPattern is what a host (and port) may look like in a URL we write:
// DNS labels or a bracketed IPv6 address, lower case.
var hostPattern = regexp.MustCompile(`^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$`)

// parsePublicURL checks --web.public-url and returns it as scheme://host.
// A path is refused: every page and link of the UI is at the root.
func parsePublicURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Opaque != "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("--web.public-url %q: want http(s)://host[:port], without a path, query or fragment", s)
	}
	host := strings.ToLower(u.Host)
	if len(host) > 255 || !hostPattern.MatchString(host) {
		return "", fmt.Errorf("--web.public-url %q: %q is not a host name", s, u.Host)
	}
	return u.Scheme + "://" + host, nil
}

// origin is the scheme://host that absolute URLs start with, and whether
// it is the configured one. Without --web.public-url it is the request's:
// https when the browser came over TLS (directly or per a trusted proxy,
// as for cookies), and the Host header if it is a plain host name, never a
// forwarded host. Host is the client's to choose, so answers built from it
// are marked private (see cacheControl): a shared cache must not hand one
// client's Host to the others.
func (s *Service) origin(r *http.Request) (string, bool) {
	if s.publicURL != "" {
		return s.publicURL, true
	}
	scheme := "http"
	if secureRequest(r) {
		scheme = "https"
	}
	host := strings.ToLower(r.Host)
	if len(host) > 255 || !hostPattern.MatchString(host) {
		host = "localhost"
	}
	return scheme + "://" + host, false
}

// abs makes a path of this site (starting with "/") an absolute URL.
func (s *Service) abs(r *http.Request, path string) string {
	o, _ := s.origin(r)
	return o + path
}

// cacheControl is the Cache-Control of the public documents (feeds,
// sitemap, robots.txt): five minutes, in shared caches only when the URLs
// in them come from the configured public URL.
func (s *Service) cacheControl(r *http.Request) string {
	if _, configured := s.origin(r); configured {
		return "public, max-age=300"
	}
	return "private, max-age=300"
}
