package web

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCodeBlocksAreHighlightedWithClasses(t *testing.T) {
	t.Parallel()
	m := newMarkdown()
	tests := []struct {
		name, src   string
		contains    []string
		notContains []string
	}{
		{
			name:        "go block gets chroma classes",
			src:         "```go\nfunc main() { s := \"<b>\" }\n```\n",
			contains:    []string{`<pre class="chroma"><code>`, `<span class="kd">func</span>`, `<span class="nf">main</span>`, `&lt;b&gt;`},
			notContains: []string{"<b>"},
		},
		{
			name:        "unknown language is plain escaped code",
			src:         "```no-such-language\n<i>x</i> & y\n```\n",
			contains:    []string{"<pre><code>&lt;i&gt;x&lt;/i&gt; &amp; y\n</code></pre>"},
			notContains: []string{"<span", "class=", "no-such-language", "<i>"},
		},
		{
			name:        "no language is plain escaped code",
			src:         "```\n<i>x</i>\n```\n",
			contains:    []string{"<pre><code>&lt;i&gt;x&lt;/i&gt;\n</code></pre>"},
			notContains: []string{"class="},
		},
		{
			name:        "hostile info string is harmless",
			src:         "```\"><script>alert(1)</script>\nhi\n```\n\n```go\"><img src=x onerror=alert(1)>\nx\n```\n",
			contains:    []string{"<pre><code>hi\n</code></pre>"},
			notContains: []string{"<script", "<img", "onerror", "alert"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := string(m.render(tt.src))
			for _, s := range tt.contains {
				require.Contains(t, out, s)
			}
			for _, s := range tt.notContains {
				require.NotContains(t, out, s)
			}
			require.NotContains(t, out, "style=")
		})
	}
}

// The sanitizer keeps chroma's class names on span, pre and code only: HTML
// from elsewhere cannot style the page with the site's own classes.
func TestSanitizerAllowsOnlyChromaClasses(t *testing.T) {
	t.Parallel()
	p := newMarkdown().policy
	tests := []struct{ in, want string }{
		{`<span class="kd">x</span>`, `<span class="kd">x</span>`},
		{`<pre class="chroma"><code class="line">x</code></pre>`, `<pre class="chroma"><code class="line">x</code></pre>`},
		{`<span class="btn">x</span>`, `<span>x</span>`},
		{`<span class="kd btn">x</span>`, `<span>x</span>`},
		{`<p class="kd">x</p>`, `<p>x</p>`},
		{`<a class="kd" href="https://example.com">x</a>`, `<a href="https://example.com" rel="nofollow">x</a>`},
		{`<span class="kd" style="color:red">x</span>`, `<span class="kd">x</span>`},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, p.Sanitize(tt.in), tt.in)
	}
}

func TestHighlightStylesheetUsesClasses(t *testing.T) {
	t.Parallel()
	css := string(newMarkdown().css)
	require.Contains(t, css, ".chroma .kd")
	require.NotContains(t, strings.ToLower(css), "url(")
}
