package blogevents_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/blogevents"
)

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

var (
	article = blogevents.Article{Version: 1, ArticleID: 7, Slug: "how-to-train-your-dragon-2",
		PreviousSlug: "how-to-train-your-dragon", AuthorID: 3, Category: "dev", At: 1704067200000}
	comment = blogevents.Comment{Version: 1, CommentID: 11, ArticleID: 7, Slug: "how-to-train-your-dragon",
		AuthorID: 4, At: 1704067201000}
	favorite = blogevents.Favorite{Version: 1, ArticleID: 7, Slug: "how-to-train-your-dragon", AuthorID: 3,
		UserID: 4, FavoritesCount: 2, At: 1704067202000}
)

// TestWireForm pins the payloads at the current version as deployed
// consumers decode them: renaming a field or changing its type breaks this
// test, and then Version must move (the package comment says how).
func TestWireForm(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, blogevents.Version, "a new version needs new golden payloads next to the old ones")
	for _, tc := range []struct {
		file    string
		payload any
		decoded blogevents.Payload
	}{
		{"article.v1.json", article, &blogevents.Article{}},
		{"comment.v1.json", comment, &blogevents.Comment{}},
		{"favorite.v1.json", favorite, &blogevents.Favorite{}},
	} {
		want := golden(t, tc.file)
		b, err := json.Marshal(tc.payload)
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(b), tc.file)

		require.NoError(t, blogevents.Decode(want, tc.decoded), tc.file)
		require.Equal(t, tc.payload, deref(tc.decoded), tc.file)
	}
	require.Equal(t, []string{"blog.article.published", "blog.article.updated", "blog.article.deleted",
		"blog.article.unpublished", "blog.comment.added", "blog.comment.deleted",
		"blog.article.favorited", "blog.article.unfavorited"}, blogevents.Types())
}

// TestOlderPayloads: what producers wrote before the version field, and a
// payload with fields this build does not know, decode as version 1.
func TestOlderPayloads(t *testing.T) {
	t.Parallel()
	unversioned := article
	unversioned.Slug, unversioned.PreviousSlug, unversioned.Category = "how-to-train-your-dragon", "", ""
	for _, tc := range []struct {
		file    string
		want    any
		decoded blogevents.Payload
	}{
		{"article.unversioned.json", unversioned, &blogevents.Article{}},
		{"comment.unversioned.json", comment, &blogevents.Comment{}},
		{"favorite.unversioned.json", favorite, &blogevents.Favorite{}},
		{"article.v1-added-fields.json", unversioned, &blogevents.Article{}},
	} {
		require.NoError(t, blogevents.Decode(golden(t, tc.file), tc.decoded), tc.file)
		require.Equal(t, tc.want, deref(tc.decoded), tc.file)
	}
}

// TestNewerVersionRefused: a payload of a major version this build does not
// know is refused as such, even when its fields no longer fit the types.
func TestNewerVersionRefused(t *testing.T) {
	t.Parallel()
	for name, data := range map[string][]byte{
		"article.v2.json (retyped fields)": golden(t, "article.v2.json"),
		"version 2, same fields":           []byte(`{"version":2,"articleId":7,"slug":"s","authorId":3,"at":1}`),
	} {
		var a blogevents.Article
		err := blogevents.Decode(data, &a)
		require.ErrorIs(t, err, blogevents.ErrUnsupportedVersion, name)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`[]`, `{"articleId":"seven"}`, `{"version":-1}`, `not json`} {
		var a blogevents.Article
		err := blogevents.Decode([]byte(in), &a)
		require.Error(t, err, in)
		require.NotErrorIs(t, err, blogevents.ErrUnsupportedVersion, in)
	}
}

func deref(p blogevents.Payload) any {
	switch p := p.(type) {
	case *blogevents.Article:
		return *p
	case *blogevents.Comment:
		return *p
	case *blogevents.Favorite:
		return *p
	}
	return nil
}
