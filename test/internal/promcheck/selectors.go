package promcheck

import (
	"regexp"
	"slices"
	"strings"
)

// keywords are PromQL words that look like metric names but are not.
var keywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true,
}

var (
	// grouping clauses hold label names, not metrics.
	groupingRE = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identRE    = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// Selectors returns the instant-vector selectors of a PromQL expression
// (metric name plus its label matchers), for checking that each matches
// scraped series. It is a small scanner, not a parser: it knows strings,
// label matchers, grouping clauses, ranges, function calls and keywords,
// which is all our dashboards and rules use.
func Selectors(expr string) []string {
	// Blank out string literals (label_replace arguments) and ranges outside
	// braces; keep matchers whole.
	var b strings.Builder
	depth := 0
	for i := 0; i < len(expr); i++ {
		ch := expr[i]
		switch {
		case ch == '{':
			depth++
		case ch == '}':
			depth--
		case ch == '[' && depth == 0: // a range or subquery: [5m], [1h:1m]
			for i < len(expr) && expr[i] != ']' {
				i++
			}
			b.WriteByte(' ')
			continue
		case ch == '"' && depth == 0:
			j := i + 1
			for j < len(expr) && expr[j] != '"' {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			b.WriteString(`""`)
			i = j
			continue
		}
		b.WriteByte(ch)
	}
	s := groupingRE.ReplaceAllString(b.String(), " ")

	var out []string
	for i := 0; i < len(s); {
		if s[i] == '{' { // a selector without a name: {__name__=...}
			end := matchBrace(s, i)
			out = append(out, s[i:end])
			i = end
			continue
		}
		loc := identRE.FindStringIndex(s[i:])
		if loc == nil || (i > 0 && isIdentByte(s[i-1])) {
			i++
			continue
		}
		name := s[i : i+loc[1]]
		j := i + loc[1]
		k := j
		for k < len(s) && strings.IndexByte(" \t\n", s[k]) >= 0 {
			k++
		}
		switch {
		case k < len(s) && s[k] == '(': // a function or aggregation
			i = j
		case keywords[strings.ToLower(name)]:
			i = j
		case k < len(s) && s[k] == '{':
			end := matchBrace(s, k)
			out = append(out, name+s[k:end])
			i = end
		default:
			out = append(out, name)
			i = j
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func matchBrace(s string, open int) int {
	inStr := false
	for i := open + 1; i < len(s); i++ {
		switch {
		case inStr && s[i] == '\\':
			i++
		case s[i] == '"':
			inStr = !inStr
		case !inStr && s[i] == '}':
			return i + 1
		}
	}
	return len(s)
}

func isIdentByte(c byte) bool {
	return c == '_' || c == ':' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
