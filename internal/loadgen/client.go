// Package loadgen drives a Tungsten deployment through its public RealWorld
// API: it seeds a realistic data set (users, articles in Korean and English
// with tags and categories, comments, follows, favorites), runs weighted user
// scenarios on vegeta at a constant arrival rate (open loop) or with a fixed
// number of workers (closed loop), and reports latency percentiles and errors
// per scenario against thresholds. It is used by `tungsten loadtest`, the CI
// SLO gate and the benchmark harness (bench/), against any base URL.
package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client is a small RealWorld API client. Every request carries a fresh
// traceparent. It retries 429 and 503 answers (honouring Retry-After) a
// bounded number of times, so seeding a server with its default rate limits
// is slow rather than failing.
type Client struct {
	base    string // e.g. http://127.0.0.1:8080 (no /api)
	http    *http.Client
	retries int
}

// NewClient returns a client for the deployment at baseURL (the origin the
// API is served under, without /api).
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), http: hc, retries: 8}
}

// BaseURL returns the origin the client talks to.
func (c *Client) BaseURL() string { return c.base }

// StatusError is a non-2xx answer.
type StatusError struct {
	Method, Path string
	Status       int
	Body         string // first bytes of the answer, for the message
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// Do sends one request with a JSON body (in, may be nil) and decodes a JSON
// answer into out (may be nil). token, when set, is sent as "Token <jwt>".
func (c *Client) Do(ctx context.Context, method, path, token string, in, out any) error {
	_, err := c.Raw(ctx, method, path, token, in, out)
	return err
}

// Raw is Do that also returns the answer's bytes (the benchmark serves them
// from its ceiling server).
func (c *Client) Raw(ctx context.Context, method, path, token string, in, out any) ([]byte, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("encoding %s %s: %w", method, path, err)
		}
	}
	for attempt := 0; ; attempt++ {
		status, data, wait, err := c.once(ctx, method, path, token, body)
		if err != nil {
			return nil, err
		}
		if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && attempt < c.retries {
			if wait <= 0 {
				wait = time.Duration(250<<attempt) * time.Millisecond
			}
			wait = min(wait, 15*time.Second)
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%s %s: %w", method, path, ctx.Err())
			case <-time.After(wait):
			}
			continue
		}
		if status < 200 || status > 299 {
			return nil, &StatusError{Method: method, Path: path, Status: status, Body: truncate(string(data), 200)}
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return nil, fmt.Errorf("decoding %s %s: %w", method, path, err)
			}
		}
		return data, nil
	}
}

func (c *Client) once(ctx context.Context, method, path, token string, body []byte) (int, []byte, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	setHeaders(req.Header, token, body != nil)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, nil, 0, fmt.Errorf("reading %s %s: %w", method, path, err)
	}
	var wait time.Duration
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		wait = time.Duration(s) * time.Second
	}
	return resp.StatusCode, data, wait, nil
}

func setHeaders(h http.Header, token string, hasBody bool) {
	h.Set("Accept", "application/json")
	h.Set("Traceparent", Traceparent())
	if hasBody {
		h.Set("Content-Type", "application/json")
	}
	if token != "" {
		h.Set("Authorization", "Token "+token)
	}
}

// IsStatus reports whether err is a StatusError with the given status.
func IsStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Wire shapes of the RealWorld API, only the fields the load generator uses.
type (
	userBody struct {
		User struct {
			Username string `json:"username"`
			Email    string `json:"email"`
			Token    string `json:"token"`
		} `json:"user"`
	}
	articleBody struct {
		Article struct {
			Slug string `json:"slug"`
		} `json:"article"`
	}
	articlesBody struct {
		Articles []struct {
			Slug     string   `json:"slug"`
			TagList  []string `json:"tagList"`
			Category *string  `json:"category"`
			Author   struct {
				Username string `json:"username"`
			} `json:"author"`
		} `json:"articles"`
		ArticlesCount int `json:"articlesCount"`
	}
	categoriesBody struct {
		Categories []struct {
			Slug string `json:"slug"`
		} `json:"categories"`
	}
	tagsBody struct {
		Tags []string `json:"tags"`
	}
)

// NewArticle is the body of POST /api/articles.
type NewArticle struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Body        string   `json:"body"`
	TagList     []string `json:"tagList"`
	Category    *string  `json:"category,omitempty"`
}

// Register creates an account and returns its token.
func (c *Client) Register(ctx context.Context, username, email, password string) (string, error) {
	in := map[string]any{"user": map[string]string{"username": username, "email": email, "password": password}}
	var out userBody
	if err := c.Do(ctx, http.MethodPost, "/api/users", "", in, &out); err != nil {
		return "", fmt.Errorf("registering %s: %w", username, err)
	}
	return out.User.Token, nil
}

// Login signs in and returns a token.
func (c *Client) Login(ctx context.Context, email, password string) (string, error) {
	in := map[string]any{"user": map[string]string{"email": email, "password": password}}
	var out userBody
	if err := c.Do(ctx, http.MethodPost, "/api/users/login", "", in, &out); err != nil {
		return "", fmt.Errorf("signing in as %s: %w", email, err)
	}
	return out.User.Token, nil
}

// CreateArticle publishes an article and returns its slug.
func (c *Client) CreateArticle(ctx context.Context, token string, a NewArticle) (string, error) {
	var out articleBody
	if err := c.Do(ctx, http.MethodPost, "/api/articles", token, map[string]any{"article": a}, &out); err != nil {
		return "", fmt.Errorf("creating article %q: %w", a.Title, err)
	}
	return out.Article.Slug, nil
}

// Comment adds a comment to an article.
func (c *Client) Comment(ctx context.Context, token, slug, body string) error {
	in := map[string]any{"comment": map[string]string{"body": body}}
	if err := c.Do(ctx, http.MethodPost, "/api/articles/"+slug+"/comments", token, in, nil); err != nil {
		return fmt.Errorf("commenting on %s: %w", slug, err)
	}
	return nil
}

// Follow makes the token's user follow username.
func (c *Client) Follow(ctx context.Context, token, username string) error {
	if err := c.Do(ctx, http.MethodPost, "/api/profiles/"+username+"/follow", token, nil, nil); err != nil {
		return fmt.Errorf("following %s: %w", username, err)
	}
	return nil
}

// Favorite marks an article as a favorite of the token's user.
func (c *Client) Favorite(ctx context.Context, token, slug string) error {
	if err := c.Do(ctx, http.MethodPost, "/api/articles/"+slug+"/favorite", token, nil, nil); err != nil {
		return fmt.Errorf("favoriting %s: %w", slug, err)
	}
	return nil
}

// Categories lists the category slugs (categories are fixed by migration).
func (c *Client) Categories(ctx context.Context) ([]string, error) {
	var out categoriesBody
	if err := c.Do(ctx, http.MethodGet, "/api/categories", "", nil, &out); err != nil {
		return nil, fmt.Errorf("listing categories: %w", err)
	}
	slugs := make([]string, 0, len(out.Categories))
	for _, cat := range out.Categories {
		slugs = append(slugs, cat.Slug)
	}
	return slugs, nil
}
