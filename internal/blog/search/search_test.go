package search_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/blog/search"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"모니터링을 구축", []string{"모니", "니터", "터링", "링을", "구축"}},
		{"글 a", []string{"글", "a"}},
		{"Kubernetes와 Grafana", []string{"kubernetes", "와", "grafana"}},
		{"k8s쿠버네티스", []string{"k8s", "쿠버", "버네", "네티", "티스"}},
		{"東京タワー", []string{"東京", "京タ", "タワ", "ワー"}},
		{"Über-Straße, v1.2", []string{"über", "straße", "v1", "2"}},
		{"e\u0301t\u00e9", []string{"e\u0301t\u00e9"}}, // marks stay with their letter
		{`"OR" (NEAR) *`, []string{"or", "near"}},
		{"", nil},
		{"\xff\xfe", nil},
	} {
		require.Equal(t, tt.want, search.Tokens(tt.in), "Tokens(%q)", tt.in)
	}
	long := strings.Repeat("a", 100)
	require.Equal(t, []string{strings.Repeat("a", search.MaxTokenRunes)}, search.Tokens(long))
}

func TestQueries(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		q         string
		fts5, tsq string
	}{
		{"모니터링", `"모니 니터 터링"`, `('모니' <-> '니터' <-> '터링')`},
		{"예거", `"예거"`, `'예거'`},
		{"쿠", `"쿠" *`, `'쿠':*`},
		{"kube", `"kube" *`, `'kube':*`},
		{"c", `"c"`, `'c'`},
		{"그라파나 Prom", `"그라 라파 파나" "prom" *`, `('그라' <-> '라파' <-> '파나') & 'prom':*`},
		{"github의", `"github" * "의" *`, `'github':* & '의':*`},
	} {
		terms := domain.SearchTerms(tt.q)
		require.Equal(t, tt.fts5, search.FTS5Match(terms), "FTS5Match(%q)", tt.q)
		require.Equal(t, tt.tsq, search.TSQuery(terms), "TSQuery(%q)", tt.q)
	}
}

func TestTSVector(t *testing.T) {
	t.Parallel()
	require.Equal(t, `'예거':1A,5C 'go':3B '거를':6C`, search.TSVector("예거", "Go", "예거를"))
	require.Empty(t, search.TSVector("", "", "!!"))
}

func TestSnippet(t *testing.T) {
	t.Parallel()
	body := "프로메테우스와 그라파나로 모니터링을 구축했습니다. 분산 추적은 예거를 사용합니다."
	marked := func(parts []search.Part) (all string, matched []string) {
		for _, p := range parts {
			all += p.Text
			if p.Match {
				matched = append(matched, p.Text)
			}
		}
		return all, matched
	}
	all, m := marked(search.Snippet(domain.SearchTerms("모니터링 예거"), body, "설명", "제목"))
	require.Equal(t, body, all)
	require.Equal(t, []string{"모니터링", "예거"}, m)

	_, m = marked(search.Snippet(domain.SearchTerms("kube"), "Running Kubernetes, kubectl and minikube", "", ""))
	require.Equal(t, []string{"Kubernetes", "kubectl"}, m) // words the term starts, not "minikube"

	// The first field with a match gives the snippet; none: the first non-empty one, unmarked.
	all, m = marked(search.Snippet(domain.SearchTerms("제목"), "본문", "", "제목입니다"))
	require.Equal(t, "제목입니다", all)
	require.Equal(t, []string{"제목"}, m)
	all, m = marked(search.Snippet(domain.SearchTerms("없는말"), "", "설명", "제목"))
	require.Equal(t, "설명", all)
	require.Empty(t, m)
	require.Nil(t, search.Snippet(domain.SearchTerms("x"), "", " \n", ""))

	// A long body is cut around the first match, on a space where it can be.
	long := strings.Repeat("가나다 ", 100) + "예거를 " + strings.Repeat("라마바 ", 100)
	parts := search.Snippet(domain.SearchTerms("예거"), long)
	all, m = marked(parts)
	require.Equal(t, []string{"예거"}, m)
	require.True(t, strings.HasPrefix(all, "…가나다 "), all)
	require.True(t, strings.HasSuffix(all, "…"), all)
	require.LessOrEqual(t, utf8.RuneCountInString(all), search.SnippetRunes+2)
}

