#!/usr/bin/env bash
# The SLO gate: a real Tungsten under a steady 90/10 read/write mix for a
# minute, failing on latency percentiles and errors (never on absolute req/s,
# which depends on the machine).
#
#   scripts/slo-gate.sh [all]        embedded, then distributed (the default)
#   scripts/slo-gate.sh embedded     one `serve --target=all` process, SQLite + embedded NATS
#   scripts/slo-gate.sh distributed  five processes on a fresh PostgreSQL database, Redis, NATS
#
# It seeds the default data set (50 users, 500 articles, 5,000 comments,
# follows, favorites) through the public API, then runs `tungsten loadtest`
# open loop at a fixed rate. Rates and thresholds are chosen in
# docs/performance.md#the-slo-gate: a fraction of what this 2-core machine
# serves with other work running, and percentiles several times what was
# measured there, so that only a real regression fails it.
# Reports (text and JSON) and server logs go to test-artifacts/slo-gate-<mode>/.
#
# Environment (defaults in brackets):
#   SLO_DURATION [60s]
#   SLO_EMBEDDED_RATE [100]   SLO_EMBEDDED_P95 [250ms]     SLO_EMBEDDED_P99 [750ms]
#   SLO_DISTRIBUTED_RATE [50] SLO_DISTRIBUTED_P95 [400ms]  SLO_DISTRIBUTED_P99 [1s]
#   SLO_MAX_ERROR_RATIO [0.001]
#   TUNGSTEN_BIN, READY_TIMEOUT, TUNGSTEN_TEST_*_URL as for scripts/newman.sh
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$TUNGSTEN_REPO
cd "$REPO"

MODE=${1:-all}
case "$MODE" in
all)
	bash "$REPO/scripts/slo-gate.sh" embedded
	exec bash "$REPO/scripts/slo-gate.sh" distributed
	;;
embedded | distributed) ;;
*) die "usage: scripts/slo-gate.sh [all|embedded|distributed]" ;;
esac

SLO_DURATION=${SLO_DURATION:-60s}
SLO_MAX_ERROR_RATIO=${SLO_MAX_ERROR_RATIO:-0.001}
if [[ "$MODE" == embedded ]]; then
	RATE=${SLO_EMBEDDED_RATE:-100}
	P95=${SLO_EMBEDDED_P95:-250ms}
	P99=${SLO_EMBEDDED_P99:-750ms}
else
	RATE=${SLO_DISTRIBUTED_RATE:-50}
	P95=${SLO_DISTRIBUTED_P95:-400ms}
	P99=${SLO_DISTRIBUTED_P99:-1s}
fi
ART=$REPO/test-artifacts/slo-gate-$MODE
rm -rf "$ART"
mkdir -p "$ART"

if [[ "$MODE" == distributed ]]; then
	# shellcheck source=deps.sh
	source "$REPO/scripts/deps.sh" all # no-op when test.sh already set them up
fi
ensure_binary
scrub_env '^TUNGSTEN_'

RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tungsten-slo.XXXXXX")
on_exit "rm -rf '$WORK'"

# One client address sends everything, so the per-IP limits that protect a
# real deployment are lifted; the gate measures serving, not throttling.
LIMITS=(--gateway.rate-limit 100000000 --auth.login-ip-limit 1000000 --auth.login-account-limit 1000000 --auth.login-ip-account-limit 1000000 --auth.register-ip-limit 1000000 --blog.write-limit 1000000 --blog.favorite-limit 1000000 --users.follow-limit 1000000)

# shellcheck source=cluster.sh
source "$REPO/scripts/cluster.sh"
if [[ "$MODE" == embedded ]]; then
	free_port http
	free_port admin
	start tungsten "$admin" serve --target=all --data-dir "$WORK/data" \
		--http-addr "127.0.0.1:$http" --admin-addr "127.0.0.1:$admin" --drain-delay 0s "${LIMITS[@]}"
	API_URL="http://127.0.0.1:$http/api"
else
	start_distributed slo "${LIMITS[@]}"
fi
log "waiting for /readyz (${READY_TIMEOUT:-30}s at most)"
wait_ready

log "SLO gate $MODE: $RATE req/s for $SLO_DURATION, p95 <= $P95, p99 <= $P99, error ratio <= $SLO_MAX_ERROR_RATIO"
set +e
timeout -k 10 900 "$TUNGSTEN_BIN" loadtest --url "${API_URL%/api}" --rate "$RATE" --duration "$SLO_DURATION" \
	--p95 "$P95" --p99 "$P99" --max-error-ratio "$SLO_MAX_ERROR_RATIO" --json-report "$ART/report.json" \
	2> >(tee "$ART/loadtest.log" >&2) | tee "$ART/summary.txt"
rc=${PIPESTATUS[0]}
set -e
((rc != 124)) || die "loadtest did not finish within 900 s"
((rc == 0)) || die "SLO gate $MODE failed (report: test-artifacts/slo-gate-$MODE/, server logs next to it)"
log "SLO gate $MODE passed"
