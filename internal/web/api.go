package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// The types below mirror the public API's JSON (api/openapi.yml); the UI reads
// nothing else.

// User is the signed-in account (GET /api/user).
type User struct {
	Email    string  `json:"email"`
	Token    string  `json:"token"`
	Username string  `json:"username"`
	Bio      *string `json:"bio"`
	Image    *string `json:"image"`
}

// Profile is a public profile.
type Profile struct {
	Username  string  `json:"username"`
	Bio       *string `json:"bio"`
	Image     *string `json:"image"`
	Following bool    `json:"following"`
}

// Article is one article; Body is nil in lists.
type Article struct {
	Slug           string   `json:"slug"`
	Title          string   `json:"title"`
	Description    string   `json:"description"`
	Body           *string  `json:"body"`
	TagList        []string `json:"tagList"`
	CreatedAt      string   `json:"createdAt"`
	UpdatedAt      string   `json:"updatedAt"`
	Favorited      bool     `json:"favorited"`
	FavoritesCount int64    `json:"favoritesCount"`
	Author         Profile  `json:"author"`
	Category       *string  `json:"category"`
	// SearchSnippet is where a search matched (search results only), as
	// plain-text parts for the template to escape; Match parts get <mark>.
	SearchSnippet []SnippetPart `json:"searchSnippet"`
	// ReadingMinutes is the blog's reading time of the body; 0 when unknown.
	ReadingMinutes int `json:"readingMinutes"`
	// Draft marks an unpublished article (its author's, or a preview's);
	// PreviewToken is its private link, in the author's view only.
	Draft        bool   `json:"draft"`
	PreviewToken string `json:"previewToken"`
}

// SnippetPart is a piece of a search snippet.
type SnippetPart struct {
	Text  string `json:"text"`
	Match bool   `json:"match"`
}

// ArticleList is a page of articles and the total count.
type ArticleList struct {
	Articles      []Article `json:"articles"`
	ArticlesCount int64     `json:"articlesCount"`
}

// Comment is a comment on an article.
type Comment struct {
	ID        int64   `json:"id"`
	CreatedAt string  `json:"createdAt"`
	Body      string  `json:"body"`
	Author    Profile `json:"author"`
}

// Category is one of the blog's fixed categories.
type Category struct {
	Slug          string `json:"slug"`
	Name          string `json:"name"`
	Color         string `json:"color"`
	ArticlesCount int64  `json:"articlesCount"`
}

// ArticleForm is what the editor sends.
type ArticleForm struct {
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Body        string   `json:"body"`
	TagList     []string `json:"tagList"`
	Category    *string  `json:"category"`
	Draft       *bool    `json:"draft,omitempty"` // nil: published when new, unchanged on an edit
}

// UserChanges is the body of PUT /api/user; empty pointers are left out.
type UserChanges struct {
	Email    *string `json:"email,omitempty"`
	Username *string `json:"username,omitempty"`
	Password *string `json:"password,omitempty"`
	Image    *string `json:"image,omitempty"`
	Bio      *string `json:"bio,omitempty"`
}

// ListQuery selects articles (GET /api/articles).
type ListQuery struct {
	Tag, Author, Favorited, Category, Query string
	Drafts                                  bool // the signed-in user's drafts
	Limit, Offset                           int
}

// api is the UI's client of the public API: the same routes and payloads any
// other client uses, on the auth, users and blog services.
type api struct {
	auth, users, blog *httpx.Client
}

// forwardedFor names the browser to auth, whose limits count per client IP
// (auth believes it because web is one of its trusted proxies).
func forwardedFor(clientIP string) http.Header {
	return http.Header{"X-Forwarded-For": {clientIP}}
}

func authHeader(token string) http.Header {
	if token == "" {
		return nil
	}
	return http.Header{"Authorization": {"Token " + token}}
}

func (a api) login(ctx context.Context, clientIP, email, password string) (User, error) {
	var out struct {
		User User `json:"user"`
	}
	in := map[string]any{"user": map[string]string{"email": email, "password": password}}
	err := a.auth.Do(ctx, http.MethodPost, "/api/users/login", forwardedFor(clientIP), in, &out)
	return out.User, err
}

func (a api) register(ctx context.Context, clientIP, username, email, password string) (User, error) {
	var out struct {
		User User `json:"user"`
	}
	in := map[string]any{"user": map[string]string{"username": username, "email": email, "password": password}}
	err := a.auth.Do(ctx, http.MethodPost, "/api/users", forwardedFor(clientIP), in, &out)
	return out.User, err
}

func (a api) currentUser(ctx context.Context, token string) (User, error) {
	var out struct {
		User User `json:"user"`
	}
	err := a.users.Do(ctx, http.MethodGet, "/api/user", authHeader(token), nil, &out)
	return out.User, err
}

// updateUser changes the account; a new password signs in again (the
// users service asks auth for the new token, throttled by clientIP).
func (a api) updateUser(ctx context.Context, token, clientIP string, c UserChanges) (User, error) {
	var out struct {
		User User `json:"user"`
	}
	h := forwardedFor(clientIP) // users passes it on to auth
	if token != "" {
		h.Set("Authorization", "Token "+token)
	}
	err := a.users.Do(ctx, http.MethodPut, "/api/user", h, map[string]any{"user": c}, &out)
	return out.User, err
}

