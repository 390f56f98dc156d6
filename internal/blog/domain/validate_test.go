package domain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tungsten-blog/tungsten/internal/platform/errs"
)

func messages(err error) []string {
	if e, ok := errors.AsType[*errs.Error](err); ok {
		return e.Messages
	}
	return nil
}

func TestArticleInputValidate(t *testing.T) {
	t.Parallel()
	ok := ArticleInput{Title: "T", Description: "D", Body: "B"}
	many := make([]string, MaxTags+1)
	for i := range many {
		many[i] = string(rune('a' + i))
	}
	tests := []struct {
		name string
		in   ArticleInput
		want []string
	}{
		{"valid", ok, nil},
		{"all blank", ArticleInput{Title: " ", Body: "\n"}, []string{"title can't be blank", "description can't be blank", "body can't be blank"}},
		{"title too long", ArticleInput{Title: strings.Repeat("é", MaxTitleRunes+1), Description: "D", Body: "B"},
			[]string{"title is too long (maximum is 200 characters)"}},
		{"title at limit in runes", ArticleInput{Title: strings.Repeat("é", MaxTitleRunes), Description: "D", Body: "B"}, nil},
		{"description too long", ArticleInput{Title: "T", Description: strings.Repeat("x", MaxDescriptionRunes+1), Body: "B"},
			[]string{"description is too long (maximum is 1000 characters)"}},
		{"body too long", ArticleInput{Title: "T", Description: "D", Body: strings.Repeat("x", MaxBodyRunes+1)},
			[]string{"body is too long (maximum is 100000 characters)"}},
		{"too many tags", ArticleInput{Title: "T", Description: "D", Body: "B", Tags: many},
			[]string{"tagList has too many tags (maximum is 20)"}},
		{"tag too long", ArticleInput{Title: "T", Description: "D", Body: "B", Tags: []string{strings.Repeat("t", MaxTagRunes+1)}},
			[]string{`tag "tttttttttttttttttttt…" is too long (maximum is 50 characters)`}},
		{"NUL", ArticleInput{Title: "a\x00b", Description: "D", Body: "B"}, []string{"title can't contain NUL characters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.in.Normalize().Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.True(t, errs.Is(err, errs.KindInvalid), "Validate() = %v, want invalid", err)
			require.Equal(t, tt.want, messages(err))
		})
	}
}

func TestValidateComment(t *testing.T) {
	t.Parallel()
	require.NoError(t, ValidateComment("fine"))
	require.Equal(t, []string{"body can't be blank"}, messages(ValidateComment("  ")), "blank")
	require.Equal(t, []string{"body is too long (maximum is 10000 characters)"},
		messages(ValidateComment(strings.Repeat("x", MaxCommentRunes+1))), "long")
}

func TestNormalizeTags(t *testing.T) {
	t.Parallel()
	got := NormalizeTags([]string{" training ", "dragons", "", "training", "  ", "Dragons"})
	require.Equal(t, []string{"Dragons", "dragons", "training"}, got)
	require.Equal(t, []string{}, NormalizeTags(nil), "NormalizeTags(nil): want empty non-nil")
}

func TestPatchApply(t *testing.T) {
	t.Parallel()
	title, empty := "New", ""
	tags := []string{"x"}
	in := ArticlePatch{Title: &title, Tags: &tags, Category: &empty}.Apply(ArticleInput{Title: "Old", Description: "D", Body: "B", Category: "food"})
	require.Equal(t, ArticleInput{Title: "New", Description: "D", Body: "B", Tags: tags}, in)
}

func TestFormatTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2016, 2, 18, 3, 22, 56, 0, time.UTC), "2016-02-18T03:22:56.000Z"},
		{time.Date(2016, 2, 18, 3, 22, 56, 637_000_000, time.UTC), "2016-02-18T03:22:56.637Z"},
		{time.Date(2016, 2, 18, 4, 22, 56, 5_000_000, time.FixedZone("CET", 3600)), "2016-02-18T03:22:56.005Z"},
		{FromMillis(1455765776000), "2016-02-18T03:22:56.000Z"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, FormatTime(tt.in), "FormatTime(%v)", tt.in)
	}
}

func TestSearchTerms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
	}{
		{"Dragons training", []string{"dragons", "training"}},
		{`"dragons" OR (training*) -x`, []string{"dragons", "or", "training", "x"}},
		{"Über café", []string{"über", "café"}},
		{"東京タワー", []string{"東京タワー"}},
		{`" * ( ) : ^ NEAR`, []string{"near"}},
		{`"`, nil},
		{"dup DUP dup", []string{"dup"}},
		{"\xff\xfeabc", []string{"abc"}},
		{"a\x00b", []string{"a", "b"}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, SearchTerms(tt.in), "SearchTerms(%q)", tt.in)
	}
	assert.LessOrEqual(t, len(SearchTerms(strings.Repeat("w ", 100)+strings.Repeat("abc ", 3))), MaxSearchTerms, "terms")
}
