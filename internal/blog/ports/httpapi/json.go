package httpapi

import (
	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
)

type profileJSON struct {
	Username  string  `json:"username"`
	Bio       *string `json:"bio"`
	Image     *string `json:"image"`
	Following bool    `json:"following"`
}

type articleJSON struct {
	Slug           string      `json:"slug"`
	Title          string      `json:"title"`
	Description    string      `json:"description"`
	Body           *string     `json:"body,omitempty"` // lists leave it out
	TagList        []string    `json:"tagList"`
	CreatedAt      string      `json:"createdAt"`
	UpdatedAt      string      `json:"updatedAt"`
	Favorited      bool        `json:"favorited"`
	FavoritesCount int64       `json:"favoritesCount"`
	Author         profileJSON `json:"author"`
	Category       *string     `json:"category"`
	// SearchSnippet (a Tungsten extension) is where a search matched, in
	// search results only: plain-text parts, the matched ones marked.
	SearchSnippet []snippetPartJSON `json:"searchSnippet,omitempty"`
	// ReadingMinutes (a Tungsten extension) is the body's reading time, in
	// lists too, which carry no body; absent while not measured yet.
	ReadingMinutes int `json:"readingMinutes,omitempty"`
	// Draft (a Tungsten extension) marks an article that is not published;
	// only its author (and a preview link's holder) ever sees one. Absent
	// on published articles. PreviewToken is a draft's preview link, in its
	// author's view of the single article only (ADR 0020).
	Draft        bool   `json:"draft,omitempty"`
	PreviewToken string `json:"previewToken,omitempty"`
}

type snippetPartJSON struct {
	Text  string `json:"text"`
	Match bool   `json:"match"`
}

type singleArticle struct {
	Article articleJSON `json:"article"`
}

type multipleArticles struct {
	Articles      []articleJSON `json:"articles"`
	ArticlesCount int64         `json:"articlesCount"`
}

type commentJSON struct {
	ID        int64       `json:"id"`
	CreatedAt string      `json:"createdAt"`
	UpdatedAt string      `json:"updatedAt"`
	Body      string      `json:"body"`
	Author    profileJSON `json:"author"`
}

type singleComment struct {
	Comment commentJSON `json:"comment"`
}

type multipleComments struct {
	Comments []commentJSON `json:"comments"`
}

type categoryJSON struct {
	Slug          string `json:"slug"`
	Name          string `json:"name"`
	Color         string `json:"color"`
	ArticlesCount int64  `json:"articlesCount"`
}

func newProfile(a app.AuthorView) profileJSON {
	return profileJSON{Username: a.Username, Bio: a.Bio, Image: a.Image, Following: a.Following}
}

func newArticle(a app.ArticleView, withBody bool) articleJSON {
	out := articleJSON{
		Slug: a.Slug, Title: a.Title, Description: a.Description, TagList: a.Tags,
		CreatedAt: domain.FormatTime(a.CreatedAt), UpdatedAt: domain.FormatTime(a.UpdatedAt),
		Favorited: a.Favorited, FavoritesCount: a.FavoritesCount, Author: newProfile(a.Author),
		ReadingMinutes: a.ReadingMinutes, Draft: a.Draft,
	}
	if out.TagList == nil {
		out.TagList = []string{}
	}
	if withBody {
		body := a.Body
		out.Body = &body
		out.PreviewToken = a.PreviewToken
	}
	if a.Category != "" {
		c := a.Category
		out.Category = &c
	}
	for _, p := range a.Snippet {
		out.SearchSnippet = append(out.SearchSnippet, snippetPartJSON{Text: p.Text, Match: p.Match})
	}
	return out
}

func newArticleList(l app.ArticleList) multipleArticles {
	out := multipleArticles{Articles: make([]articleJSON, len(l.Articles)), ArticlesCount: l.Total}
	for i, a := range l.Articles {
		out.Articles[i] = newArticle(a, false)
	}
	return out
}

func newComment(c app.CommentView) commentJSON {
	return commentJSON{ID: c.ID, CreatedAt: domain.FormatTime(c.CreatedAt), UpdatedAt: domain.FormatTime(c.UpdatedAt),
		Body: c.Body, Author: newProfile(c.Author)}
}
