// Package httpapi is the blog's public HTTP API: the RealWorld article,
// comment, favorite and tag endpoints, plus categories and search.
package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/authn"
	"github.com/tungsten-blog/tungsten/internal/platform/errs"
	"github.com/tungsten-blog/tungsten/internal/platform/httpx"
)

// Register adds the blog's routes to rt.
func Register(rt *httpx.Router, svc *app.Service) { rt.HandleRoutes(handlers{svc: svc}.routes()) }

// Routes lists the blog's routes; the gateway forwards them here.
func Routes() []string { return httpx.Patterns(handlers{}.routes()) }

func (h handlers) routes() []httpx.Route {
	return []httpx.Route{
		{Pattern: "GET /api/articles", Handler: h.list},
		{Pattern: "POST /api/articles", Handler: h.create},
		{Pattern: "GET /api/articles/feed", Handler: h.feed},
		{Pattern: "GET /api/articles/{slug}", Handler: h.get},
		{Pattern: "PUT /api/articles/{slug}", Handler: h.update},
		{Pattern: "DELETE /api/articles/{slug}", Handler: h.delete},
		{Pattern: "POST /api/articles/{slug}/favorite", Handler: h.favorite},
		{Pattern: "DELETE /api/articles/{slug}/favorite", Handler: h.unfavorite},
		{Pattern: "GET /api/articles/{slug}/comments", Handler: h.comments},
		{Pattern: "POST /api/articles/{slug}/comments", Handler: h.addComment},
		{Pattern: "DELETE /api/articles/{slug}/comments/{id}", Handler: h.deleteComment},
		{Pattern: "POST /api/articles/{slug}/preview", Handler: h.newPreviewLink},
		{Pattern: "GET /api/previews/{token}", Handler: h.preview},
		{Pattern: "GET /api/tags", Handler: h.tags},
		{Pattern: "GET /api/categories", Handler: h.categories},
	}
}

type handlers struct{ svc *app.Service }

func viewer(r *http.Request) app.Viewer {
	p, _ := authn.FromContext(r.Context())
	return app.Viewer{ID: p.UserID, Username: p.Username}
}

func requireUser(r *http.Request) (app.Viewer, error) {
	p, err := authn.RequireUser(r.Context())
	if err != nil {
		return app.Viewer{}, err
	}
	return app.Viewer{ID: p.UserID, Username: p.Username}, nil
}

func (h handlers) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit, offset, err := h.svc.ParsePage(q.Get("limit"), q.Get("offset"))
	if err != nil {
		return err
	}
	drafts, err := boolParam(q.Get("drafts"), "drafts")
	if err != nil {
		return err
	}
	list, err := h.svc.ListArticles(r.Context(), viewer(r), app.ListParams{
		Tag: q.Get("tag"), Author: q.Get("author"), Favorited: q.Get("favorited"),
		Category: q.Get("category"), Query: q.Get("q"), Drafts: drafts, Limit: limit, Offset: offset,
	})
	if err != nil {
		return err
	}
	httpx.WriteJSONBytes(w, http.StatusOK, list)
	return nil
}

// boolParam reads a boolean query parameter: "" and "false" are false.
func boolParam(v, name string) (bool, error) {
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, errs.Invalid(name + " must be true or false")
}

