#!/usr/bin/env bash
# Builds Jaeger v2 (the all-in-one `jaeger` binary) from its Go module and
# prints the binary's path. The result is cached outside the repository:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/tungsten/jaeger-<version>
#
# Jaeger's go.mod has `replace` directives, so `go install module@version`
# refuses it. The build therefore runs inside a throwaway wrapper module that
# requires Jaeger and copies its replace directives (and go.sum). Cold, this
# takes a few minutes; cached, it is instant.
#
# Usage: scripts/jaeger.sh            (or source it and call jaeger_bin)
# Environment: JAEGER_VERSION (default v1.76.0), JAEGER_BUILD_TIMEOUT (s, default 1800)

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

JAEGER_VERSION=${JAEGER_VERSION:-v1.76.0}
JAEGER_MODULE=github.com/jaegertracing/jaeger

# jaeger_bin prints the path of a built Jaeger, building it when not cached.
jaeger_bin() {
	local cache=${XDG_CACHE_HOME:-$HOME/.cache}/tungsten
	local bin=$cache/jaeger-$JAEGER_VERSION
	if [[ -x "$bin" ]]; then
		echo "$bin"
		return 0
	fi
	command -v go >/dev/null || die "go is needed to build Jaeger"
	mkdir -p "$cache"
	local work dir
	work=$(mktemp -d "${TMPDIR:-/tmp}/tungsten-jaeger-build.XXXXXX")
	log "building Jaeger $JAEGER_VERSION into $bin (a few minutes, once)"
	dir=$(cd "$work" && GOFLAGS=-mod=mod timeout 300 go mod download -json "$JAEGER_MODULE@$JAEGER_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || true
	[[ -n "$dir" && -f "$dir/go.mod" ]] || { rm -rf "$work"; die "cannot download $JAEGER_MODULE@$JAEGER_VERSION from the Go module proxy"; }
	{
		echo "module tungsten.local/jaeger-build"
		echo
		grep -m1 '^go ' "$dir/go.mod"
		echo
		echo "require $JAEGER_MODULE $JAEGER_VERSION"
		echo
		# Single-line and block replace directives, copied verbatim.
		awk '/^replace \(/{b=1} b{print} b&&/^\)/{b=0} /^replace [^(]/{print}' "$dir/go.mod"
	} >"$work/go.mod"
	cp "$dir/go.sum" "$work/go.sum"
	chmod u+w "$work/go.sum"
	local rc=0 limit=${JAEGER_BUILD_TIMEOUT:-1800}
	(cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 timeout "$limit" \
		go build -trimpath -o "$bin.tmp" "$JAEGER_MODULE/cmd/jaeger" >"$work/build.log" 2>&1) || rc=$?
	if ((rc != 0)); then
		grep -v '^go: downloading ' "$work/build.log" | tail -n 40 >&2
		rm -rf "$work" "$bin.tmp"
		((rc == 124)) && die "building Jaeger $JAEGER_VERSION took over ${limit}s (JAEGER_BUILD_TIMEOUT): a busy machine; run it again"
		die "building Jaeger $JAEGER_VERSION failed (log above)"
	fi
	mv "$bin.tmp" "$bin"
	rm -rf "$work"
	echo "$bin"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	set -euo pipefail
	jaeger_bin
fi
