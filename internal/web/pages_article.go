package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

type articleData struct {
	Article     Article
	Body        template.HTML // rendered and sanitized Markdown
	Comments    []Comment
	Category    *Category
	IsAuthor    bool
	CommentBody string
	Errors      formErrors
	// Preview is a draft shown through its preview link: no actions, no
	// comments. PreviewURL is the link, on the author's page of a draft.
	Preview    bool
	PreviewURL string
}

func (s *Service) article(r *http.Request, sess *session) (response, error) {
	return s.articlePage(r, sess, http.StatusOK, "", formErrors{})
}

func (s *Service) articlePage(r *http.Request, sess *session, status int, comment string, fe formErrors) (response, error) {
	slug := r.PathValue("slug")
	a, err := s.api.article(r.Context(), sess.token, slug)
	if err != nil {
		return nil, err
	}
	comments, err := s.api.comments(r.Context(), sess.token, slug)
	if err != nil {
		return nil, err
	}
	d := articleData{Article: a, Comments: comments, CommentBody: comment, Errors: fe,
		IsAuthor: sess.user != nil && sess.user.Username == a.Author.Username}
	if a.Body != nil {
		d.Body = s.md.render(*a.Body)
	}
	d.Category = s.categoryOf(r, a)
	if a.Draft { // its author's alone: nothing for search engines or share previews
		if a.PreviewToken != "" {
			d.PreviewURL = s.abs(r, previewURL(a.PreviewToken))
		}
		return s.renderHead(sess, status, "article", a.Title, d, pageHead{NoIndex: true}), nil
	}
	return s.renderHead(sess, status, "article", a.Title, d, s.articleHead(r, sess.loc, a, d.Category)), nil
}

func (s *Service) categoryOf(r *http.Request, a Article) *Category {
	if a.Category != nil {
		if c, ok := s.categoryByID(r.Context())[*a.Category]; ok {
			return &c
		}
	}
	return nil
}

func previewURL(token string) string { return "/preview/" + url.PathEscape(token) }

// preview shows a draft to whoever holds its preview link: the article
// alone, marked as a draft, kept out of search engines. A dead link
// (renewed, or the draft published or deleted) is a 404.
func (s *Service) preview(r *http.Request, sess *session) (response, error) {
	a, err := s.api.preview(r.Context(), sess.token, r.PathValue("token"))
	if err != nil {
		return nil, err
	}
	d := articleData{Article: a, Preview: true, Category: s.categoryOf(r, a)}
	if a.Body != nil {
		d.Body = s.md.render(*a.Body)
	}
	return s.renderHead(sess, http.StatusOK, "article", a.Title, d, pageHead{NoIndex: true}), nil
}

// newPreviewLink gives the author's draft a new preview link; whoever held
// the old one can no longer read it.
func (s *Service) newPreviewLink(r *http.Request, sess *session) (response, error) {
	if sess.user == nil {
		return nil, errs.Unauthenticated("sign in to share a draft")
	}
	a, err := s.api.newPreviewLink(r.Context(), sess.token, r.PathValue("slug"))
	if err != nil {
		return nil, err
	}
	return redirect(articleURL(a.Slug) + "#preview-link"), nil
}

func articleURL(slug string) string { return "/article/" + url.PathEscape(slug) }

func (s *Service) addComment(r *http.Request, sess *session) (response, error) {
	if sess.user == nil {
		return nil, errs.Unauthenticated("sign in to comment")
	}
	slug := r.PathValue("slug")
	body := r.PostFormValue("body")
	if strings.TrimSpace(body) == "" {
		return s.articlePage(r, sess, http.StatusUnprocessableEntity, body, formErrors{Fields: map[string][]string{"body": {sess.loc.T("comments.blank")}}})
	}
	if err := s.api.addComment(r.Context(), sess.token, slug, body); err != nil {
		fe, err := userErrors(sess.loc, err, map[string]string{"comment": "body"}, "body")
		if err != nil {
			return nil, err
		}
		return s.articlePage(r, sess, http.StatusUnprocessableEntity, body, fe)
	}
	return redirect(articleURL(slug) + "#comments"), nil
}

func (s *Service) deleteComment(r *http.Request, sess *session) (response, error) {
	if sess.user == nil {
		return nil, errs.Unauthenticated("sign in to delete comments")
	}
	slug := r.PathValue("slug")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, errNotFound
	}
	if err := s.api.deleteComment(r.Context(), sess.token, slug, id); err != nil {
		return nil, err
	}
	return redirect(articleURL(slug) + "#comments"), nil
}

