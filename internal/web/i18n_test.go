package web

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/template/parse"
	"unicode"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// hole stands for a template action in the text the checker tokenizes.
const hole = "\uE000"

// visibleAttrs are the attributes a user reads or hears.
var visibleAttrs = map[string]bool{
	"alt": true, "title": true, "placeholder": true, "label": true,
	"aria-label": true, "aria-description": true, "aria-placeholder": true, "aria-roledescription": true,
}

// templateScan is what checking one template source found.
type templateScan struct {
	keys      []string // catalog keys passed to t and tn (tn adds .one and .other)
	untracked []string // user-visible text with letters outside t/tn
	dynamic   []string // t/tn calls whose key is not a string literal
}

// scanTemplate parses src and reports the user-visible text it writes
// without going through the catalogs: every text node is kept, every action
// becomes a hole, and the HTML that results is tokenized; text and visible
// attributes must then hold no letter.
func scanTemplate(name, src string) (templateScan, error) {
	trees := map[string]*parse.Tree{}
	t := parse.New(name)
	t.Mode = parse.SkipFuncCheck | parse.ParseComments
	if _, err := t.Parse(src, "{{", "}}", trees); err != nil {
		return templateScan{}, err
	}
	var sc templateScan
	names := make([]string, 0, len(trees))
	for n := range trees {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var b strings.Builder
		sc.walk(trees[n].Root, &b)
		sc.checkHTML(n, b.String())
	}
	return sc, nil
}

func (sc *templateScan) walk(n parse.Node, b *strings.Builder) {
	switch n := n.(type) {
	case nil:
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			sc.walk(c, b)
		}
	case *parse.TextNode:
		b.Write(n.Text)
	case *parse.ActionNode:
		sc.pipe(n.Pipe)
		b.WriteString(hole)
	case *parse.IfNode:
		sc.branch(&n.BranchNode, b)
	case *parse.RangeNode:
		sc.branch(&n.BranchNode, b)
	case *parse.WithNode:
		sc.branch(&n.BranchNode, b)
	case *parse.TemplateNode:
		sc.pipe(n.Pipe)
		b.WriteString(hole)
	default:
		b.WriteString(hole)
	}
}

func (sc *templateScan) branch(n *parse.BranchNode, b *strings.Builder) {
	sc.pipe(n.Pipe)
	b.WriteString(hole)
	sc.walk(n.List, b)
	b.WriteString(hole)
	sc.walk(n.ElseList, b)
	b.WriteString(hole)
}

// pipe records the catalog keys of t and tn calls, nested ones included.
func (sc *templateScan) pipe(p *parse.PipeNode) {
	if p == nil {
		return
	}
	for _, c := range p.Cmds {
		if len(c.Args) > 0 {
			if id, ok := c.Args[0].(*parse.IdentifierNode); ok && (id.Ident == "t" || id.Ident == "tn") {
				s, ok := (parse.Node)(nil), false
				if len(c.Args) > 1 {
					s = c.Args[1]
					_, ok = s.(*parse.StringNode)
				}
				if !ok {
					sc.dynamic = append(sc.dynamic, c.String())
				} else if id.Ident == "t" {
					sc.keys = append(sc.keys, s.(*parse.StringNode).Text)
				} else {
					k := s.(*parse.StringNode).Text
					sc.keys = append(sc.keys, k+".one", k+".other")
				}
			}
		}
		for _, a := range c.Args {
			if sub, ok := a.(*parse.PipeNode); ok {
				sc.pipe(sub)
			}
		}
	}
}

func hasLetter(s string) bool {
	return strings.IndexFunc(strings.ReplaceAll(s, hole, " "), unicode.IsLetter) >= 0
}

func (sc *templateScan) checkHTML(tree, src string) {
	z := html.NewTokenizer(strings.NewReader(src))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return
		case html.TextToken:
			if txt := string(z.Text()); hasLetter(txt) {
				sc.untracked = append(sc.untracked, fmt.Sprintf("%s: text %q", tree, strings.TrimSpace(strings.ReplaceAll(txt, hole, "{{…}}"))))
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			button := tok.Data == "input" && slices.ContainsFunc(tok.Attr, func(a html.Attribute) bool {
				return a.Key == "type" && (a.Val == "submit" || a.Val == "button" || a.Val == "reset")
			})
			for _, a := range tok.Attr {
				if (visibleAttrs[a.Key] || (button && a.Key == "value")) && hasLetter(a.Val) {
					sc.untracked = append(sc.untracked, fmt.Sprintf("%s: <%s %s=%q>", tree, tok.Data, a.Key, strings.ReplaceAll(a.Val, hole, "{{…}}")))
				}
			}
		}
	}
}

