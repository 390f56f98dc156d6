package search_test

import (
	"strings"
	"testing"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/blog/search"
)

// BenchmarkSnippetWorst is the costliest snippet an author and a query can
// arrange together: a 10,000-rune body of one repeated syllable (the most a
// search page loads of a body) and a 200-rune query of 16 terms that all
// match everywhere. A page costs at most max-limit times this.
func BenchmarkSnippetWorst(b *testing.B) {
	body := strings.Repeat("가", 10_000)
	var qs []string
	for i := 2; i <= 17; i++ {
		qs = append(qs, strings.Repeat("가", i*4-1))
	}
	terms := domain.SearchTerms(strings.Join(qs, " "))
	for b.Loop() {
		search.Snippet(terms, body)
	}
}

// BenchmarkTSVector100k analyses the longest body an article may have.
func BenchmarkTSVector100k(b *testing.B) {
	body := strings.Repeat("프로메테우스와 그라파나로 모니터링을 구축했습니다 Kubernetes ", 100_000/40)
	for b.Loop() {
		search.TSVector("제목", "설명", body)
	}
}
