package arch

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Directories whose tests still assert by hand. Converted next: each is being
// edited by another change, and leaves this list when converted.
var handAssertingDirs = []string{
	"internal/web/",
}

// TestOneAssertionStyle guards that tests assert with testify: require for a
// check the test cannot go on without, assert where it deliberately goes on
// (a table of independent cases, every policy violation of a manifest).
//
// The rule: in a _test.go file, a *testing.T, *testing.B, *testing.F or
// testing.TB does not call Fatal, Fatalf, Error or Errorf. One exception: in
// a goroutine the test starts (`go func`, a `.Go(func` of a WaitGroup or
// errgroup, b.RunParallel), t.Error and t.Errorf are allowed — and there
// neither require nor t.Fatal is, since FailNow must run on the test's own
// goroutine. Fuzz targets have no exception: their t is a *testing.T.
// Helper packages that are not _test.go files (testenv, authntest) are not
// checked. The rule is in docs/testing.md.
func TestOneAssertionStyle(t *testing.T) {
	t.Parallel()
	var found []string
	files := 0
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../..", path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if d.Name() == "node_modules" || d.Name() == "test-artifacts" || d.Name() == "testdata" ||
				strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") || handAsserting(rel) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		problems, err := handAssertions(rel, src)
		if err != nil {
			return err
		}
		found = append(found, problems...)
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 50, "the walk found too few test files: has the tree moved?")
	require.Empty(t, found, "assert with testify (require, or assert where the test goes on); "+
		"in a goroutine, assert or t.Errorf, never require or t.Fatal (docs/testing.md)")
}

func handAsserting(rel string) bool {
	for _, dir := range handAssertingDirs {
		if strings.HasPrefix(rel, dir) {
			return true
		}
	}
	return false
}

// handAssertions lists the calls of a test file that break the rule of
// TestOneAssertionStyle, as "file:line: what".
func handAssertions(name string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", name, err)
	}
	testingName := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"testing"` {
			testingName = "testing"
			if imp.Name != nil {
				testingName = imp.Name.Name
			}
		}
	}
	// Names that hold a test's T, B, F or TB: parameters, variables and
	// struct fields declared with those types (t, b, f, tb, ts.t, ...).
	// A name is enough: a file does not use t for two things.
	tNames := map[string]bool{}
	isTestingType := func(e ast.Expr) bool {
		if s, ok := e.(*ast.StarExpr); ok {
			e = s.X
		}
		sel, ok := e.(*ast.SelectorExpr)
		if !ok || testingName == "" {
			return false
		}
		pkg, ok := sel.X.(*ast.Ident)
		return ok && pkg.Name == testingName && (sel.Sel.Name == "T" || sel.Sel.Name == "B" || sel.Sel.Name == "F" || sel.Sel.Name == "TB")
	}
	ast.Inspect(f, func(n ast.Node) bool {
		var names []*ast.Ident
		var typ ast.Expr
		switch n := n.(type) {
		case *ast.Field:
			names, typ = n.Names, n.Type
		case *ast.ValueSpec:
			names, typ = n.Names, n.Type
		}
		if typ != nil && isTestingType(typ) {
			for _, id := range names {
				tNames[id.Name] = true
			}
		}
		return true
	})
	isT := func(e ast.Expr) bool {
		switch e := e.(type) {
		case *ast.Ident:
			return tNames[e.Name]
		case *ast.SelectorExpr:
			return tNames[e.Sel.Name]
		}
		return false
	}
	var out []string
	report := func(n ast.Node, format string, args ...any) {
		out = append(out, fmt.Sprintf("%s: %s", fset.Position(n.Pos()), fmt.Sprintf(format, args...)))
	}
	var walk func(n ast.Node, inGoroutine bool)
	walk = func(n ast.Node, inGoroutine bool) {
		ast.Inspect(n, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				if lit, ok := n.Call.Fun.(*ast.FuncLit); ok {
					walk(lit.Body, true)
					for _, a := range n.Call.Args {
						walk(a, inGoroutine)
					}
					return false
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch m := sel.Sel.Name; {
				case m == "Go" || m == "RunParallel":
					walk(sel.X, inGoroutine)
					for _, a := range n.Args {
						if lit, ok := a.(*ast.FuncLit); ok {
							walk(lit.Body, true)
						} else {
							walk(a, inGoroutine)
						}
					}
					return false
				case (m == "Fatal" || m == "Fatalf") && isT(sel.X):
					if inGoroutine {
						report(n, "%s.%s in a goroutine: FailNow must run on the test's goroutine (use assert)", types.ExprString(sel.X), m)
					} else {
						report(n, "%s.%s: use require", types.ExprString(sel.X), m)
					}
				case (m == "Error" || m == "Errorf") && isT(sel.X) && !inGoroutine:
					report(n, "%s.%s: use assert (or require when the test cannot go on)", types.ExprString(sel.X), m)
				case inGoroutine:
					if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "require" {
						report(n, "require.%s in a goroutine: FailNow must run on the test's goroutine (use assert)", m)
					}
				}
			}
			return true
		})
	}
	walk(f, false)
	return out, nil
}

func TestHandAssertionsDetector(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, body string
		want       []string // what each report says after "file:line:col: "
	}{
		{"require", `func TestX(t *testing.T) { require.NoError(t, nil) }`, nil},
		{"fatalf", `func TestX(t *testing.T) { t.Fatalf("x %d", 1) }`, []string{"t.Fatalf: use require"}},
		{"errorf in a table", `func TestX(t *testing.T) { for range 2 { t.Errorf("x") } }`,
			[]string{"t.Errorf: use assert (or require when the test cannot go on)"}},
		{"benchmark", `func BenchmarkX(b *testing.B) { b.Fatal("x") }`, []string{"b.Fatal: use require"}},
		{"helper with TB", `func helper(tb testing.TB) { tb.Error("x") }`,
			[]string{"tb.Error: use assert (or require when the test cannot go on)"}},
		{"fixture field", `type fixture struct{ t testing.TB }
