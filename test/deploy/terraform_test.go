package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// TestTerraform parses every .tf file with HCL's own parser, checks it is formatted the
// way `terraform fmt` formats it (hclwrite.Format is the same formatter), and that every
// variable and output has a description and every module source is a directory here.
func TestTerraform(t *testing.T) {
	gate(t)
	root := filepath.Join(repoRoot(t), "deploy", "terraform")
	parser := hclparse.NewParser()
	files := 0
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".tf") {
			return err
		}
		files++
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, diags := parser.ParseHCLFile(p)
		if diags.HasErrors() {
			t.Errorf("%s: %s", p, diags.Error())
			return nil
		}
		if formatted := hclwrite.Format(src); string(formatted) != string(src) {
			t.Errorf("%s is not terraform fmt-clean", p)
		}
		content, _, diags := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
			{Type: "variable", LabelNames: []string{"name"}},
			{Type: "output", LabelNames: []string{"name"}},
			{Type: "module", LabelNames: []string{"name"}},
		}})
		if diags.HasErrors() {
			t.Errorf("%s: %s", p, diags.Error())
			return nil
		}
		for _, b := range content.Blocks {
			attrs, _ := b.Body.JustAttributes()
			switch b.Type {
			case "variable", "output":
				if _, ok := attrs["description"]; !ok {
					t.Errorf("%s: %s %q has no description", p, b.Type, b.Labels[0])
				}
			case "module":
				a, ok := attrs["source"]
				if !ok {
					t.Errorf("%s: module %q has no source", p, b.Labels[0])
					continue
				}
				v, diags := a.Expr.Value(nil)
				if diags.HasErrors() {
					t.Errorf("%s: module %q: source must be a literal", p, b.Labels[0])
					continue
				}
				if st, err := os.Stat(filepath.Join(filepath.Dir(p), v.AsString())); err != nil || !st.IsDir() {
					t.Errorf("%s: module %q: source %s is not a directory", p, b.Labels[0], v.AsString())
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 8 {
		t.Errorf("found %d .tf files under %s", files, root)
	}
}
