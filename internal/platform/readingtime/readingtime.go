// Package readingtime estimates how long an article's Markdown takes to
// read. It is pure so that the blog (which stores the figure for its lists)
// and the web UI (which shows it on the article page) count alike.
package readingtime

import (
	"math"
	"strings"
	"unicode"
)

// Reading speeds: Korean is read by the syllable block, about 500 a minute;
// other text by the word, about 275 a minute (Medium's figure).
const (
	HangulPerMinute = 500
	WordsPerMinute  = 275
)

// Minutes estimates the minutes a Markdown text takes to read: its Hangul
// syllables at HangulPerMinute plus its other words (runs of letters or
// digits) at WordsPerMinute, rounded up, and at least 1. Fenced code blocks
// are not counted: code is skimmed or copied, not read word by word.
func Minutes(markdown string) int {
	hangul, words := count(withoutFencedCode(markdown))
	m := int(math.Ceil(float64(hangul)/HangulPerMinute + float64(words)/WordsPerMinute))
	return max(m, 1)
}

func count(text string) (hangul, words int) {
	inWord := false
	for _, r := range text {
		switch {
		case unicode.Is(unicode.Hangul, r):
			hangul++
			inWord = false
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if !inWord {
				words++
				inWord = true
			}
		default:
			inWord = false
		}
	}
	return hangul, words
}

// withoutFencedCode drops the lines of fenced code blocks (CommonMark: a
// run of at least three ` or ~ indented at most three spaces, closed by a
// run of the same character at least as long; unclosed runs to the end).
func withoutFencedCode(text string) string {
	var b strings.Builder
	var fence string // the open fence's run, "" outside a block
	for line := range strings.Lines(text) {
		run := fenceRun(line)
		switch {
		case fence == "" && run != "":
			fence = run
		case fence != "":
			if run != "" && run[0] == fence[0] && len(run) >= len(fence) &&
				strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), run[:1])) == "" {
				fence = ""
			}
		default:
			b.WriteString(line)
		}
	}
	return b.String()
}

// fenceRun is the run of ` or ~ a line starts with, when it can open or
// close a fence; "" otherwise.
func fenceRun(line string) string {
	trimmed := strings.TrimLeft(line, " ")
	if len(line)-len(trimmed) > 3 || len(trimmed) < 3 || (trimmed[0] != '`' && trimmed[0] != '~') {
		return ""
	}
	n := 0
	for n < len(trimmed) && trimmed[n] == trimmed[0] {
		n++
	}
	if n < 3 || (trimmed[0] == '`' && strings.Contains(trimmed[n:], "`")) {
		return ""
	}
	return trimmed[:n]
}
