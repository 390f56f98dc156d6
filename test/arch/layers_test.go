// Package arch holds tests of the tree's shape: the layer rules of the
// services (DESIGN.md), and the facts that must stay written in one place.
package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/tungsten-blog/tungsten"

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath string
	Deps       []string // every package it needs, transitively, without its tests
}

// listPackages runs `go list -json` over patterns, from the module root.
func listPackages(t *testing.T, patterns ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Deps"}, patterns...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go list: %s", stderr.String())
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

// layerOf names the layer of a service package
// (internal/<service>/<layer>/...), or "" for any other package.
func layerOf(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/internal/")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 {
		return ""
	}
	switch parts[1] {
	case "domain", "app", "ports", "adapters":
		return parts[1]
	}
	return ""
}

// forbidden lists, per layer, the layers it must not depend on (DESIGN.md:
// dependencies point inwards; the composition root names the adapters).
var forbidden = map[string][]string{
	"domain": {"app", "ports", "adapters"},
	"app":    {"ports", "adapters"},
	"ports":  {"adapters"},
}

func TestLayerRules(t *testing.T) {
	t.Parallel()
	var violations []string
	checked := 0
	for _, p := range listPackages(t, "./internal/...") {
		bad := forbidden[layerOf(p.ImportPath)]
		if bad == nil {
			continue
		}
		checked++
		for _, dep := range p.Deps {
			for _, b := range bad {
				if layerOf(dep) == b {
					violations = append(violations, p.ImportPath+" -> "+dep)
				}
			}
		}
	}
	require.GreaterOrEqual(t, checked, 10, "the service layers were not found: did the tree move?")
	require.Empty(t, violations, "layer rules broken (a domain imports no app/ports/adapters, app no ports/adapters, a port no adapter)")
}

func TestLayerOf(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		module + "/internal/blog/domain":             "domain",
		module + "/internal/blog/ports/eventsub":     "ports",
		module + "/internal/users/adapters/sqlstore": "adapters",
		module + "/internal/auth/app":                "app",
		module + "/internal/users/userevents":        "",
		module + "/internal/platform/httpx":          "",
		module + "/internal/app":                     "",
		"example.com/other/internal/blog/adapters/x": "",
	} {
		require.Equal(t, want, layerOf(path), path)
	}
}
