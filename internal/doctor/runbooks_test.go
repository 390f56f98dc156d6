package doctor

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is where the runbook paths of a verdict are relative to.
const repoRoot = "../.."

// TestVerdictRunbooksExist: the runbook a verdict names exists for every
// component, taken from Diagnose itself so a change of the path format is
// caught too.
func TestVerdictRunbooksExist(t *testing.T) {
	t.Parallel()
	for _, c := range Components {
		t.Run(c, func(t *testing.T) {
			t.Parallel()
			snap := Snapshot{Pods: []Pod{{Component: c, Name: c + "-0", Phase: "Running", Waiting: "CrashLoopBackOff", Restarts: 3}}}
			if c == "node" {
				snap = Snapshot{Nodes: []Node{{Name: "n1", Pressure: []string{"MemoryPressure"}}}}
			}
			v := Diagnose(snap).Verdict
			require.Equal(t, c, v.Component)
			_, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(v.Runbook)))
			require.NoError(t, err, "component %s: its verdict's runbook %s is missing", c, v.Runbook)
		})
	}
}

var (
	fenced     = regexp.MustCompile("(?s)```.*?```")
	inlineCode = regexp.MustCompile("`[^`\n]*`")
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
)

// relativeLinks returns the targets of the Markdown links of doc that point
// into the repository (no scheme, not a bare #anchor), without their anchor.
// Code is left out: PromQL and jq hold brackets that are not links.
func relativeLinks(doc string) []string {
	doc = inlineCode.ReplaceAllString(fenced.ReplaceAllString(doc, ""), "")
	var out []string
	for _, m := range mdLink.FindAllStringSubmatch(doc, -1) {
		u, err := url.Parse(m[1])
		if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "" {
			continue
		}
		out = append(out, u.Path)
	}
	return out
}

func TestRelativeLinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		doc  string
		want []string
	}{
		{"see [nats](nats.md) and [faults](../faults.md#x)", []string{"nats.md", "../faults.md"}},
		{"[web](https://example.com/a.md) [top](#variables) [m](mailto:a@b)", nil},
		{"`rate(x[5m])` and ```\n[a](b.md)\n```", nil},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, relativeLinks(tt.doc), tt.doc)
	}
}

// TestRunbookLinksResolve: every relative link of every runbook names a file
// that exists, so an index or a "related alerts" line cannot point at a
// renamed or missing runbook.
func TestRunbookLinksResolve(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(repoRoot, "docs", "runbooks")
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no runbooks in %s", dir)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, l := range relativeLinks(string(b)) {
			target := filepath.Join(dir, filepath.FromSlash(l))
			_, err := os.Stat(target)
			require.NoError(t, err, "%s links to %s, which does not exist", filepath.Base(f), l)
		}
		if !strings.EqualFold(filepath.Base(f), "README.md") {
			continue
		}
		// The index lists every runbook of the directory.
		links := map[string]bool{}
		for _, l := range relativeLinks(string(b)) {
			links[l] = true
		}
		for _, g := range files {
			if name := filepath.Base(g); name != "README.md" {
				require.True(t, links[name], "README.md does not list %s", name)
			}
		}
	}
}