// templateKeys scans every embedded template.
func templateKeys(t *testing.T) []string {
	t.Helper()
	files, err := fs.Glob(templateFS, "templates/*.html")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var keys []string
	for _, f := range files {
		src, err := fs.ReadFile(templateFS, f)
		require.NoError(t, err)
		sc, err := scanTemplate(f, string(src))
		require.NoError(t, err, f)
		require.Empty(t, sc.untracked, "%s: user-visible text outside the catalogs (use {{t \"key\"}})", f)
		require.Empty(t, sc.dynamic, "%s: catalog keys must be string literals", f)
		keys = append(keys, sc.keys...)
	}
	return keys
}

// goKeys finds the keys the Go code uses: literal first arguments of
// locale.T and locale.N (N adds .one and .other) and the values of the
// apiFields and categoryKeys tables.
func goKeys(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var keys []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "catalog_") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "T" && sel.Sel.Name != "N") || len(n.Args) == 0 {
					return true
				}
				lit, ok := n.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					// Only these calls may pass a variable: N forwarding its key
					// to T, tn forwarding to N (its template callers are
					// checked), and lookups of apiFields and categoryKeys.
					id, _ := n.Args[0].(*ast.BinaryExpr)
					name, _ := n.Args[0].(*ast.Ident)
					require.True(t, (id != nil && f == "i18n.go") || (name != nil && (name.Name == "fieldKey" || name.Name == "catKey" || (name.Name == "key" && f == "templates.go"))),
						"%s: %s called with a non-literal key", fset.Position(n.Pos()), sel.Sel.Name)
					return true
				}
				k := strings.Trim(lit.Value, "`\"")
				if sel.Sel.Name == "N" {
					keys = append(keys, k+".one", k+".other")
				} else {
					keys = append(keys, k)
				}
			case *ast.ValueSpec:
				if len(n.Names) == 1 && (n.Names[0].Name == "apiFields" || n.Names[0].Name == "categoryKeys") {
					ast.Inspect(n, func(m ast.Node) bool {
						if kv, ok := m.(*ast.KeyValueExpr); ok {
							keys = append(keys, strings.Trim(kv.Value.(*ast.BasicLit).Value, `"`))
						}
						return true
					})
				}
			}
			return true
		})
	}
	return keys
}

var verb = regexp.MustCompile(`%(\[\d+\])?[a-z%]`)

func verbs(s string) []string {
	v := verb.FindAllString(s, -1)
	sort.Strings(v)
	return slices.Compact(v)
}

// TestCatalogsCoverEveryString is the gate of ADR 0014: no template writes
// a user-visible string except through t/tn, every key used exists in both
// catalogs with the same arguments, and no catalog key is unused.
func TestCatalogsCoverEveryString(t *testing.T) {
	t.Parallel()
	used := map[string]bool{}
	for _, k := range append(templateKeys(t), goKeys(t)...) {
		used[k] = true
	}
	for k := range used {
		_, en := catalogEN[k]
		_, ko := catalogKO[k]
		require.True(t, en && ko, "key %q is used but missing from the catalogs (en %v, ko %v)", k, en, ko)
	}
	for _, c := range []struct {
		name string
		m    map[string]string
	}{{"en", catalogEN}, {"ko", catalogKO}} {
		for k := range c.m {
			require.True(t, used[k], "%s catalog: key %q is used nowhere", c.name, k)
		}
	}
	require.Equal(t, len(catalogEN), len(catalogKO), "both catalogs hold the same keys")
	for k, en := range catalogEN {
		ko, ok := catalogKO[k]
		require.True(t, ok, "key %q missing from the Korean catalog", k)
		require.Equal(t, verbs(en), verbs(ko), "key %q: both languages take the same arguments", k)
		require.NotContains(t, verbs(en), "%s", "key %q: use indexed verbs (%%[1]s) so translations can reorder", k)
		require.NotContains(t, verbs(en), "%d", "key %q: use indexed verbs (%%[1]d) so translations can reorder", k)
	}
	// Korean pages are Korean: apart from names and symbols, a Korean
	// value that equals the English one is a missed translation.
	same := map[string]bool{"brand": true, "footer.api": true, "lang.ko": true, "lang.en": true, "field.image_placeholder": true}
	for k, en := range catalogEN {
		if en != "" && !same[k] {
			require.NotEqual(t, en, catalogKO[k], "key %q is not translated", k)
		}
	}
}