func (f *fixture) do() { f.t.Fatal("x") }`, []string{"f.t.Fatal: use require"}},
		{"fuzz target", `func FuzzX(f *testing.F) { f.Fuzz(func(t *testing.T, s string) { t.Fatal(s) }) }`,
			[]string{"t.Fatal: use require"}},
		{"errorf in go func", `func TestX(t *testing.T) { go func() { t.Errorf("x") }() }`, nil},
		{"errorf in wg.Go", `func TestX(t *testing.T) { var wg sync.WaitGroup; wg.Go(func() { t.Error("x") }) }`, nil},
		{"errorf in RunParallel", `func BenchmarkX(b *testing.B) { b.RunParallel(func(pb *testing.PB) { b.Error("x") }) }`, nil},
		{"fatal in go func", `func TestX(t *testing.T) { go func() { t.Fatal("x") }() }`,
			[]string{"t.Fatal in a goroutine: FailNow must run on the test's goroutine (use assert)"}},
		{"require in go func", `func TestX(t *testing.T) { go func() { require.NoError(t, nil) }() }`,
			[]string{"require.NoError in a goroutine: FailNow must run on the test's goroutine (use assert)"}},
		{"an error's Error", `func TestX(t *testing.T) { err := errors.New("x"); require.Contains(t, err.Error(), "x") }`, nil},
		{"not a test value", `func TestX(t *testing.T) { var log logger; log.Errorf("x") }`, nil},
	} {
		src := "package p\n\nimport \"testing\"\n\n" + tt.body + "\n"
		got, err := handAssertions("x_test.go", []byte(src))
		require.NoError(t, err, tt.name)
		for i := range got {
			got[i] = got[i][strings.Index(got[i], ": ")+2:]
		}
		require.Equal(t, tt.want, got, tt.name)
	}
}
