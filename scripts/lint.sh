#!/usr/bin/env bash
# Static checks: gofmt (no file may need reformatting), go mod tidy (go.mod and
# go.sum as tidy would leave them), go vet and staticcheck.
#
#   scripts/lint.sh [gofmt|tidy|vet|staticcheck|all]   (default all)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TUNGSTEN_REPO"

check_gofmt() {
	local files unformatted
	# Our Go files only: not node_modules, vendored or hidden directories.
	files=$(find . \( -name node_modules -o -name vendor -o -name test-artifacts -o -name '.?*' \) -prune -o -name '*.go' -type f -print)
	[[ -n "$files" ]] || { log "gofmt: no Go files"; return 0; }
	# shellcheck disable=SC2086 # one path per word; ours have no spaces
	unformatted=$(gofmt -l $files)
	if [[ -n "$unformatted" ]]; then
		printf '%s\n' "$unformatted" >&2
		die "gofmt: the files above need formatting (run: gofmt -w <file>)"
	fi
	log "gofmt: clean"
}

# go.mod and go.sum must be committed tidy: `go mod tidy -diff` changes
# nothing and fails, printing the diff, when tidy would change them.
check_tidy() {
	go mod tidy -diff || die "go.mod/go.sum are not tidy: run go mod tidy and commit the result"
	log "go mod tidy: clean"
}

check_vet() {
	go vet ./...
	log "go vet: clean"
}

# A pinned version, fetched through the module proxy on first use and cached
# by the Go toolchain afterwards.
STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2

check_staticcheck() {
	go run "$STATICCHECK" ./...
	log "staticcheck: clean"
}

case "${1:-all}" in
gofmt) check_gofmt ;;
tidy) check_tidy ;;
vet) check_vet ;;
staticcheck) check_staticcheck ;;
all) check_gofmt; check_tidy; check_vet; check_staticcheck ;;
*) die "usage: scripts/lint.sh [gofmt|tidy|vet|staticcheck|all]" ;;
esac
