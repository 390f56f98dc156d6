package httpapi

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/tungsten-blog/tungsten/internal/blog/app"
)

// Encoder renders the blog's read responses once for every viewer, with the
// viewer's flags left as slots (app.Rendered). It writes exactly the bytes
// WriteJSON would write for the same views.
type Encoder struct{}

var _ app.Encoder = Encoder{}

// The flag fields as encoding/json writes them with the value false. A JSON
// string never holds an unescaped quote, so these byte sequences occur in an
// encoded article only as its own keys: favorited once at the top level,
// following once inside author (TestEncoderHostileText).
var (
	favoritedFalse = []byte(`"favorited":false`)
	followingFalse = []byte(`"following":false`)
)

// article renders one article into r, splitting it at its two flags.
func (Encoder) article(r *app.Rendered, a app.ArticleView, withBody bool) {
	a.Favorited, a.Author.Following = false, false
	b, err := json.Marshal(newArticle(a, withBody))
	if err != nil {
		panic("encoding an article: " + err.Error()) // strings, numbers and bools only
	}
	i := bytes.Index(b, favoritedFalse)
	j := bytes.Index(b, followingFalse)
	if i < 0 || j < i {
		panic("encoded article lacks its flags: " + string(b))
	}
	r.Lit(b[:i+len(`"favorited":`)])
	r.Slot(app.SlotFavorited, a.ID)
	r.Lit(b[i+len(favoritedFalse) : j+len(`"following":`)])
	r.Slot(app.SlotFollowing, a.AuthorID)
	r.Lit(b[j+len(followingFalse):])
}

// List implements app.Encoder: {"articles":[...],"articlesCount":n}.
func (e Encoder) List(l app.ArticleList) app.Rendered {
	var r app.Rendered
	r.Lit([]byte(`{"articles":[`))
	for i, a := range l.Articles {
		if i > 0 {
			r.Lit([]byte(","))
		}
		e.article(&r, a, false)
	}
	r.Lit([]byte(`],"articlesCount":` + strconv.FormatInt(l.Total, 10) + "}\n"))
	return r
}

// Article implements app.Encoder: {"article":{...}} with the body.
func (e Encoder) Article(a app.ArticleView) app.Rendered {
	var r app.Rendered
	r.Lit([]byte(`{"article":`))
	e.article(&r, a, true)
	r.Lit([]byte("}\n"))
	return r
}

// Tags implements app.Encoder: {"tags":[...]}.
func (Encoder) Tags(tags []string) app.Rendered {
	if tags == nil {
		tags = []string{}
	}
	b, err := json.Marshal(map[string][]string{"tags": tags})
	if err != nil {
		panic("encoding tags: " + err.Error())
	}
	var r app.Rendered
	r.Lit(append(b, '\n'))
	return r
}