func (h handlers) feed(w http.ResponseWriter, r *http.Request) error {
	v, err := requireUser(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, offset, err := h.svc.ParsePage(q.Get("limit"), q.Get("offset"))
	if err != nil {
		return err
	}
	list, err := h.svc.Feed(r.Context(), v, limit, offset)
	if err != nil {
		return err
	}
	httpx.WriteJSONBytes(w, http.StatusOK, list)
	return nil
}

func (h handlers) get(w http.ResponseWriter, r *http.Request) error {
	a, err := h.svc.Article(r.Context(), viewer(r), r.PathValue("slug"))
	if err != nil {
		return err
	}
	httpx.WriteJSONBytes(w, http.StatusOK, a)
	return nil
}

// articleRequest is the body of POST and PUT /api/articles.
type articleRequest struct {
	Article *struct {
		Title       *string         `json:"title"`
		Description *string         `json:"description"`
		Body        *string         `json:"body"`
		TagList     *[]string       `json:"tagList"`
		Category    json.RawMessage `json:"category"` // absent: unchanged; null: none; "slug"
		Draft       *bool           `json:"draft"`    // absent: unchanged (published on create)
	} `json:"article"`
}

func decodeArticle(r *http.Request) (domain.ArticlePatch, error) {
	var req articleRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return domain.ArticlePatch{}, err
	}
	if req.Article == nil {
		return domain.ArticlePatch{}, errs.Invalid(`article is required ({"article":{...}})`)
	}
	a := req.Article
	p := domain.ArticlePatch{Title: a.Title, Description: a.Description, Body: a.Body, Tags: a.TagList, Draft: a.Draft}
	if len(a.Category) > 0 {
		var c *string
		if err := json.Unmarshal(a.Category, &c); err != nil {
			return domain.ArticlePatch{}, errs.Invalid("category must be a string or null")
		}
		if c == nil {
			c = new(string)
		}
		p.Category = c
	}
	return p, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (h handlers) create(w http.ResponseWriter, r *http.Request) error {
	v, err := requireUser(r)
	if err != nil {
		return err
	}
	p, err := decodeArticle(r)
	if err != nil {
		return err
	}
	in := domain.ArticleInput{Title: deref(p.Title), Description: deref(p.Description), Body: deref(p.Body),
		Category: deref(p.Category)}
	if p.Tags != nil {
		in.Tags = *p.Tags
	}
	if p.Draft != nil {
		in.Draft = *p.Draft
	}
	if key := r.Header.Get(idempotencyHeader); key != "" {
		resp, err := h.svc.CreateArticleOnce(r.Context(), v, in, key, http.StatusCreated, func(a app.ArticleView) ([]byte, error) {
			return jsonLine(singleArticle{newArticle(a, true)})
		})
		return writeOnce(w, resp, err)
	}
	a, err := h.svc.CreateArticle(r.Context(), v, in)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusCreated, singleArticle{newArticle(a, true)})
	return nil
}

// idempotencyHeader carries a client's key for a write it may retry
// (POST /api/articles and comments; ADR 0013). Idempotent-Replayed: true
// marks an answer that was kept from the first request with that key.
const (
	idempotencyHeader = "Idempotency-Key"
	replayedHeader    = "Idempotent-Replayed"
)

// jsonLine encodes v as httpx.WriteJSON does (with its trailing newline),
// so a replayed body is byte for byte the first one.
func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func writeOnce(w http.ResponseWriter, resp app.Response, err error) error {
	if err != nil {
		return err
	}
	if resp.Replayed {
		w.Header().Set(replayedHeader, "true")
	}
	httpx.WriteJSONBytes(w, resp.Status, resp.Body)
	return nil
}

func (h handlers) update(w http.ResponseWriter, r *http.Request) error {
	v, err := requireUser(r)
	if err != nil {
		return err
	}
	p, err := decodeArticle(r)
	if err != nil {
		return err
	}
	a, err := h.svc.UpdateArticle(r.Context(), v, r.PathValue("slug"), p)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, singleArticle{newArticle(a, true)})
	return nil
}

