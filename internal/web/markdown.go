package web

import (
	"bytes"
	"html/template"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"
)

// markdown renders article bodies. Goldmark drops raw HTML and dangerous
// link schemes; bluemonday's user-content policy then removes anything left
// that could run script (event handlers, javascript: URLs, iframes, styles),
// so the result is safe to insert as template.HTML. Fenced code is
// highlighted by chroma (highlight.go); the policy keeps chroma's class names
// on span, pre and code and no other class anywhere.
type markdown struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
	css    []byte // the highlighting stylesheet
}

func newMarkdown() *markdown {
	p := bluemonday.UGCPolicy()
	p.RequireNoFollowOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(false)
	p.AllowAttrs("class").Matching(chromaClass).OnElements("span", "pre", "code")
	h := newHighlighter()
	return &markdown{
		md: goldmark.New(
			goldmark.WithExtensions(extension.GFM),
			// Before goldmark's own renderer (priority 1000).
			goldmark.WithRendererOptions(renderer.WithNodeRenderers(util.Prioritized(h, 100))),
		),
		policy: p,
		css:    h.css(),
	}
}

func (m *markdown) render(src string) template.HTML {
	var buf bytes.Buffer
	if err := m.md.Convert([]byte(src), &buf); err != nil {
		// Goldmark only fails on a failing writer; show the text escaped.
		return template.HTML(template.HTMLEscapeString(src))
	}
	return template.HTML(m.policy.SanitizeBytes(buf.Bytes())) //nolint:gosec // sanitized just above
}
