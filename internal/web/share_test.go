package web

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestContentLanguage(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"프로메테우스와 그라파나로 모니터링을 구축했습니다.":             "ko",
		"Kubernetes 클러스터를 운영하며 배운 것들":             "ko",
		"Running Kubernetes in production":        "en",
		"Notes on Go generics, with one word: 안녕": "en",
		"":          "en",
		"12345 !!!": "en",
	} {
		require.Equal(t, want, contentLanguage(text), text)
	}
}

func TestListCanonical(t *testing.T) {
	t.Parallel()
	require.Equal(t, "/", listCanonical("/", map[string][]string{"tag": {""}}, 1))
	require.Equal(t, "/?category=science&page=3", listCanonical("/", map[string][]string{"category": {"science"}, "tag": {""}}, 3))
	require.Equal(t, "/search?q=%ED%95%9C+%26+b", listCanonical("/search", map[string][]string{"q": {"한 & b"}}, 1))
}
