package domain

import (
	"strings"
	"testing"
	"unicode/utf8"
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
		if got := Slugify(tt.in); got != tt.want {
			t.Errorf("Slugify(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSlugifyBounded(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ab ", 100)
	got := Slugify(long)
	if n := utf8.RuneCountInString(got); n > MaxSlugRunes {
		t.Fatalf("slug has %d runes, want <= %d", n, MaxSlugRunes)
	}
	if strings.HasSuffix(got, "-") {
		t.Fatalf("slug %q ends with a dash", got)
	}
	if got := Slugify(strings.Repeat("ж", 150)); utf8.RuneCountInString(got) != MaxSlugRunes {
		t.Fatalf("long word: got %d runes", utf8.RuneCountInString(got))
	}
}

func TestSuffixedSlug(t *testing.T) {
	t.Parallel()
	base := Slugify(strings.Repeat("word ", 40))
	a, b := SuffixedSlug(base), SuffixedSlug(base)
	if a == b {
		t.Fatalf("two suffixes are equal: %q", a)
	}
	for _, s := range []string{a, b, SuffixedSlug("feed")} {
		if !IsValidSlug(s) {
			t.Errorf("SuffixedSlug gave invalid slug %q", s)
		}
		if !SlugFitsTitle(s, strings.Repeat("word ", 40)) && !strings.HasPrefix(s, "feed-") {
			t.Errorf("SlugFitsTitle(%q) = false", s)
		}
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
		if got := SlugFitsTitle(tt.slug, tt.title); got != tt.want {
			t.Errorf("SlugFitsTitle(%q, %q) = %v, want %v", tt.slug, tt.title, got, tt.want)
		}
	}
}

func FuzzSlugify(f *testing.F) {
	for _, s := range []string{"How to train your dragon", "Über", "東京", "हिन्दी", "\u0301x", "a\x00b", "\xff\xfe", "--", strings.Repeat("é ", 80)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		s := Slugify(title)
		if !utf8.ValidString(s) {
			t.Fatalf("Slugify(%q) = %q: invalid UTF-8", title, s)
		}
		if s == "" {
			t.Fatalf("Slugify(%q) is empty", title)
		}
		if n := utf8.RuneCountInString(s); n > MaxSlugRunes {
			t.Fatalf("Slugify(%q) has %d runes", title, n)
		}
		if !IsValidSlug(s) {
			t.Fatalf("Slugify(%q) = %q holds a rune it should not", title, s)
		}
		if again := Slugify(s); again != s {
			t.Fatalf("not idempotent: Slugify(%q) = %q, Slugify(that) = %q", title, s, again)
		}
		if !SlugFitsTitle(s, title) {
			t.Fatalf("SlugFitsTitle(Slugify(%q)) = false", title)
		}
	})
}
