// Package search is the blog's text analysis for full-text search: one
// normalization, written in Go, that both engines index and query, so that
// SQLite (FTS5) and PostgreSQL (tsvector) agree on what matches (ADR 0015).
//
// Text is cut into runs of letters, digits and combining marks, lower-cased
// rune by rune. Runs of CJK script (Hangul, Han, kana) become overlapping
// character bigrams, or the lone character for a one-character run, because
// Korean attaches particles and endings to words ("모니터링을") and writes
// compounds without spaces; other runs stay whole words. A query term is cut
// the same way: a CJK segment must appear as consecutive bigrams (a phrase),
// so "모니터링" finds "모니터링을" and "쿠버" finds "쿠버네티스"; a word of two
// or more characters matches as a prefix ("kube" finds "kubernetes").
// It depends on nothing but the standard library and does no I/O.
package search

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTokenRunes cuts long words (a URL, a hash) in the index and in queries
// alike, so a query term cut the same way still matches.
const MaxTokenRunes = 64

// Segment is one script run of a query term.
type Segment struct {
	Tokens []string // the index tokens of the run, in order
	CJK    bool
	Prefix bool // the last token may be a prefix of an indexed one
}

// isWordRune reports whether r belongs to a word: letters, decimal digits
// and the combining marks that follow them (as domain.SearchTerms splits).
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.In(r, unicode.Mn, unicode.Mc)
}

// isCJK reports whether r is written without spaces between words: Hangul
// (between the particles), Han, kana and the kana length mark.
func isCJK(r rune) bool {
	return unicode.In(r, unicode.Hangul, unicode.Han, unicode.Hiragana, unicode.Katakana) || r == 'ー' || r == 'ｰ'
}

func isMark(r rune) bool { return unicode.In(r, unicode.Mn, unicode.Mc) }

// run is one script run of text: its lower-cased runes and where they start
// in the text's rune sequence.
type run struct {
	runes []rune
	text  string // string(runes), set by Snippet only
	start int
	cjk   bool
}

// runs cuts text (as runes) into script runs of word characters. A mark
// stays with the run it follows.
func runs(text []rune) []run {
	var out []run
	var cur *run
	for i, r := range text {
		if !isWordRune(r) {
			cur = nil
			continue
		}
		cjk := isCJK(r)
		if cur != nil && (cjk == cur.cjk || isMark(r)) {
			cur.runes = append(cur.runes, unicode.ToLower(r))
			continue
		}
		out = append(out, run{runes: []rune{unicode.ToLower(r)}, start: i, cjk: cjk})
		cur = &out[len(out)-1]
	}
	return out
}

// tokens returns the index tokens of one run.
func (r run) tokens() []string {
	rs := r.runes
	if !r.cjk {
		if len(rs) > MaxTokenRunes {
			rs = rs[:MaxTokenRunes]
		}
		return []string{string(rs)}
	}
	if len(rs) == 1 {
		return []string{string(rs)}
	}
	out := make([]string, 0, len(rs)-1)
	for i := 0; i+1 < len(rs); i++ {
		out = append(out, string(rs[i:i+2]))
	}
	return out
}

// Tokens returns the index tokens of text, in order. Every token is
// non-empty, lower-case, and made of letters, digits and marks only.
func Tokens(text string) []string {
	if !utf8.ValidString(text) {
		text = strings.ToValidUTF8(text, " ")
	}
	var out []string
	for _, r := range runs([]rune(text)) {
		out = append(out, r.tokens()...)
	}
	return out
}

// Normalize returns the text an FTS5 table with the ascii tokenizer indexes:
// the tokens of text separated by single spaces. That tokenizer splits on
// ASCII separators only and keeps every non-ASCII character, so it finds
// exactly these tokens again.
func Normalize(text string) string { return strings.Join(Tokens(text), " ") }

// Segments returns what the query terms ask for: one segment per script run
// of each term. A CJK run matches as its bigrams in sequence (a lone
// character as a prefix of a token: "쿠" finds "쿠버"); another run of two or
// more characters as a word prefix, a one-character one as a whole word
// (a prefix that short would list most of the index).
func Segments(terms []string) []Segment {
	var out []Segment
	for _, t := range terms {
		if !utf8.ValidString(t) {
			t = strings.ToValidUTF8(t, " ")
		}
		for _, r := range runs([]rune(t)) {
			seg := Segment{Tokens: r.tokens(), CJK: r.cjk}
			seg.Prefix = r.cjk && len(r.runes) == 1 || !r.cjk && len(r.runes) >= 2
			out = append(out, seg)
		}
	}
	return out
}

// FTS5Match turns query terms into an FTS5 expression: every segment a
// quoted phrase (inner quotes doubled, though tokens hold none), a prefix
// one followed by a star, all of them required. Nothing the user typed can
// act as FTS5 syntax. "" when the terms hold no token.
func FTS5Match(terms []string) string {
	var b strings.Builder
	for _, s := range Segments(terms) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(strings.Join(s.Tokens, " "), `"`, `""`))
		b.WriteByte('"')
		if s.Prefix {
			b.WriteString(" *")
		}
	}
	return b.String()
}

// tsLexeme quotes a token as a tsvector/tsquery lexeme.
func tsLexeme(tok string) string {
	tok = strings.ReplaceAll(tok, `\`, `\\`)
	return "'" + strings.ReplaceAll(tok, "'", "''") + "'"
}

// TSQuery turns query terms into a PostgreSQL tsquery literal with the same
// meaning as FTS5Match: segments ANDed, a CJK segment's bigrams in sequence
// (<->), a prefix segment's last lexeme with :*. "" when there is no token.
func TSQuery(terms []string) string {
	var b strings.Builder
	for _, s := range Segments(terms) {
		if b.Len() > 0 {
			b.WriteString(" & ")
		}
		if len(s.Tokens) > 1 {
			b.WriteByte('(')
		}
		for i, tok := range s.Tokens {
			if i > 0 {
				b.WriteString(" <-> ")
			}
			b.WriteString(tsLexeme(tok))
			if s.Prefix && i == len(s.Tokens)-1 {
				b.WriteString(":*")
			}
		}
		if len(s.Tokens) > 1 {
			b.WriteByte(')')
		}
	}
	return b.String()
}

// PostgreSQL's tsvector limits: positions run from 1 to 16383 (larger ones
// are stored as 16383) and a lexeme keeps at most 256 of them.
const (
	maxTSPosition  = 16383
	maxTSPositions = 256
)

// TSVector returns a tsvector literal holding the tokens of each field with
// its positions, the fields weighted A, B, C... in order (title A,
// description B, body C) and a gap of one position between fields, so that
// no phrase spans two of them. Positions past 16383 are left out: a phrase
// far into a long body may be missed, its bigrams are all still indexed.
func TSVector(fields ...string) string {
	type entry struct {
		positions []int
		weights   []byte
	}
	lex := map[string]*entry{}
	var order []string
	pos := 0
	for f, text := range fields {
		w := byte('A' + min(f, 3))
		for _, tok := range Tokens(text) {
			pos++
			e := lex[tok]
			if e == nil {
				e = &entry{}
				lex[tok] = e
				order = append(order, tok)
			}
			if pos <= maxTSPosition && len(e.positions) < maxTSPositions {
				e.positions = append(e.positions, pos)
				e.weights = append(e.weights, w)
			}
		}
		pos++
	}
	var b strings.Builder
	for i, tok := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tsLexeme(tok))
		e := lex[tok]
		for j, p := range e.positions {
			if j == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
			if e.weights[j] != 'D' {
				b.WriteByte(e.weights[j])
			}
		}
	}
	return b.String()
}
