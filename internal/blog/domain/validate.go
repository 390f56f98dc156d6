package domain

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

// Limits on article and comment fields, in runes.
const (
	MaxTitleRunes       = 200
	MaxDescriptionRunes = 1000
	MaxBodyRunes        = 100_000
	MaxTags             = 20
	MaxTagRunes         = 50
	MaxCommentRunes     = 10_000
)

// ArticleInput is what a client sends to create an article, or the full
// state of an article after an update was applied.
type ArticleInput struct {
	Title       string
	Description string
	Body        string
	Tags        []string
	Category    string
	Draft       bool // save without publishing (ADR 0020)
}

// ArticlePatch is an update: nil fields are left unchanged.
type ArticlePatch struct {
	Title       *string
	Description *string
	Body        *string
	Tags        *[]string
	Category    *string // "" clears the category
	Draft       *bool   // false publishes a draft, true takes an article back to draft
}

// Apply returns in with the patch's fields replaced.
func (p ArticlePatch) Apply(in ArticleInput) ArticleInput {
	if p.Title != nil {
		in.Title = *p.Title
	}
	if p.Description != nil {
		in.Description = *p.Description
	}
	if p.Body != nil {
		in.Body = *p.Body
	}
	if p.Tags != nil {
		in.Tags = *p.Tags
	}
	if p.Category != nil {
		in.Category = *p.Category
	}
	if p.Draft != nil {
		in.Draft = *p.Draft
	}
	return in
}

// Normalize trims the text fields and normalizes the tags (see NormalizeTags).
func (in ArticleInput) Normalize() ArticleInput {
	in.Title = strings.TrimSpace(in.Title)
	in.Description = strings.TrimSpace(in.Description)
	in.Category = strings.TrimSpace(in.Category)
	in.Tags = NormalizeTags(in.Tags)
	return in
}

// Validate checks a normalized input and reports every broken rule at once.
func (in ArticleInput) Validate() error {
	var msgs []string
	msgs = appendText(msgs, "title", in.Title, MaxTitleRunes)
	msgs = appendText(msgs, "description", in.Description, MaxDescriptionRunes)
	msgs = appendText(msgs, "body", in.Body, MaxBodyRunes)
	if len(in.Tags) > MaxTags {
		msgs = append(msgs, fmt.Sprintf("tagList has too many tags (maximum is %d)", MaxTags))
	}
	for _, t := range in.Tags {
		if utf8.RuneCountInString(t) > MaxTagRunes {
			msgs = append(msgs, fmt.Sprintf("tag %q is too long (maximum is %d characters)", truncate(t, 20), MaxTagRunes))
		}
		if strings.ContainsRune(t, 0) {
			msgs = append(msgs, "tags can't contain NUL characters")
		}
	}
	if len(msgs) > 0 {
		return errs.Invalid(msgs...)
	}
	return nil
}

// ValidateComment checks a comment body (already trimmed).
func ValidateComment(body string) error {
	if msgs := appendText(nil, "body", body, MaxCommentRunes); len(msgs) > 0 {
		return errs.Invalid(msgs...)
	}
	return nil
}

// appendText checks one required text field.
func appendText(msgs []string, field, v string, maxRunes int) []string {
	switch {
	case strings.TrimSpace(v) == "":
		return append(msgs, field+" can't be blank")
	case utf8.RuneCountInString(v) > maxRunes:
		return append(msgs, fmt.Sprintf("%s is too long (maximum is %d characters)", field, maxRunes))
	case strings.ContainsRune(v, 0):
		// PostgreSQL text cannot hold NUL; refuse it rather than fail later.
		return append(msgs, field+" can't contain NUL characters")
	}
	return msgs
}

// NormalizeTags trims every tag, drops empty ones and duplicates, and sorts
// the rest. Sorted, because the RealWorld Postman collection expects
// ["dragons","training"] back for ["training","dragons"].
func NormalizeTags(tags []string) []string {
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
