package domain

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlugify(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"How to train your dragon", "how-to-train-your-dragon"},
		{"  Hello,   World!  ", "hello-world"},
		{"Go 1.26 is out", "go-1-26-is-out"},
		{"Über Ärger", "über-ärger"},
		{"Привет, мир", "привет-мир"},
		{"東京タワー 2024", "東京タワー-2024"},
		{"हिन्दी भाषा", "हिन्दी-भाषा"}, // combining vowel signs stay with their letters
		{"café au lait", "café-au-lait"},
		{"cafe\u0301", "cafe\u0301"}, // decomposed accent kept
		{"\u0301leading mark", "leading-mark"},
		{"emoji 🐉 dragons", "emoji-dragons"},
		{"---", "article"},
		{"", "article"},
		{"🐉🐉", "article"},
		{"a--b__c", "a-b-c"},
		{"ÀÉÎ", "àéî"},
		{"İstanbul", "istanbul"},
		{"Feed", "feed"}, // reserved: the store adds a suffix
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Slugify(tt.in), "Slugify(%q)", tt.in)
	}
}

func TestSlugifyBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ab ", 100)
	got := Slugify(long)
	require.LessOrEqual(t, utf8.RuneCountInString(got), MaxSlugRunes, "runes of %q", got)
	require.False(t, strings.HasSuffix(got, "-"), "slug %q ends with a dash", got)
	require.Equal(t, MaxSlugRunes, utf8.RuneCountInString(Slugify(strings.Repeat("ж", 150))), "long word: runes")
}

func TestSuffixedSlug(t *testing.T) {
	t.Parallel()
	base := Slugify(strings.Repeat("word ", 40))
	a, b := SuffixedSlug(base), SuffixedSlug(base)
	require.NotEqual(t, a, b, "two suffixes are equal")
	for _, s := range []string{a, b, SuffixedSlug("feed")} {
		assert.True(t, IsValidSlug(s), "SuffixedSlug gave invalid slug %q", s)
		assert.True(t, SlugFitsTitle(s, strings.Repeat("word ", 40)) || strings.HasPrefix(s, "feed-"), "SlugFitsTitle(%q) = false", s)
	}
}

func TestSlugFitsTitle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		slug, title string
		want        bool
	}{
		{"hello-world", "Hello World", true},
		{"hello-world", "HELLO, world!", true},
		{"hello-world-abc123", "Hello World", true},
		{"hello-world-abc12", "Hello World", false},
		{"hello-world-ABC123", "Hello World", false},
		{"hello-world", "Goodbye World", false},
		{"hello-world-abc123-def456", "Hello World", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, SlugFitsTitle(tt.slug, tt.title), "SlugFitsTitle(%q, %q)", tt.slug, tt.title)
	}
}

func FuzzSlugify(f *testing.F) {
	for _, s := range []string{"How to train your dragon", "Über", "東京", "हिन्दी", "\u0301x", "a\x00b", "\xff\xfe", "--", strings.Repeat("é ", 80)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		s := Slugify(title)
		require.True(t, utf8.ValidString(s), "Slugify(%q) = %q: invalid UTF-8", title, s)
		require.NotEmpty(t, s, "Slugify(%q) is empty", title)
		require.LessOrEqual(t, utf8.RuneCountInString(s), MaxSlugRunes, "Slugify(%q) runes", title)
		require.True(t, IsValidSlug(s), "Slugify(%q) = %q holds a rune it should not", title, s)
		require.Equal(t, s, Slugify(s), "not idempotent: Slugify(%q) = %q, then Slugify(that)", title, s)
		require.True(t, SlugFitsTitle(s, title), "SlugFitsTitle(Slugify(%q)) = false", title)
	})
}