func (s *Service) favorite(r *http.Request, sess *session) (response, error) {
	if sess.user == nil {
		return nil, errs.Unauthenticated("sign in to favorite")
	}
	slug := r.PathValue("slug")
	if err := s.api.favorite(r.Context(), sess.token, slug, r.PostFormValue("action") != "unfavorite"); err != nil {
		return nil, err
	}
	return redirect(localPath(r.PostFormValue("next"), articleURL(slug))), nil
}

func (s *Service) deleteArticle(r *http.Request, sess *session) (response, error) {
	if sess.user == nil {
		return nil, errs.Unauthenticated("sign in to delete")
	}
	if err := s.api.deleteArticle(r.Context(), sess.token, r.PathValue("slug")); err != nil {
		return nil, err
	}
	return redirect("/profile/" + url.PathEscape(sess.user.Username)), nil
}

type editorData struct {
	Slug        string // empty for a new article
	Title       string
	Description string
	Body        string
	Tags        string
	Category    string
	Categories  []Category
	Errors      formErrors
	// Published is whether the article being edited is published (its
	// buttons: update, or back to draft); a new one or a draft offers
	// "Save draft" and "Publish".
	Published bool
	// Preview is the body rendered as its article page would show it,
	// after the Preview button.
	Preview template.HTML
}

// The editor's submit buttons, by the value of their name="action".
const (
	actionPreview = "preview" // render the body below the form, save nothing
	actionDraft   = "draft"   // save as a draft (a published article goes back to draft)
	actionPublish = "publish" // save and publish
)

func (s *Service) editor(r *http.Request, sess *session) (response, error) {
	if sess.user == nil {
		return nil, errs.Unauthenticated("sign in to write")
	}
	d := editorData{Slug: r.PathValue("slug")}
	d.Categories, _ = s.categories(r.Context())
	title := sess.loc.T("editor.new")
	if d.Slug != "" {
		a, err := s.api.article(r.Context(), sess.token, d.Slug)
		if err != nil {
			return nil, err
		}
		if a.Author.Username != sess.user.Username {
			return nil, errForbidden
		}
		d.Title, d.Description, d.Tags, d.Category = a.Title, a.Description, strings.Join(a.TagList, ", "), deref(a.Category)
		if a.Body != nil {
			d.Body = *a.Body
		}
		d.Published = !a.Draft
		title = sess.loc.T("editor.edit_title", a.Title)
	}
	return s.render(sess, http.StatusOK, "editor", title, d), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// saveArticle answers the editor's buttons: Preview renders the body below
// the form (through the same renderer and sanitizer as article pages) and
// saves nothing; Save draft and Publish save it so; a post without a button
// (older pages, scripts) publishes a new article and keeps an edited one as
// it is.
func (s *Service) saveArticle(r *http.Request, sess *session) (response, error) {
	if sess.user == nil {
		return nil, errs.Unauthenticated("sign in to write")
	}
	d := editorData{
		Slug: r.PathValue("slug"), Title: r.PostFormValue("title"), Description: r.PostFormValue("description"),
		Body: r.PostFormValue("body"), Tags: r.PostFormValue("tags"), Category: r.PostFormValue("category"),
		Published: r.PostFormValue("published") == "true",
	}
	action := r.PostFormValue("action")
	if action == actionPreview {
		d.Preview = s.md.render(d.Body)
		d.Categories, _ = s.categories(r.Context())
		return s.render(sess, http.StatusOK, "editor", sess.loc.T("editor.title"), d), nil
	}
	f := ArticleForm{Title: d.Title, Description: d.Description, Body: d.Body, TagList: splitTags(d.Tags)}
	if f.TagList == nil {
		f.TagList = []string{}
	}
	if d.Category != "" || d.Slug != "" {
		f.Category = &d.Category // "" on an edit clears it
	}
	switch action {
	case actionDraft:
		f.Draft = new(true)
	case actionPublish:
		f.Draft = new(false)
	}
	a, err := s.api.saveArticle(r.Context(), sess.token, d.Slug, f)
	if err != nil {
		fe, err := userErrors(sess.loc, err, map[string]string{"tagList": "tags"}, "title", "description", "body", "tags", "category")
		if err != nil {
			return nil, err
		}
		d.Errors = fe
		d.Categories, _ = s.categories(r.Context())
		return s.render(sess, http.StatusUnprocessableEntity, "editor", sess.loc.T("editor.title"), d), nil
	}
	return redirect(articleURL(a.Slug)), nil
}
