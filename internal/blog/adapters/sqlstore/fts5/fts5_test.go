package fts5_test

import (
	"strings"
	"testing"

	"github.com/tungsten-blog/tungsten/internal/blog/adapters/sqlstore/fts5"
	"github.com/tungsten-blog/tungsten/internal/blog/domain"
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
		if got := fts5.Match(tt.terms); got != tt.want {
			t.Errorf("Match(%q) = %s, want %s", tt.terms, got, tt.want)
		}
	}
}

// FuzzSearchQuery checks that no user query can smuggle FTS5 syntax: the
// expression built from its terms is always a sequence of quoted strings
// whose quotes balance, bounded in size. (The contract suite runs the nasty
// inputs against a real FTS5 index: fuzzing through the pure-Go SQLite
// engine stalls, its coverage map being far larger than ours.)
func FuzzSearchQuery(f *testing.F) {
	for _, s := range []string{`"`, `*`, `OR`, `(`, `a OR b`, `NEAR(a b, 2)`, `title:x`, `-x`, `^x`, `x*`, `"unterminated`,
		`a AND (b OR NOT c)`, "\x00", "\xff", "Über 東京", strings.Repeat("a ", 300), `""""`, `{a b}`, `a + b`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		terms := domain.SearchTerms(q)
		if len(terms) > domain.MaxSearchTerms {
			t.Fatalf("%d terms from %q", len(terms), q)
		}
		expr := fts5.Match(terms)
		if len(terms) == 0 {
			return
		}
		// Walk the expression: "..." groups separated by single spaces,
		// inner quotes doubled.
		i, groups := 0, 0
		for i < len(expr) {
			if expr[i] != '"' {
				t.Fatalf("expression %q for %q: expected a quote at %d", expr, q, i)
			}
			i++
			for {
				if i >= len(expr) {
					t.Fatalf("expression %q for %q: unterminated string", expr, q)
				}
				if expr[i] == '"' {
					if i+1 < len(expr) && expr[i+1] == '"' {
						i += 2
						continue
					}
					i++
					break
				}
				i++
			}
			groups++
			if i < len(expr) {
				if expr[i] != ' ' {
					t.Fatalf("expression %q for %q: expected a space at %d", expr, q, i)
				}
				i++
			}
		}
		if groups != len(terms) {
			t.Fatalf("expression %q has %d groups for %d terms", expr, groups, len(terms))
		}
	})
}
