package sqlstore_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/blog/domain"
	"github.com/tungsten-blog/tungsten/internal/platform/database"
	"github.com/tungsten-blog/tungsten/internal/platform/testenv"
)

// The synthetic articles' words: a vocabulary of vocabSize made-up Korean
// words (two to four random syllables) and English-like ones, drawn by
// Zipf's law as words of real text are, with the measured queries' words
// placed at chosen ranks (0 is the most frequent), and a particle after most
// Korean words.
const vocabSize = 20_000

var placedWords = map[int]string{
	3: "the", 40: "모니터링", 120: "쿠버네티스", 300: "분산", 301: "추적", 900: "데이터베이스", 2000: "마이그레이션",
	4000: "jaeger", 5000: "kubernetes", 8000: "예거",
}

var koParticles = []string{"", "은", "는", "이", "가", "을", "를", "에", "에서", "으로", "와", "과", "의", "도", "만"}

func vocabulary(r *rand.Rand) []string {
	words := make([]string, vocabSize)
	for i := range words {
		if w, ok := placedWords[i]; ok {
			words[i] = w
			continue
		}
		var b strings.Builder
		if i%4 == 0 {
			for range 3 + r.IntN(6) {
				b.WriteByte(byte('a' + r.IntN(26)))
			}
		} else {
			for range 2 + r.IntN(3) {
				b.WriteRune(rune(0xAC00 + r.IntN(11172)))
			}
		}
		words[i] = b.String()
	}
	return words
}

type textGen struct {
	r     *rand.Rand
	zipf  *rand.Zipf
	words []string
}

func newTextGen(seed uint64) *textGen {
	r := rand.New(rand.NewPCG(seed, seed+1))
	return &textGen{r: r, zipf: rand.NewZipf(r, 1.1, 2, vocabSize-1), words: vocabulary(r)}
}

func (g *textGen) text(words int) string {
	var b strings.Builder
	for i := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := g.words[g.zipf.Uint64()]
		b.WriteString(w)
		if w[0] >= 0x80 && g.r.IntN(3) > 0 {
			b.WriteString(koParticles[g.r.IntN(len(koParticles))])
		}
		if g.r.IntN(12) == 0 {
			b.WriteString("습니다.")
		}
	}
	return b.String()
}

// seedArticles inserts n synthetic articles in bulk (bypassing the store,
// as rows written before the index existed would be) and returns how long
// Reindex took to index them.
func seedArticles(t *testing.T, f *fixture, n int) time.Duration {
	t.Helper()
	g := newTextGen(1)
	const rows = 500
	for start := 0; start < n; start += rows {
		var values []string
		var args []any
		for i := start; i < min(n, start+rows); i++ {
			p := len(args)
			values = append(values, fmt.Sprintf("($%d, $%d, $%d, $%d, 1, 'user1', $%d, $%d)", p+1, p+2, p+3, p+4, p+5, p+5))
			args = append(args, "s-"+strconv.Itoa(i), g.text(3+g.r.IntN(4)), g.text(8+g.r.IntN(8)),
				g.text(60+g.r.IntN(60)), int64(1_700_000_000_000+i))
		}
		_, err := f.db.ExecContext(f.ctx, `INSERT INTO articles (slug, title, description, body, author_id, author_username,
			created_at, updated_at) VALUES `+strings.Join(values, ", "), args...)
		require.NoError(t, err)
	}
	began := time.Now()
	indexed, err := f.store.Reindex(f.ctx)
	require.NoError(t, err)
	require.Equal(t, n, indexed)
	return time.Since(began)
}

// TestSearchLatency measures search latency on n synthetic articles on each
// engine, for n in TUNGSTEN_SEARCH_LATENCY_ARTICLES (comma-separated, e.g.
// "10000,100000"); without it the test is skipped, so `go test` stays quick.
// TUNGSTEN_SEARCH_LATENCY_ENGINES (e.g. "postgres") limits it to some engines.
// It prints a table (ADR 0015): each query's matches, and the median and
// slowest of its runs of a first page (20 results with snippets and count).
// `make search-latency` runs it.
func TestSearchLatency(t *testing.T) {
	sizes := os.Getenv("TUNGSTEN_SEARCH_LATENCY_ARTICLES")
	if sizes == "" {
		t.Skip("set TUNGSTEN_SEARCH_LATENCY_ARTICLES=10000[,100000] to measure search latency")
	}
	queries := []string{
		"예거",           // a rarer word
		"모니터링",         // common, with particles attached
		"쿠버",           // a prefix of a Korean word
		"쿠",            // one syllable: a prefix of bigrams
		"kube",         // an English prefix
		"the",          // in most articles
		"분산 추적 jaeger", // mixed, three terms
		"데이터베이스를 마이그레이션", // long phrases of bigrams
		"없는단어", // nothing matches
	}
	const runs = 15
	for _, field := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		require.NoError(t, err)
		for _, d := range testenv.Dialects {
			if only := os.Getenv("TUNGSTEN_SEARCH_LATENCY_ENGINES"); only != "" && !strings.Contains(only, string(d)) {
				continue
			}
			t.Run(fmt.Sprintf("%s/%d", d, n), func(t *testing.T) {
				f := newFixture(t, d)
				reindex := seedArticles(t, f, n)
				if d == database.Postgres {
					_, err := f.db.ExecContext(f.ctx, `ANALYZE articles`)
					require.NoError(t, err)
				}
				t.Logf("%s, %d articles: reindex %s", d, n, reindex.Round(time.Millisecond))
				for _, q := range queries {
					lq := domain.ListQuery{Terms: domain.SearchTerms(q), Limit: 20}
					var took []time.Duration
					var total int64
					for range runs {
						began := time.Now()
						p, err := f.store.ListArticles(f.ctx, lq)
						took = append(took, time.Since(began))
						require.NoError(t, err)
						total = p.Total
					}
					slices.Sort(took)
					t.Logf("| %s | %d | %s | %d | %s | %s |", d, n, q, total,
						took[len(took)/2].Round(10*time.Microsecond), took[len(took)-1].Round(10*time.Microsecond))
				}
			})
		}
	}
}
