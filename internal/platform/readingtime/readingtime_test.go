package readingtime

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMinutes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		text string
		want int
	}{
		{"empty is one minute", "", 1},
		{"a few words", "Hello, world.", 1},
		{"275 words is one minute", strings.Repeat("word ", 275), 1},
		{"276 words is two", strings.Repeat("word ", 276), 2},
		{"825 words is three", strings.Repeat("word, ", 825), 3},
		{"500 Hangul syllables is one minute", strings.Repeat("모니터링 ", 125), 1},
		{"1,500 Hangul syllables is three", strings.Repeat("가나다라마바사아자차 ", 150), 3},
		{"mixed: 1,000 syllables and 275 words", strings.Repeat("가나다라마바사아자차 ", 100) + strings.Repeat("Grafana ", 275), 3},
		{"punctuation and markup are not words", strings.Repeat("- ** # > ` ", 1000), 1},
		{"jamo and compatibility jamo are Hangul", strings.Repeat("ㅋ", 1001), 3},
		{"fenced code is not counted", "intro\n```go\n" + strings.Repeat("word ", 1000) + "\n```\noutro\n", 1},
		{"tilde fences too, closed by a longer run", "~~~\n" + strings.Repeat("가나다 ", 1000) + "\n~~~~\n" + strings.Repeat("word ", 276), 2},
		{"an unclosed fence runs to the end", "a\n````\n" + strings.Repeat("word ", 1000) + "\n```\n", 1},
		{"indented four spaces is not a fence", "    ```\n" + strings.Repeat("word ", 276), 2},
		{"inline backticks are counted", "``` not a fence ` here\n" + strings.Repeat("word ", 276), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Minutes(tc.text))
		})
	}
}
