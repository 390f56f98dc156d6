package search

import (
	"strings"
	"unicode/utf8"
)

// Part is a piece of a snippet; Match marks the text a query term matched.
type Part struct {
	Text  string
	Match bool
}

// Snippet lengths, in runes: the window shown, and how much of it comes
// before the first match.
const (
	SnippetRunes  = 160
	snippetBefore = 40
)

// Snippet returns a short excerpt of the first field holding a match of the
// terms, its matches marked, as parts to escape and render (never HTML):
// where a CJK segment occurs (anywhere, "모니터링" in "모니터링을"), and the
// words a Latin segment starts. With no match (it may lie past the part of a
// long body the caller loaded) it is the start of the first non-empty field,
// unmarked; nil when every field is empty. Whitespace runs become one space.
// Its cost is linear in the fields' length times the number of segments.
func Snippet(terms []string, fields ...string) []Part {
	segs := Segments(terms)
	var firstText []rune
	for _, f := range fields {
		if !utf8.ValidString(f) {
			f = strings.ToValidUTF8(f, " ")
		}
		text := []rune(strings.Join(strings.Fields(f), " "))
		if len(text) == 0 {
			continue
		}
		if firstText == nil {
			firstText = text
		}
		rs := runs(text)
		for i := range rs {
			rs[i].text = string(rs[i].runes)
		}
		if at := firstMatch(rs, segs); at >= 0 {
			start, end := bounds(text, at)
			mask := make([]bool, len(text))
			for _, r := range rs {
				if r.start < end && r.start+len(r.runes) > start {
					markRun(mask, r, segs, start, end)
				}
			}
			return cut(text, mask, start, end)
		}
	}
	if firstText == nil {
		return nil
	}
	start, end := bounds(firstText, -1)
	return cut(firstText, make([]bool, len(firstText)), start, end)
}

// occurrences calls fn with the rune offset in r of each place the segment
// matches (for a Latin segment: the whole run, at 0) until fn returns false.
func occurrences(r run, s Segment, fn func(at, n int) bool) {
	needle := segmentRunes(s)
	if s.CJK != r.cjk || len(needle) == 0 || len(needle) > len(r.runes) {
		return
	}
	if !s.CJK {
		word := r.runes[:min(len(r.runes), MaxTokenRunes)]
		if s.Prefix && equalRunes(word[:min(len(word), len(needle))], needle) || !s.Prefix && equalRunes(word, needle) {
			fn(0, len(r.runes))
		}
		return
	}
	hay, n := r.text, string(needle)
	off, runeOff := 0, 0
	for {
		i := strings.Index(hay[off:], n)
		if i < 0 {
			return
		}
		runeOff += utf8.RuneCountInString(hay[off : off+i])
		if !fn(runeOff, len(needle)) {
			return
		}
		_, size := utf8.DecodeRuneInString(hay[off+i:])
		off += i + size
		runeOff++
	}
}

// firstMatch returns the rune position of the first match in text's runs,
// -1 for none.
func firstMatch(rs []run, segs []Segment) int {
	first := -1
	for _, s := range segs {
		for _, r := range rs {
			if first >= 0 && r.start >= first {
				break
			}
			found := false
			occurrences(r, s, func(at, _ int) bool {
				if first < 0 || r.start+at < first {
					first = r.start + at
				}
				found = true
				return false
			})
			if found {
				break
			}
		}
	}
	return first
}

// markRun marks the matches of the segments in run r that fall in [start, end).
func markRun(mask []bool, r run, segs []Segment, start, end int) {
	for _, s := range segs {
		occurrences(r, s, func(at, n int) bool {
			if r.start+at >= end {
				return false
			}
			for k := r.start + at; k < r.start+at+n; k++ {
				if k >= start && k < end {
					mask[k] = true
				}
			}
			return true
		})
	}
}

// segmentRunes rebuilds the characters a segment stands for from its tokens.
func segmentRunes(s Segment) []rune {
	if len(s.Tokens) == 0 {
		return nil
	}
	out := []rune(s.Tokens[0])
	for _, t := range s.Tokens[1:] {
		rs := []rune(t)
		out = append(out, rs[len(rs)-1])
	}
	return out
}

func equalRunes(a, b []rune) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// bounds returns the SnippetRunes-long window of text around position at
// (-1: from the start), preferring to start after a space.
func bounds(text []rune, at int) (start, end int) {
	if at > snippetBefore {
		start = at - snippetBefore
		for i := start; i < at && i < start+15; i++ {
			if text[i] == ' ' {
				start = i + 1
				break
			}
		}
	}
	return start, min(len(text), start+SnippetRunes)
}

// cut returns text[start:end] as parts, with "…" where it cut.
func cut(text []rune, mask []bool, start, end int) []Part {
	var parts []Part
	add := func(s string, m bool) {
		if n := len(parts); n > 0 && parts[n-1].Match == m {
			parts[n-1].Text += s
			return
		}
		parts = append(parts, Part{Text: s, Match: m})
	}
	if start > 0 {
		add("…", false)
	}
	for i := start; i < end; {
		j := i
		for j < end && mask[j] == mask[i] {
			j++
		}
		add(string(text[i:j]), mask[i])
		i = j
	}
	if end < len(text) {
		add("…", false)
	}
	return parts
}