// matchModel is what FTS5 and PostgreSQL do with the analysis, in Go: every
// segment's tokens occur consecutively among the document's tokens, the
// last one as a prefix when the segment says so.
func matchModel(doc []string, segs []search.Segment) bool {
	for _, s := range segs {
		found := false
		for i := 0; i+len(s.Tokens) <= len(doc) && !found; i++ {
			ok := true
			for k, tok := range s.Tokens {
				d := doc[i+k]
				if s.Prefix && k == len(s.Tokens)-1 {
					ok = ok && strings.HasPrefix(d, tok)
				} else {
					ok = ok && d == tok
				}
			}
			found = ok
		}
		if !found {
			return false
		}
	}
	return true
}

// FuzzAnalysis checks the analysis that both engines rely on: index tokens
// are what the ascii tokenizer and a tsvector keep whole (no ASCII
// separator, no quote), a document matches a query made of its own words,
// the snippet of such a query marks something and never invents text, and
// the FTS5 expression is quoted groups (each optionally starred) whatever
// the user typed, so nothing acts as FTS5 syntax.
func FuzzAnalysis(f *testing.F) {
	for _, s := range []string{"프로메테우스와 그라파나로 모니터링을 구축했습니다.", `"`, `*`, `OR`, `(`, `a OR b`,
		`NEAR(a b, 2)`, `title:x`, `-x`, `^x`, `x*`, `"unterminated`, "\x00", "\xff", "Über 東京", "k8s쿠버",
		strings.Repeat("가 ", 300), `""""`, `{a b}`, "e\u0301", "\u0301\u0301", "ᄀᄁ", "İstanbul"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, text, q string) {
		doc := search.Tokens(text)
		for _, tok := range doc {
			require.NotEmpty(t, tok, "empty token from %q", text)
			for _, r := range tok {
				require.False(t, r < utf8.RuneSelf && !('a' <= r && r <= 'z' || '0' <= r && r <= '9'), "token %q from %q holds %q", tok, text, r)
			}
		}
		if len(doc) > 0 {
			require.Equal(t, doc, strings.Fields(search.Normalize(text)), "Normalize(%q) splits as the tokens", text)
		}
		own := domain.SearchTerms(text)
		if len(own) > 0 {
			require.True(t, matchModel(doc, search.Segments(own)), "%q does not match its own words %q", text, own)
		}
		if len(own) > 0 {
			parts := search.Snippet(own, text)
			hit := false
			for _, p := range parts {
				hit = hit || p.Match
				piece := strings.TrimSuffix(strings.TrimPrefix(p.Text, "…"), "…")
				require.Contains(t, strings.Join(strings.Fields(strings.ToValidUTF8(text, " ")), " "), piece, "snippet part %q not in %q", p.Text, text)
			}
			require.True(t, hit, "snippet of %q for its own words %q marks nothing: %+v", text, own, parts)
		}
		terms := domain.SearchTerms(q)
		require.LessOrEqual(t, len(terms), domain.MaxSearchTerms, "terms from %q", q)
		expr := search.FTS5Match(terms)
		i := 0
		for i < len(expr) {
			require.Equal(t, byte('"'), expr[i], "expression %q for %q: expected a quote at %d", expr, q, i)
			end := strings.IndexByte(expr[i+1:], '"')
			require.GreaterOrEqual(t, end, 0, "expression %q for %q: unterminated string", expr, q)
			i += end + 2
			if strings.HasPrefix(expr[i:], " *") {
				i += 2
			}
			if i < len(expr) {
				require.True(t, expr[i] == ' ' && i+1 < len(expr), "expression %q for %q: expected a space and more at %d", expr, q, i)
				i++
			}
		}
		tsq := search.TSQuery(terms)
		require.Zero(t, strings.Count(tsq, "'")%2, "tsquery %q for %q: unbalanced quotes", tsq, q)
	})
}
