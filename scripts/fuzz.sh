#!/usr/bin/env bash
# Runs every Go fuzz target (func FuzzXxx(f *testing.F) in a *_test.go file)
# for a short while each, one at a time: `go test -fuzz` takes one target of
# one package per run.
#
#   FUZZTIME  how long each target runs (default 10s; any -fuzztime value, e.g. 1m or 5000x)
#
# A failing input is written by Go to the package's testdata/fuzz/; commit it
# with the fix so that it stays a regression test.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TUNGSTEN_REPO"

FUZZTIME=${FUZZTIME:-10s}
[[ "$FUZZTIME" =~ ^[0-9]+$ ]] && FUZZTIME="${FUZZTIME}s"

# "dir name" pairs, in a stable order. Directories Go ignores (testdata, _x,
# .x) and tool directories are skipped.
mapfile -t targets < <(
	find . \( -name node_modules -o -name testdata -o -name vendor -o -name 'test-artifacts' -o -name '[._]?*' \) -prune -o \
		-name '*_test.go' -type f -print |
		sort |
		while IFS= read -r file; do
			{ grep -oE '^func Fuzz[A-Za-z0-9_]*\([A-Za-z_][A-Za-z0-9_]* \*testing\.F\)' "$file" || true; } |
				sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' |
				while IFS= read -r name; do echo "$(dirname "$file") $name"; done
		done
)

if ((${#targets[@]} == 0)); then
	# Guard against the listing above silently breaking.
	if grep -rqE --include='*_test.go' --exclude-dir=node_modules '^func Fuzz' .; then
		die "fuzz targets exist but none were listed: scripts/fuzz.sh needs fixing"
	fi
	log "no fuzz targets found"
	exit 0
fi

log "${#targets[@]} fuzz target(s), $FUZZTIME each"
for t in "${targets[@]}"; do
	dir=${t% *}
	name=${t#* }
	log "fuzzing $name in $dir"
	# go test's own -timeout (10m by default) bounds each run.
	for attempt in 1 2; do
		out=$(mktemp)
		if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" "$dir" 2>&1 | tee "$out"; then
			rm -f "$out"
			break
		fi
		# Go 1.26's fuzz coordinator can report the end of a -fuzztime window as a failure:
		# a bare "context deadline exceeded", no input written (go.dev/issue/75804, fixed in
		# Go 1.27). That, and only that, is run once more; a real finding writes its input.
		if ((attempt == 1)) && grep -q '^    context deadline exceeded$' "$out" && ! grep -q 'Failing input written' "$out"; then
			warn "$name: the Go 1.26 fuzz-deadline race (go.dev/issue/75804, no input written): running it once more"
			rm -f "$out"
			continue
		fi
		rm -f "$out"
		die "fuzz target $name in $dir failed (a failing input, if any, is in $dir/testdata/fuzz/$name/)"
	done
done
