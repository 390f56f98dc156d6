#!/usr/bin/env bash
# Drives the web UI in headless Chromium (playwright-core) against a real
# Tungsten: `serve --target=all` on the embedded default, free loopback ports,
# a throwaway data directory. Screenshots (1280 and 375 px wide) and the
# server log land in test-artifacts/web/.
#
# Installs Debian's chromium (and a Korean font, fonts-nanum) when run as
# root and they are missing.
#
# Environment:
#   TUNGSTEN_BIN      binary to run (default: built into bin/tungsten)
#   READY_TIMEOUT     seconds to wait for /readyz (default 30)
#   WEB_TEST_TIMEOUT  seconds the browser tests may take (default 240)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$TUNGSTEN_REPO
cd "$REPO"

READY_TIMEOUT=${READY_TIMEOUT:-30}
WEB_TEST_TIMEOUT=${WEB_TEST_TIMEOUT:-240}
ART=$REPO/test-artifacts/web
WEB_DIR=$REPO/test/web
rm -rf "$ART"
mkdir -p "$ART"

# --- tools ----------------------------------------------------------------------------
need_cmd chromium chromium
need_cmd node nodejs
need_cmd curl curl
# A Hangul font, or the Korean screenshots show boxes instead of text.
if command -v fc-list >/dev/null && [[ -z "$(fc-list :lang=ko family)" ]]; then
	apt_install --why "no Korean font for the Korean pages" fonts-nanum
fi
command -v npm >/dev/null || die "npm not found (Node.js 18+ with npm is needed for playwright-core)"

npm_ci "$WEB_DIR" playwright-core
ensure_binary
scrub_env '^TUNGSTEN_'

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tungsten-web.XXXXXX")
on_exit "rm -rf '$WORK'"

# --- server -------------------------------------------------------------------------------
SERVER_PID=""
stop_server() {
	[[ -n "$SERVER_PID" ]] || return 0
	local deadline=$((SECONDS + 15))
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		warn "tungsten did not stop within 15 s; killing it"
		pkill -KILL -P "$SERVER_PID" 2>/dev/null || true
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}

free_port http
free_port admin
log "starting tungsten serve --target=all on 127.0.0.1:$http"
on_exit stop_server
# Under `timeout`: no server outlives this script by more than 30 minutes.
timeout -k 10 1800 "$TUNGSTEN_BIN" serve --target=all --data-dir "$WORK/data" \
	--http-addr "127.0.0.1:$http" --admin-addr "127.0.0.1:$admin" --drain-delay 0s \
	--auth.login-ip-limit 1000 --gateway.rate-limit 100000 --auth.register-ip-limit 1000 --blog.write-limit 1000 \
	--blog.favorite-limit 1000 --users.follow-limit 1000 >"$ART/tungsten.log" 2>&1 &
SERVER_PID=$!

deadline=$((SECONDS + READY_TIMEOUT))
until curl -fsS -o /dev/null -m 2 "http://127.0.0.1:$admin/readyz" 2>/dev/null; do
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		tail -n 60 "$ART/tungsten.log" >&2 || true
		die "tungsten exited before it was ready (log above)"
	fi
	((SECONDS < deadline)) || { tail -n 60 "$ART/tungsten.log" >&2; die "not ready after ${READY_TIMEOUT}s"; }
	sleep 0.2
done

# --- browser tests ------------------------------------------------------------------------
log "browser tests against http://127.0.0.1:$http (screenshots: test-artifacts/web/)"
set +e
HOME=$WORK WEB_TEST_TIMEOUT_MS=$((WEB_TEST_TIMEOUT * 1000)) \
	timeout -k 10 $((WEB_TEST_TIMEOUT + 30)) node "$WEB_DIR/run.js" "http://127.0.0.1:$http" "$ART" 2>&1 | tee "$ART/results.txt"
rc=${PIPESTATUS[0]}
set -e
((rc != 124)) || die "the browser tests did not finish within ${WEB_TEST_TIMEOUT}s"
((rc == 0)) || die "web UI tests failed (results, screenshots and server log: test-artifacts/web/)"
log "web UI tests passed; screenshots in test-artifacts/web/"