// signOut revokes every token of the account (DELETE /api/user/session).
func (a api) signOut(ctx context.Context, token string) error {
	return a.users.Do(ctx, http.MethodDelete, "/api/user/session", authHeader(token), nil, nil)
}

func (a api) profile(ctx context.Context, token, username string) (Profile, error) {
	var out struct {
		Profile Profile `json:"profile"`
	}
	err := a.users.Do(ctx, http.MethodGet, "/api/profiles/"+url.PathEscape(username), authHeader(token), nil, &out)
	return out.Profile, err
}

func (a api) follow(ctx context.Context, token, username string, on bool) error {
	method := http.MethodPost
	if !on {
		method = http.MethodDelete
	}
	return a.users.Do(ctx, method, "/api/profiles/"+url.PathEscape(username)+"/follow", authHeader(token), nil, nil)
}

func (a api) articles(ctx context.Context, token string, q ListQuery) (ArticleList, error) {
	v := url.Values{}
	for k, s := range map[string]string{"tag": q.Tag, "author": q.Author, "favorited": q.Favorited, "category": q.Category, "q": q.Query} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Drafts {
		v.Set("drafts", "true")
	}
	v.Set("limit", strconv.Itoa(q.Limit))
	v.Set("offset", strconv.Itoa(q.Offset))
	var out ArticleList
	err := a.blog.Do(ctx, http.MethodGet, "/api/articles?"+v.Encode(), authHeader(token), nil, &out)
	return out, err
}

func (a api) feed(ctx context.Context, token string, limit, offset int) (ArticleList, error) {
	var out ArticleList
	path := "/api/articles/feed?limit=" + strconv.Itoa(limit) + "&offset=" + strconv.Itoa(offset)
	err := a.blog.Do(ctx, http.MethodGet, path, authHeader(token), nil, &out)
	return out, err
}

func (a api) article(ctx context.Context, token, slug string) (Article, error) {
	var out struct {
		Article Article `json:"article"`
	}
	err := a.blog.Do(ctx, http.MethodGet, "/api/articles/"+url.PathEscape(slug), authHeader(token), nil, &out)
	return out.Article, err
}

// preview reads a draft through its preview link.
func (a api) preview(ctx context.Context, token, previewToken string) (Article, error) {
	var out struct {
		Article Article `json:"article"`
	}
	err := a.blog.Do(ctx, http.MethodGet, "/api/previews/"+url.PathEscape(previewToken), authHeader(token), nil, &out)
	return out.Article, err
}

// newPreviewLink replaces the preview link of the user's draft.
func (a api) newPreviewLink(ctx context.Context, token, slug string) (Article, error) {
	var out struct {
		Article Article `json:"article"`
	}
	err := a.blog.Do(ctx, http.MethodPost, "/api/articles/"+url.PathEscape(slug)+"/preview", authHeader(token), nil, &out)
	return out.Article, err
}

func (a api) saveArticle(ctx context.Context, token, slug string, f ArticleForm) (Article, error) {
	var out struct {
		Article Article `json:"article"`
	}
	method, path := http.MethodPost, "/api/articles"
	if slug != "" {
		method, path = http.MethodPut, "/api/articles/"+url.PathEscape(slug)
	}
	err := a.blog.Do(ctx, method, path, authHeader(token), map[string]any{"article": f}, &out)
	return out.Article, err
}

func (a api) deleteArticle(ctx context.Context, token, slug string) error {
	return a.blog.Do(ctx, http.MethodDelete, "/api/articles/"+url.PathEscape(slug), authHeader(token), nil, nil)
}

func (a api) favorite(ctx context.Context, token, slug string, on bool) error {
	method := http.MethodPost
	if !on {
		method = http.MethodDelete
	}
	return a.blog.Do(ctx, method, "/api/articles/"+url.PathEscape(slug)+"/favorite", authHeader(token), nil, nil)
}

func (a api) comments(ctx context.Context, token, slug string) ([]Comment, error) {
	var out struct {
		Comments []Comment `json:"comments"`
	}
	err := a.blog.Do(ctx, http.MethodGet, "/api/articles/"+url.PathEscape(slug)+"/comments", authHeader(token), nil, &out)
	return out.Comments, err
}

func (a api) addComment(ctx context.Context, token, slug, body string) error {
	in := map[string]any{"comment": map[string]string{"body": body}}
	return a.blog.Do(ctx, http.MethodPost, "/api/articles/"+url.PathEscape(slug)+"/comments", authHeader(token), in, nil)
}

func (a api) deleteComment(ctx context.Context, token, slug string, id int64) error {
	path := "/api/articles/" + url.PathEscape(slug) + "/comments/" + strconv.FormatInt(id, 10)
	return a.blog.Do(ctx, http.MethodDelete, path, authHeader(token), nil, nil)
}

func (a api) tags(ctx context.Context) ([]string, error) {
	var out struct {
		Tags []string `json:"tags"`
	}
	err := a.blog.Do(ctx, http.MethodGet, "/api/tags", nil, nil, &out)
	return out.Tags, err
}

func (a api) categories(ctx context.Context) ([]Category, error) {
	var out struct {
		Categories []Category `json:"categories"`
	}
	err := a.blog.Do(ctx, http.MethodGet, "/api/categories", nil, nil, &out)
	return out.Categories, err
}
