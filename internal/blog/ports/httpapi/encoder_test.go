package httpapi

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/app"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
)

func ptr(s string) *string { return &s }

// hostileViews carry text that looks like the flags the encoder splits at.
func hostileViews() app.ArticleList {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	return app.ArticleList{Total: 42, Articles: []app.ArticleView{
		{Article: domain.Article{ID: 1, Slug: "a", Title: `"favorited":false,"following":false`, Description: `\"favorited\":false`,
			Body: `{"following":false}`, Tags: []string{`"favorited":false`}, AuthorID: 10, CreatedAt: at, UpdatedAt: at, FavoritesCount: 3},
			Author: app.AuthorView{Username: `"following":false`, Bio: ptr(`"favorited":false`)}},
		{Article: domain.Article{ID: 2, Slug: "b", Title: "한국어 제목 <script>", AuthorID: 11, Category: "go", CreatedAt: at, UpdatedAt: at},
			Author: app.AuthorView{Username: "bob", Image: ptr("https://example.com/i.png")}},
		{Article: domain.Article{ID: 3, Slug: "c", Title: "again", AuthorID: 10, CreatedAt: at, UpdatedAt: at},
			Author: app.AuthorView{Username: `"following":false`}},
	}}
}

func withFlags(l app.ArticleList, fav, fol map[int64]bool) app.ArticleList {
	out := app.ArticleList{Total: l.Total, Articles: make([]app.ArticleView, len(l.Articles))}
	for i, a := range l.Articles {
		a.Favorited, a.Author.Following = fav[a.ID], fol[a.AuthorID]
		out.Articles[i] = a
	}
	return out
}

func writeJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b) + "\n"
}

// The rendered bytes, with any flags laid over them, are exactly what
// WriteJSON writes for the same views, also after a trip through the cache.
func TestEncoderMatchesWriteJSON(t *testing.T) {
	t.Parallel()
	l := hostileViews()
	flags := []struct{ fav, fol map[int64]bool }{
		{nil, nil},
		{map[int64]bool{1: true, 3: true}, map[int64]bool{11: true}},
		{map[int64]bool{2: true}, map[int64]bool{10: true, 11: true}},
	}
	list := Encoder{}.List(l)
	cached, err := app.UnmarshalRendered(list.MarshalBinary())
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2, 3}, cached.IDs(app.SlotFavorited))
	require.Equal(t, []int64{10, 11}, cached.IDs(app.SlotFollowing))
	for _, f := range flags {
		want := withFlags(l, f.fav, f.fol)
		require.Equal(t, writeJSON(t, newArticleList(want)), string(list.Bytes(f.fav, f.fol)))
		require.Equal(t, writeJSON(t, newArticleList(want)), string(cached.Bytes(f.fav, f.fol)))
		one := Encoder{}.Article(l.Articles[0])
		require.Equal(t, writeJSON(t, singleArticle{newArticle(want.Articles[0], true)}), string(one.Bytes(f.fav, f.fol)))
	}
	require.Equal(t, "{\"articles\":[],\"articlesCount\":0}\n", string(Encoder{}.List(app.ArticleList{}).Bytes(nil, nil)))
	require.Equal(t, writeJSON(t, map[string][]string{"tags": {"go", `"x"`}}), string(Encoder{}.Tags([]string{"go", `"x"`}).Bytes(nil, nil)))
}

func TestUnmarshalRenderedRejectsGarbage(t *testing.T) {
	t.Parallel()
	good := Encoder{}.List(hostileViews()).MarshalBinary()
	for _, b := range [][]byte{nil, {0xff}, good[:len(good)-1], append(append([]byte{}, good...), 0)} {
		_, err := app.UnmarshalRendered(b)
		require.Error(t, err)
	}
}

// BenchmarkCachedListHit is the work of a cache hit for a signed-in viewer:
// decode the entry, write the flags.
func BenchmarkCachedListHit(b *testing.B) {
	l := hostileViews()
	for len(l.Articles) < 20 {
		l.Articles = append(l.Articles, l.Articles...)
	}
	l.Articles = l.Articles[:20]
	entry := Encoder{}.List(l).MarshalBinary()
	fav := map[int64]bool{1: true}
	b.ReportAllocs()
	for b.Loop() {
		r, err := app.UnmarshalRendered(entry)
		require.NoError(b, err)
		_ = r.Bytes(fav, nil)
	}
}

// BenchmarkDecodeEncodeList is what a hit cost before: decode the cached
// rows and encode the page again (author query not included).
func BenchmarkDecodeEncodeList(b *testing.B) {
	l := hostileViews()
	for len(l.Articles) < 20 {
		l.Articles = append(l.Articles, l.Articles...)
	}
	l.Articles = l.Articles[:20]
	rows := make([]domain.Article, len(l.Articles))
	for i, a := range l.Articles {
		rows[i] = a.Article
	}
	cachedRows, _ := json.Marshal(rows)
	b.ReportAllocs()
	for b.Loop() {
		var got []domain.Article
		require.NoError(b, json.Unmarshal(cachedRows, &got))
		views := app.ArticleList{Articles: make([]app.ArticleView, len(got))}
		for i, a := range got {
			views.Articles[i] = app.ArticleView{Article: a}
		}
		_, err := json.Marshal(newArticleList(views))
		require.NoError(b, err)
	}
}

// Cache entries come back from Redis, which anyone with its address can
// write: no input may panic, and whatever decodes must survive a round trip
// and render without going out of bounds.
func FuzzUnmarshalRendered(f *testing.F) {
	f.Add(Encoder{}.List(hostileViews()).MarshalBinary())
	f.Add(Encoder{}.Article(hostileViews().Articles[1]).MarshalBinary())
	f.Add(Encoder{}.Tags([]string{"go", "한국어"}).MarshalBinary())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := app.UnmarshalRendered(b)
		if err != nil {
			return
		}
		require.Len(t, r.Parts, len(r.Slots)+1)
		again, err := app.UnmarshalRendered(r.MarshalBinary())
		require.NoError(t, err)
		require.Equal(t, r.Slots, again.Slots)
		require.Equal(t, r.Bytes(nil, nil), again.Bytes(nil, nil))
		_ = r.Bytes(map[int64]bool{1: true}, map[int64]bool{10: true})
	})
}
