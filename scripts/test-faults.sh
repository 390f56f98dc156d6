#!/usr/bin/env bash
# The fault suite (make test-faults): test/faults starts PostgreSQL, Redis and
# NATS servers of its own (throwaway, on free loopback ports, data in a temp
# dir: the machine's shared servers are never stopped or touched), toxiproxy
# between the services and each datastore and between the gateway and the
# blog, and Tungsten distributed (five processes); then, scenario after
# scenario under concurrent writers and readers, kill -9 / SIGTERM of each
# target, a PostgreSQL restart, Redis and NATS down, latency, resets and a
# partition on each link. Every acknowledged write is checked (exactly once,
# visible through the API, outboxes drained) and the table is printed and
# written to test-artifacts/faults/faults.md (and .json), with every
# process's log beside it.
#
#   scripts/test-faults.sh          the full form (about 10 minutes)
#   scripts/test-faults.sh short    the CI subset: kill -9 blog, Redis down 5 s,
#                                   NATS down 5 s, PostgreSQL latency, disk full
#                                   (embedded), blog answers lost (~2 minutes)
#
# The suite itself (load generators, samplers, checks: goroutines sharing
# counters) runs under the race detector; the Tungsten processes it starts
# are the ordinary build (five race-instrumented servers would not fit the
# CI machine's two cores).
#
# Environment: TUNGSTEN_BIN (default: built into bin/tungsten), FAULTS_TIMEOUT
# (go test -timeout, default 30m), FAULTS_ONLY (a regexp: only the scenarios
# of the form whose names match, e.g. FAULTS_ONLY='clock|disk').
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$TUNGSTEN_REPO
cd "$REPO"

MODE=${1:-full}
case "$MODE" in full | short) ;; *) die "usage: scripts/test-faults.sh [full|short]" ;; esac
ART=$REPO/test-artifacts/faults
rm -rf "$ART"
mkdir -p "$ART"

# --- binaries: the servers are started by the test itself (it restarts them) ---
# shellcheck source=deps.sh
source "$REPO/scripts/deps.sh" tools
PG_BINDIR=$(_pg_bindir) || { apt_install --why "initdb/pg_ctl not installed" postgresql; PG_BINDIR=$(_pg_bindir); }
# PostgreSQL refuses to run as root: the test runs it as the postgres user
# (created by the Debian package; created here if only the binaries are there).
if is_root && ! id postgres >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
command -v redis-server >/dev/null || apt_install --why "redis-server not installed" redis-server
REDIS_SERVER=$(command -v redis-server)
NATS_SERVER=$(command -v nats-server || true)
[[ -n "$NATS_SERVER" || ! -x /usr/sbin/nats-server ]] || NATS_SERVER=/usr/sbin/nats-server
if [[ -z "$NATS_SERVER" ]]; then
	apt_install --why "nats-server not installed" nats-server
	NATS_SERVER=$(command -v nats-server || echo /usr/sbin/nats-server)
fi
ensure_binary
log "building toxiproxy-server (go.mod tool github.com/Shopify/toxiproxy/v2/cmd/server)"
timeout 600 go build -o "$REPO/bin/toxiproxy-server" github.com/Shopify/toxiproxy/v2/cmd/server ||
	die "building toxiproxy-server failed"
scrub_env '^TUNGSTEN_'

log "fault suite ($MODE form); logs in test-artifacts/faults/"
set +e
TUNGSTEN_FAULTS=$MODE TUNGSTEN_BIN=$TUNGSTEN_BIN TUNGSTEN_TOXIPROXY_BIN=$REPO/bin/toxiproxy-server \
	TUNGSTEN_PG_BINDIR=$PG_BINDIR TUNGSTEN_REDIS_SERVER=$REDIS_SERVER TUNGSTEN_NATS_SERVER=$NATS_SERVER \
	TUNGSTEN_FAULTS_ART=$ART TUNGSTEN_FAULTS_ONLY=${FAULTS_ONLY:-} \
	go test -race -count=1 -v -timeout "${FAULTS_TIMEOUT:-30m}" ./test/faults/ 2>&1 | tee "$ART/go-test.log" |
	grep -Ev '^=== (RUN|PAUSE|CONT)'
rc=${PIPESTATUS[0]}
set -e
((rc == 0)) || die "fault suite failed (table: test-artifacts/faults/faults.md, logs next to it)"
log "fault suite passed (table: test-artifacts/faults/faults.md)"
