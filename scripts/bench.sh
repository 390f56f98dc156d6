#!/usr/bin/env bash
# `make bench`: the side-by-side benchmark (bench/, a Go program): the
# ceiling (bare net/http replaying the real answers), the all-in-one process
# and the distributed deployment on PostgreSQL + Redis + NATS, each seeded
# through the public API, measured closed loop per endpoint and open loop over
# a sweep of rates. Table on stdout; results.md, results.json and latency.png
# in test-artifacts/bench/.
#
# Environment: BENCH_SHORT=1 (a short form for CI: fewer endpoints, seconds
# and rates), BENCH_DURATION, BENCH_SWEEP_DURATION, BENCH_RATES,
# BENCH_ENDPOINTS, TUNGSTEN_BIN, TUNGSTEN_TEST_*_URL (scripts/deps.sh).
# Extra arguments go to the harness (go run ./bench --help lists them).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TUNGSTEN_REPO"

# shellcheck source=deps.sh
source scripts/deps.sh all
ensure_binary
scrub_env '^TUNGSTEN_'
export TUNGSTEN_BIN

log "benchmark (BENCH_SHORT=${BENCH_SHORT:-0}); other load on this machine shows in the figures"
# The harness stops every process it started and drops its database itself;
# timeout bounds a run that hangs.
timeout -k 30 3600 go run ./bench "$@"