// The checker itself must catch what it is there to catch.
func TestTemplateScanFindsUntranslatedText(t *testing.T) {
	t.Parallel()
	for _, src := range []string{
		`<p>Hello {{.Name}}</p>`,
		`{{if .X}}<button>Save</button>{{end}}`,
		`<img src="/a.png" alt="Logo">`,
		`<input type="search" placeholder="Search {{.Site}}">`,
		`<input type="submit" value="Go">`,
		`<a href="/" aria-label="{{.N}} items">x</a>`,
		`{{define "x"}}<span>{{t "k"}} more</span>{{end}}`,
		`<title>{{.Title}} · Tungsten</title>`,
		`<p>한국어 문장</p>`,
	} {
		sc, err := scanTemplate("t", src)
		require.NoError(t, err)
		require.NotEmpty(t, sc.untracked, "should be flagged: %s", src)
	}
	for _, src := range []string{
		`<p>{{t "a"}} · {{.Name}} ♥ {{count .N}} →</p>`,
		`<input type="hidden" name="action" value="unfollow"><a class="btn on" href="/x?tab=favorites">{{t "b"}}</a>`,
		`<input id="q" {{if .E}}aria-invalid="true" aria-describedby="q-err"{{end}}>`,
		`<a aria-label="{{tn "c" .N .T}}">#{{.}}</a>`,
	} {
		sc, err := scanTemplate("t", src)
		require.NoError(t, err)
		require.Empty(t, sc.untracked, "should pass: %s", src)
	}
	sc, err := scanTemplate("t", `{{t "x.y"}}{{tn "n" 1}}{{t .Dynamic}}{{count (t "nested")}}`)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"x.y", "n.one", "n.other", "nested"}, sc.keys)
	require.Len(t, sc.dynamic, 1)
}

func TestNegotiateLanguage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		accept, cookie, want string
	}{
		{"", "", "en"},
		{"ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "", "ko"},
		{"ko", "", "ko"},
		{"en-US,en;q=0.9,ko;q=0.8", "", "en"},
		{"en;q=0.5, ko;q=0.8", "", "ko"},       // q-values, not order, decide
		{"ko;q=0.2, en;q=0.3", "", "en"},       // the same
		{"fr-FR,fr;q=0.9", "", "en"},           // neither: English
		{"fr, ko;q=0.5", "", "ko"},             // Korean is the best we have
		{"ko;q=0, en;q=0.1", "", "en"},         // q=0 means not Korean
		{"*", "", "en"},                        // anything: the default
		{"ko-Kore-KR", "", "ko"},               // a script and region still match
		{";;;=q,,,ko;q=abc", "", "en"},         // malformed: the default
		{strings.Repeat("ko,", 300), "", "en"}, // too long to parse: the default
		{"ko", "en", "en"},                     // the switcher's choice wins
		{"en", "ko", "ko"},
		{"ko", "fr", "ko"},    // an unknown cookie value is ignored
		{"ko", "ko<x>", "ko"}, // so is garbage
		{"en", "KO", "en"},    // exact values only
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if tc.cookie != "" {
			r.Header.Set("Cookie", langCookie+"="+tc.cookie)
		}
		require.Equal(t, tc.want, negotiate(r).Tag, "Accept-Language %q, cookie %q", tc.accept, tc.cookie)
	}
}

