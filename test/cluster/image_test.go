package cluster

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// dockerfileStage is what the Dockerfile's runtime (last) stage declares.
type dockerfileStage struct {
	Labels     map[string]string
	Env        map[string]string
	User       string
	Workdir    string
	Entrypoint []string
	Cmd        []string
	Exposed    []string
	// Copies maps each COPY destination to its --chown ("" when none).
	Copies map[string]string
}

// buildArgs are the ARGs whose value the image build sets (git describe, HEAD, its date);
// the labels made from them must be set, to any value.
var buildArgs = map[string]bool{"VERSION": true, "REVISION": true, "CREATED": true}

// parseDockerfile reads the last stage of a Dockerfile: continuation lines joined, ARG
// defaults substituted, labels whose value is one of buildArgs kept as "${NAME}".
func parseDockerfile(t *testing.T, path string) dockerfileStage {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (l == "" || strings.HasPrefix(l, "#")) {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\") + " ")
			continue
		}
		cur.WriteString(l)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	var st dockerfileStage
	args := map[string]string{}
	argRef := regexp.MustCompile(`\$\{(\w+)\}`)
	expand := func(s string) string {
		return argRef.ReplaceAllStringFunc(s, func(m string) string {
			name := argRef.FindStringSubmatch(m)[1]
			if buildArgs[name] {
				return m
			}
			return args[name]
		})
	}
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			st = dockerfileStage{Labels: map[string]string{}, Env: map[string]string{}, Copies: map[string]string{}}
			args = map[string]string{}
		case "ARG":
			name, def, _ := strings.Cut(rest, "=")
			args[name] = def
		case "LABEL":
			for k, v := range keyValues(t, rest) {
				st.Labels[k] = expand(v)
			}
		case "ENV":
			for k, v := range keyValues(t, rest) {
				st.Env[k] = expand(v)
			}
		case "USER":
			st.User = rest
		case "WORKDIR":
			st.Workdir = rest
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				st.Exposed = append(st.Exposed, p)
			}
		case "ENTRYPOINT":
			require.NoError(t, json.Unmarshal([]byte(rest), &st.Entrypoint), "ENTRYPOINT must be exec form")
		case "CMD":
			require.NoError(t, json.Unmarshal([]byte(rest), &st.Cmd), "CMD must be exec form")
		case "COPY":
			chown := ""
			f := strings.Fields(rest)
			var paths []string
			for _, w := range f {
				if v, ok := strings.CutPrefix(w, "--chown="); ok {
					chown = v
				} else if !strings.HasPrefix(w, "--") {
					paths = append(paths, w)
				}
			}
			require.GreaterOrEqual(t, len(paths), 2, "COPY %s", rest)
			st.Copies[paths[len(paths)-1]] = chown
		}
	}
	sort.Strings(st.Exposed)
	return st
}

// keyValues splits `k1="v 1" k2=v2` (Dockerfile LABEL/ENV syntax).
func keyValues(t *testing.T, s string) map[string]string {
	t.Helper()
	re := regexp.MustCompile(`([\w.\-]+)=("(?:[^"\\]|\\.)*"|\S+)`)
	kv := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(s, -1) {
		v := m[2]
		if strings.HasPrefix(v, `"`) {
			v = strings.ReplaceAll(strings.Trim(v, `"`), `\"`, `"`)
		}
		kv[m[1]] = v
	}
	require.NotEmpty(t, kv, "no key=value in %q", s)
	return kv
}

// imageConfig is the part of an OCI/Docker image config the Dockerfile decides.
type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		User         string              `json:"User"`
		Env          []string            `json:"Env"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		WorkingDir   string              `json:"WorkingDir"`
		Labels       map[string]string   `json:"Labels"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	} `json:"config"`
}

// fileEntry is one file of the image's layers.
type fileEntry struct {
	Mode     int64
	UID, GID int
	Dir      bool
}

// readArchive reads a docker archive (crane's `-o`): its config and every file of its layers.
func readArchive(t *testing.T, path string) (imageConfig, map[string]fileEntry) {
	t.Helper()
	members := map[string][]byte{}
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		members[h.Name] = b
	}
	var manifest []struct {
		Config string
		Layers []string
	}
	require.NoError(t, json.Unmarshal(members["manifest.json"], &manifest), "manifest.json of %s", path)
	require.Len(t, manifest, 1)
	var cfg imageConfig
	require.NoError(t, json.Unmarshal(members[manifest[0].Config], &cfg))
	files := map[string]fileEntry{}
	for _, l := range manifest[0].Layers {
		var r io.Reader = bytes.NewReader(members[l])
		if gz, err := gzip.NewReader(bytes.NewReader(members[l])); err == nil {
			r = gz
		}
		lt := tar.NewReader(r)
		for {
			h, err := lt.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "layer %s", l)
			name := "/" + strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
			files[strings.TrimSuffix(name, "/")] = fileEntry{Mode: h.Mode, UID: h.Uid, GID: h.Gid, Dir: h.Typeflag == tar.TypeDir}
		}
	}
	return cfg, files
}

// TestImageMatchesDockerfile: the image built without Docker (scripts/k8s-images.sh) has
// what the Dockerfile's runtime stage declares.
func TestImageMatchesDockerfile(t *testing.T) {
	gate(t)
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	want := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	cfg, files := readArchive(t, filepath.Join(env(t, "TUNGSTEN_CLUSTER_IMAGES"), "tungsten.tar"))

	require.Equal(t, "linux", cfg.OS)
	require.Equal(t, "amd64", cfg.Architecture)
	require.Equal(t, want.User, cfg.Config.User, "USER")
	require.Equal(t, want.Entrypoint, cfg.Config.Entrypoint, "ENTRYPOINT")
	require.Equal(t, want.Cmd, cfg.Config.Cmd, "CMD")
	require.Equal(t, want.Workdir, cfg.Config.WorkingDir, "WORKDIR")
	var exposed []string
	for p := range cfg.Config.ExposedPorts {
		exposed = append(exposed, p)
	}
	sort.Strings(exposed)
	require.Equal(t, want.Exposed, exposed, "EXPOSE")
	for k, v := range want.Env {
		require.Contains(t, cfg.Config.Env, k+"="+v, "ENV %s", k)
	}
	require.Len(t, cfg.Config.Labels, len(want.Labels), "the same LABEL keys")
	for k, v := range want.Labels {
		got, ok := cfg.Config.Labels[k]
		require.True(t, ok, "LABEL %s missing", k)
		if strings.HasPrefix(v, "${") {
			require.NotEmpty(t, got, "LABEL %s (from build arg %s)", k, v)
			continue
		}
		require.Equal(t, v, got, "LABEL %s", k)
	}
	require.NotEmpty(t, want.Copies, "the Dockerfile copies files into the runtime stage")
	for dst, chown := range want.Copies {
		f, ok := files[strings.TrimSuffix(dst, "/")]
		require.True(t, ok, "COPY destination %s missing from the image", dst)
		if chown != "" {
			require.Equal(t, chown, fmt.Sprintf("%d:%d", f.UID, f.GID), "owner of %s (COPY --chown)", dst)
		} else {
			require.Equal(t, 0, f.UID, "owner of %s", dst)
		}
		if !f.Dir {
			require.NotZero(t, f.Mode&0o111, "%s must be executable", dst)
		}
	}
	// The base image's /tmp and passwd entry of the user (distroless/static:nonroot).
	require.Contains(t, files, "/tmp")
	require.Contains(t, files, "/etc/passwd")
}
