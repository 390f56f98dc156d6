#!/usr/bin/env bash
# Builds VictoriaLogs (victoria-logs, the server) and vlagent (its log collector) from
# their Go module and prints the directory holding both. Cached outside the repository:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/tungsten/victorialogs-<version>/{victoria-logs,vlagent}
#
# VictoriaLogs is Apache-2.0 (Grafana Loki is AGPL); its go.mod has no replace
# directives, so `go install module/app/...@version` builds it directly. Cold, this takes
# about 5 minutes of a busy 2-core machine (docs/adr/0017-log-search.md); cached, it is
# instant.
#
# Usage: scripts/victorialogs.sh     (or source it and call victorialogs_dir)
# Environment: VICTORIALOGS_VERSION (default v1.52.1), VICTORIALOGS_BUILD_TIMEOUT (s, 1200)

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

VICTORIALOGS_VERSION=${VICTORIALOGS_VERSION:-v1.52.1}
VICTORIALOGS_MODULE=github.com/VictoriaMetrics/VictoriaLogs

# victorialogs_dir prints the directory of a built victoria-logs and vlagent, building
# them when not cached.
victorialogs_dir() {
	local dir=${XDG_CACHE_HOME:-$HOME/.cache}/tungsten/victorialogs-$VICTORIALOGS_VERSION
	if [[ -x $dir/victoria-logs && -x $dir/vlagent ]]; then
		echo "$dir"
		return 0
	fi
	command -v go >/dev/null || die "go is needed to build VictoriaLogs"
	local tmp=$dir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	log "building VictoriaLogs $VICTORIALOGS_VERSION (victoria-logs, vlagent) into $dir (about 5 minutes, once)"
	if ! GOBIN=$tmp CGO_ENABLED=0 GOFLAGS=-trimpath timeout "${VICTORIALOGS_BUILD_TIMEOUT:-1200}" go install \
		"$VICTORIALOGS_MODULE/app/victoria-logs@$VICTORIALOGS_VERSION" \
		"$VICTORIALOGS_MODULE/app/vlagent@$VICTORIALOGS_VERSION" >"$tmp/build.log" 2>&1; then
		tail -n 40 "$tmp/build.log" >&2
		rm -rf "$tmp"
		die "building VictoriaLogs $VICTORIALOGS_VERSION failed (log above)"
	fi
	rm -f "$tmp/build.log"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	echo "$dir"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
	set -euo pipefail
	victorialogs_dir
fi
