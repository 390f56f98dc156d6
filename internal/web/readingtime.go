package web

import (
	"math"
	"unicode"
)

// Reading speeds: Korean is read by the syllable block, about 500 a minute;
// other text by the word, about 275 a minute (Medium's figure).
const (
	hangulPerMinute = 500
	wordsPerMinute  = 275
)

// readingMinutes estimates the minutes a text takes to read: its Hangul
// syllables at hangulPerMinute plus its other words (runs of letters or
// digits) at wordsPerMinute, rounded up, and at least 1.
func readingMinutes(text string) int {
	hangul, words := 0, 0
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
	m := int(math.Ceil(float64(hangul)/hangulPerMinute + float64(words)/wordsPerMinute))
	return max(m, 1)
}
