// Package fts5 builds SQLite FTS5 match expressions from search terms. It is
// its own package, free of the SQLite engine, so it can be fuzzed quickly.
package fts5

import "strings"

// Match turns search terms into an FTS5 expression in which every term is a
// quoted string (inner quotes doubled), so nothing the user typed can act as
// FTS5 syntax: `"a" "b"` matches rows holding both terms.
func Match(terms []string) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(t, `"`, `""`))
		b.WriteByte('"')
	}
	return b.String()
}
