package web

import (
	"bytes"
	"html/template"
	"regexp"
	"slices"
	"strings"

	"github.com/alecthomas/chroma/v2"
	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/lexers"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"
)

// highlightStyle is the one light theme the stylesheet is generated from.
const highlightStyle = "github"

// highlighter renders fenced code blocks with chroma: CSS classes only, never
// inline style= (the CSP has no 'unsafe-inline' for styles). A block whose
// language chroma does not know, or names none, is plain escaped code.
type highlighter struct {
	formatter *chromahtml.Formatter
	style     *chroma.Style
}

func newHighlighter() *highlighter {
	return &highlighter{
		formatter: chromahtml.New(chromahtml.WithClasses(true)),
		style:     styles.Get(highlightStyle),
	}
}

// RegisterFuncs replaces goldmark's renderer for fenced code blocks.
func (h *highlighter) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindFencedCodeBlock, h.renderFencedCode)
}

func (h *highlighter) renderFencedCode(w util.BufWriter, source []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.FencedCodeBlock)
	var code strings.Builder
	for i := range n.Lines().Len() {
		seg := n.Lines().At(i)
		code.Write(seg.Value(source))
	}
	if out, ok := h.highlight(string(n.Language(source)), code.String()); ok {
		_, err := w.Write(out)
		return ast.WalkSkipChildren, err
	}
	// The info string is never written out: an unknown language leaves no
	// trace in the HTML, so ```"><script> cannot reach an attribute.
	_, _ = w.WriteString("<pre><code>")
	template.HTMLEscape(w, []byte(code.String()))
	_, err := w.WriteString("</code></pre>\n")
	return ast.WalkSkipChildren, err
}

// highlight formats code in the named language; false when the language is
// unknown or chroma fails (the caller then writes plain code).
func (h *highlighter) highlight(lang, code string) ([]byte, bool) {
	if lang == "" {
		return nil, false
	}
	lexer := lexers.Get(lang)
	if lexer == nil {
		return nil, false
	}
	it, err := chroma.Coalesce(lexer).Tokenise(nil, code)
	if err != nil {
		return nil, false
	}
	var buf bytes.Buffer
	if err := h.formatter.Format(&buf, h.style, it); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// css is the stylesheet for the classes chroma writes, served as /highlight.css.
func (h *highlighter) css() []byte {
	var buf bytes.Buffer
	if err := h.formatter.WriteCSS(&buf, h.style); err != nil {
		return nil // WriteCSS fails only on a failing writer
	}
	return buf.Bytes()
}

// chromaClass matches exactly one of the class names chroma writes (its
// token types' short names, "chroma", "line", "cl", ...), so the sanitizer
// lets through syntax colours and nothing a user could style a page with.
var chromaClass = func() *regexp.Regexp {
	names := make([]string, 0, len(chroma.StandardTypes))
	for _, c := range chroma.StandardTypes {
		if c != "" {
			names = append(names, regexp.QuoteMeta(c))
		}
	}
	slices.Sort(names)
	return regexp.MustCompile(`^(?:` + strings.Join(slices.Compact(names), "|") + `)$`)
}()
