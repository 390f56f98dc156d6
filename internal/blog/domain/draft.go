package domain

import (
	"crypto/rand"
	"strings"
)

// NewPreviewToken returns a fresh preview token of a draft: 26 base32
// characters of crypto/rand (130 bits), unguessable, so a link holding it
// is the capability to read that draft (ADR 0020). A new one replaces the
// old, which then opens nothing.
func NewPreviewToken() string { return strings.ToLower(rand.Text()) }

// IsPreviewToken reports whether s has the shape NewPreviewToken gives, so
// anything else is refused without a query.
func IsPreviewToken(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '2' || r > '7') {
			return false
		}
	}
	return true
}
