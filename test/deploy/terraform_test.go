package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		if !assert.False(t, diags.HasErrors(), "%s: %s", p, diags.Error()) {
			return nil
		}
		assert.Equal(t, string(src), string(hclwrite.Format(src)), "%s is not terraform fmt-clean", p)
		content, _, diags := f.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
			{Type: "variable", LabelNames: []string{"name"}},
			{Type: "output", LabelNames: []string{"name"}},
			{Type: "module", LabelNames: []string{"name"}},
		}})
		if !assert.False(t, diags.HasErrors(), "%s: %s", p, diags.Error()) {
			return nil
		}
		for _, b := range content.Blocks {
			attrs, _ := b.Body.JustAttributes()
			switch b.Type {
			case "variable", "output":
				assert.Contains(t, attrs, "description", "%s: %s %q has no description", p, b.Type, b.Labels[0])
			case "module":
				a, ok := attrs["source"]
				if !assert.True(t, ok, "%s: module %q has no source", p, b.Labels[0]) {
					continue
				}
				v, diags := a.Expr.Value(nil)
				if !assert.False(t, diags.HasErrors(), "%s: module %q: source must be a literal", p, b.Labels[0]) {
					continue
				}
				assert.DirExists(t, filepath.Join(filepath.Dir(p), v.AsString()), "%s: module %q: source is not a directory", p, b.Labels[0])
			}
		}
		return nil
	})
	require.NoError(t, err)
	assert.GreaterOrEqual(t, files, 8, ".tf files under %s", root)
}