func (h handlers) delete(w http.ResponseWriter, r *http.Request) error {
	v, err := requireUser(r)
	if err != nil {
		return err
	}
	if err := h.svc.DeleteArticle(r.Context(), v, r.PathValue("slug")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// newPreviewLink gives the author's draft a new preview link (the old one
// stops working) and answers with the draft, previewToken included.
func (h handlers) newPreviewLink(w http.ResponseWriter, r *http.Request) error {
	v, err := requireUser(r)
	if err != nil {
		return err
	}
	a, err := h.svc.NewPreviewLink(r.Context(), v, r.PathValue("slug"))
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, singleArticle{newArticle(a, true)})
	return nil
}

// preview shows a draft to whoever holds its preview link.
func (h handlers) preview(w http.ResponseWriter, r *http.Request) error {
	a, err := h.svc.Preview(r.Context(), viewer(r), r.PathValue("token"))
	if err != nil {
		return err
	}
	w.Header().Set("X-Robots-Tag", "noindex")
	httpx.WriteJSONBytes(w, http.StatusOK, a)
	return nil
}

func (h handlers) favorite(w http.ResponseWriter, r *http.Request) error {
	return h.setFavorite(w, r, true)
}

func (h handlers) unfavorite(w http.ResponseWriter, r *http.Request) error {
	return h.setFavorite(w, r, false)
}

func (h handlers) setFavorite(w http.ResponseWriter, r *http.Request, on bool) error {
	v, err := requireUser(r)
	if err != nil {
		return err
	}
	var a app.ArticleView
	if on {
		a, err = h.svc.Favorite(r.Context(), v, r.PathValue("slug"))
	} else {
		a, err = h.svc.Unfavorite(r.Context(), v, r.PathValue("slug"))
	}
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, singleArticle{newArticle(a, true)})
	return nil
}

func (h handlers) comments(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.svc.Comments(r.Context(), viewer(r), r.PathValue("slug"))
	if err != nil {
		return err
	}
	out := multipleComments{Comments: make([]commentJSON, len(cs))}
	for i, c := range cs {
		out.Comments[i] = newComment(c)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h handlers) addComment(w http.ResponseWriter, r *http.Request) error {
	v, err := requireUser(r)
	if err != nil {
		return err
	}
	var req struct {
		Comment *struct {
			Body *string `json:"body"`
		} `json:"comment"`
	}
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return err
	}
	if req.Comment == nil {
		return errs.Invalid(`comment is required ({"comment":{"body":"..."}})`)
	}
	if key := r.Header.Get(idempotencyHeader); key != "" {
		// 200, as below.
		resp, err := h.svc.AddCommentOnce(r.Context(), v, r.PathValue("slug"), deref(req.Comment.Body), key, http.StatusOK,
			func(c app.CommentView) ([]byte, error) { return jsonLine(singleComment{newComment(c)}) })
		return writeOnce(w, resp, err)
	}
	c, err := h.svc.AddComment(r.Context(), v, r.PathValue("slug"), deref(req.Comment.Body))
	if err != nil {
		return err
	}
	// 200, as the RealWorld OpenAPI document specifies for this endpoint.
	httpx.WriteJSON(w, http.StatusOK, singleComment{newComment(c)})
	return nil
}

func (h handlers) deleteComment(w http.ResponseWriter, r *http.Request) error {
	v, err := requireUser(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return errs.NotFound("comment")
	}
	if err := h.svc.DeleteComment(r.Context(), v, r.PathValue("slug"), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h handlers) tags(w http.ResponseWriter, r *http.Request) error {
	tags, err := h.svc.Tags(r.Context(), viewer(r))
	if err != nil {
		return err
	}
	httpx.WriteJSONBytes(w, http.StatusOK, tags)
	return nil
}

func (h handlers) categories(w http.ResponseWriter, r *http.Request) error {
	cs, err := h.svc.Categories(r.Context(), viewer(r))
	if err != nil {
		return err
	}
	out := struct {
		Categories []categoryJSON `json:"categories"`
	}{Categories: make([]categoryJSON, len(cs))}
	for i, c := range cs {
		out.Categories[i] = categoryJSON{Slug: c.Slug, Name: c.Name, Color: c.Color, ArticlesCount: c.ArticlesCount}
	}
	httpx.WriteJSON(w, http.StatusOK, out)
	return nil
}
