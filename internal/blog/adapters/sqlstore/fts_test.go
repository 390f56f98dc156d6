package sqlstore_test

import (
	"strings"
	"testing"

	"github.com/tungsten-blog/tungsten/internal/blog/adapters/sqlstore"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
)

func TestFTS5Query(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		terms []string
		want  string
	}{
		{[]string{"a"}, `"a"`},
		{[]string{"a", "b"}, `"a" "b"`},
		{[]string{`x"y`}, `"x""y"`},
		{[]string{"or", "near"}, `"or" "near"`},
	} {
		if got := sqlstore.FTS5Query(tt.terms); got != tt.want {
			t.Errorf("FTS5Query(%q) = %s, want %s", tt.terms, got, tt.want)
		}
	}
}

// FuzzSearchQuery feeds arbitrary user queries through the query builder
// into a real SQLite FTS5 index: no input may make the query fail, and an
// article holding a term is found by it.
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{`"`, `*`, `OR`, `(`, `a OR b`, `NEAR(a b, 2)`, `title:x`, `-x`, `^x`, `x*`, `"unterminated`,
		`a AND (b OR NOT c)`, "\x00", "\xff", "Über 東京", strings.Repeat("a ", 300), `""""`, `{a b}`, `a + b`} {
		f.Add(s)
	}
	fx := newFixture(f, database.SQLite)
	seed := fx.create("Seed", 1, nil, "")
	f.Fuzz(func(t *testing.T, q string) {
		terms := domain.SearchTerms(q)
		if len(terms) == 0 {
			return
		}
		p, err := fx.store.ListArticles(t.Context(), domain.ListQuery{Terms: terms, Limit: 5})
		if err != nil {
			t.Fatalf("search %q (terms %q): %v", q, terms, err)
		}
		for _, a := range p.Articles {
			if a.ID == seed.ID && !strings.Contains(strings.ToLower("Seed about Seed body of Seed"), terms[0]) {
				t.Fatalf("search %q found the seed article", q)
			}
		}
	})
}