func TestLocalizedDatesCountsAndPlurals(t *testing.T) {
	t.Parallel()
	require.Equal(t, "December 2, 2026", localeEN.Date("2026-12-02T05:16:32.123Z"))
	require.Equal(t, "2026년 12월 2일", localeKO.Date("2026-12-02T05:16:32.123Z"))
	require.Equal(t, "2027년 1월 1일", localeKO.Date("2026-12-31T23:30:00-09:00"), "dates are UTC")
	require.Equal(t, "not a date", localeKO.Date("not a date"))

	require.Equal(t, "0", localeEN.Count(0))
	require.Equal(t, "999", localeEN.Count(999))
	require.Equal(t, "1,000", localeEN.Count(1000))
	require.Equal(t, "1,234,567", localeKO.Count(1234567))
	require.Equal(t, "-12,345", localeEN.Count(-12345))

	require.Equal(t, "1 result for “go”", localeEN.N("search.results", 1, "go"))
	require.Equal(t, "0 results for “go”", localeEN.N("search.results", 0, "go"))
	require.Equal(t, "1,200 results for “go”", localeEN.N("search.results", 1200, "go"))
	require.Equal(t, "“고” 검색 결과 1건", localeKO.N("search.results", 1, "고"))
	require.Equal(t, "“고” 검색 결과 12건", localeKO.N("search.results", 12, "고"))
	require.Equal(t, "1 favorite", localeEN.N("article.favorites", 1))
	require.Equal(t, "2 favorites", localeEN.N("article.favorites", 2))

	require.Equal(t, "3 min read", localeEN.ReadingTime(strings.Repeat("word ", 600)))
	require.Equal(t, "3분 읽기", localeKO.ReadingTime(strings.Repeat("가나다라마 ", 250)))
	require.Equal(t, "1 min read", localeEN.ReadingTime(""))

	require.Equal(t, "과학", localeKO.CategoryName(Category{Slug: "science", Name: "Science"}))
	require.Equal(t, "Science", localeEN.CategoryName(Category{Slug: "science", Name: "Science"}))
	require.Equal(t, "기술 스택", localeKO.CategoryName(Category{Slug: "stack", Name: "기술 스택"}), "a category we do not know keeps the blog's name")
}

func TestAPIMessagesAreTranslated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ api, en, ko string }{
		{"title can't be blank", "title can't be blank", "제목 항목을 입력하세요."},
		{"email or password is invalid", "email or password is invalid", "이메일 또는 비밀번호가 올바르지 않습니다."},
		{"username has already been taken", "username has already been taken", "이미 사용 중인 사용자 이름입니다."},
		{"password is too short (minimum is 8 characters)", "password is too short (minimum is 8 characters)", "비밀번호 항목이 너무 짧습니다 (최소 8자)."},
		{"email is too long (maximum is 1000 characters)", "email is too long (maximum is 1,000 characters)", "이메일 항목이 너무 깁니다 (최대 1,000자)."},
		{"email is invalid", "email is invalid", "이메일 항목이 올바르지 않습니다."},
		{"image is invalid (use an http or https URL)", "image is invalid (use an http or https URL)", "프로필 사진 항목이 올바르지 않습니다 (use an http or https URL)."},
		{"category is unknown", "category is unknown", "알 수 없는 카테고리입니다."},
		// Shapes and fields it does not know are shown as the API wrote them.
		{"you cannot follow yourself", "you cannot follow yourself", "you cannot follow yourself"},
		{"widget can't be blank", "widget can't be blank", "widget can't be blank"},
	} {
		require.Equal(t, tc.en, localeEN.apiMessage(tc.api), tc.api)
		require.Equal(t, tc.ko, localeKO.apiMessage(tc.api), tc.api)
	}
}

// The Go sources have no user-facing English left outside the catalogs:
// every string literal that reads as a sentence is a catalog key instead.
func TestGoHasNoStrayUserStrings(t *testing.T) {
	t.Parallel()
	sentence := regexp.MustCompile(`^[A-Z][a-z]+( [a-z]+){2,}[.!]?$`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || strings.HasPrefix(f, "catalog_") {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		file, err := parser.ParseFile(token.NewFileSet(), f, src, 0)
		require.NoError(t, err)
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s := strings.Trim(lit.Value, "`\"")
				require.False(t, sentence.MatchString(s), "%s: %q looks like a user-visible sentence: put it in the catalogs", f, s)
			}
			return true
		})
	}
}

// BenchmarkNegotiate is the per-request cost of picking the language: a
// browser's usual header, and the longest one we parse (512 bytes).
func BenchmarkNegotiate(b *testing.B) {
	for _, h := range []string{"ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", strings.Repeat("x-abcdefg;q=0.1,", 32)} {
		b.Run(fmt.Sprintf("%d bytes", len(h)), func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Accept-Language", h)
			for b.Loop() {
				_ = negotiate(r)
			}
		})
	}
}
