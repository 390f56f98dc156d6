#!/usr/bin/env bash
# The test command: everything CI runs, in order, stopping at the first failure.
#
#   1. deps         real PostgreSQL, Redis, NATS JetStream, node/npm (scripts/deps.sh)
#   2. gofmt, tidy  no file needs formatting; go.mod/go.sum are tidy (go mod tidy -diff)
#   3. go vet
#   4. staticcheck  (pinned, through the module proxy)
#   5. go test      go test -race -count=1 ./... against the real servers (TUNGSTEN_TEST_*_URL;
#                   NATS too, which a bare go test would embed: docs/testing.md),
#                   including the API suite (test/api) against the embedded default;
#                   with CI set, integration tests fail instead of skipping. One run, with
#                   -race: the tests wait on I/O more than they compute, so the detector
#                   adds little (137 s against 129 s on 2 busy cores); its cost is compiling
#                   the instrumented packages once into an empty build cache
#   6. fuzz         every Fuzz target for FUZZTIME (default 10s) each (scripts/fuzz.sh)
#   7. build        bin/tungsten
#   8. newman embedded      the RealWorld Postman collection against one process
#   9. newman distributed   the same against five processes on PostgreSQL/Redis/NATS,
#                           then the API suite against that deployment
#  10. web UI       the pages in headless Chromium (scripts/test-web.sh)
#  11. observability  dashboards, rules, alerts, traces and logs against real
#                   Prometheus and Jaeger (scripts/test-observability.sh)
#  12. deploy       every Kustomize overlay rendered, decoded and policy-checked, Terraform
#                   parsed, workflows linted, server-side dry run (scripts/test-deploy.sh)
#  13. cluster      a real single-node Kubernetes (v1.37.2, built from the module proxy, cached
#                   in ~/.cache/tungsten): the dev overlay deployed, scraped by Prometheus through
#                   its PodMonitor, its logs shipped to VictoriaLogs, rolled, healed and scaled
#                   under load, newman and the API suite through its gateway Service, then
#                   the doctor evaluation's short form (clean, errors, postgres-down trials)
#                   (scripts/k8s-cluster.sh test; root)
#  14. faults       the short form of `make test-faults` (scripts/test-faults.sh short): kill -9
#                   blog, Redis and NATS down 5 s, PostgreSQL latency, the embedded default's
#                   disk full, blog answers lost, under load; fails on a lost or duplicated
#                   write, an undrained outbox, a 5xx without Retry-After or a recovery over
#                   10 s (docs/faults.md)
#  15. SLO gate     `tungsten loadtest`, a 90/10 mix open loop for 60 s against the embedded
#                   default and the distributed deployment, failing on p95/p99/errors
#                   (scripts/slo-gate.sh; rates and thresholds in docs/performance.md)
#  16. bench        the short form of `make bench` (BENCH_SHORT=1): ceiling, all-in-one and
#                   distributed side by side; figures reported, never asserted
#
# Environment: FUZZTIME, GOTESTFLAGS (extra go test flags, e.g. -v or -run),
# and whatever scripts/deps.sh and scripts/newman.sh read.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TUNGSTEN_REPO"

command -v go >/dev/null || die "the Go toolchain is not on PATH (https://go.dev/dl, or /usr/local/go/bin)"

# Integration tests read CI to decide between skipping and failing when a
# server is missing; make sure it reaches them when it is set.
if [[ -n "${CI:-}" ]]; then export CI; fi

# --- steps and the closing summary ----------------------------------------------

TOTAL_START=$EPOCHREALTIME
STEP_NAMES=()
STEP_TIMES=()
CURRENT_STEP=""
STEP_START=""

elapsed() { # elapsed START: seconds since START (an EPOCHREALTIME), one decimal
	local now=$EPOCHREALTIME
	awk -v a="$1" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}

step_begin() {
	CURRENT_STEP=$1
	STEP_START=$EPOCHREALTIME
	printf '\n==> [%d/16] %s\n' "$((${#STEP_NAMES[@]} + 1))" "$1"
}

step_end() {
	STEP_NAMES+=("$CURRENT_STEP")
	STEP_TIMES+=("$(elapsed "$STEP_START")")
	CURRENT_STEP=""
}

# Runs at exit, after every other cleanup (it is registered first), so it is
# the last thing printed whether the run passed or stopped at a failure.
summary() {
	local rc=${_TUNGSTEN_EXIT_CODE:-0} i failed=0
	printf '\n==> summary\n'
	for i in "${!STEP_NAMES[@]}"; do
		printf '  %-22s ok      %7ss\n' "${STEP_NAMES[i]}" "${STEP_TIMES[i]}"
	done
	if [[ -n "$CURRENT_STEP" ]]; then
		failed=1
		printf '  %-22s FAILED  %7ss\n' "$CURRENT_STEP" "$(elapsed "$STEP_START")"
	elif ((rc != 0)); then
		failed=1 # interrupted between steps
	fi
	printf '  %-22s         %7ss\n' "total" "$(elapsed "$TOTAL_START")"
	if ((failed)); then
		printf 'FAILED at step "%s" (exit code %d); see the output above\n' "${CURRENT_STEP:-?}" "$rc"
	fi
	printf 'steps: %d passed, %d failed\n' "${#STEP_NAMES[@]}" "$failed"
}
on_exit summary

# --- the steps ------------------------------------------------------------------------
# No `if cmd` around the steps: bash ignores set -e inside a command whose
# status is tested, and the sourced deps.sh relies on it.

step_begin "deps"
# Sourced: its exports reach go test and newman, and the throwaway servers it
# may start live until this script exits.
# shellcheck source=deps.sh
source scripts/deps.sh all
log "go $(go env GOVERSION), node $(node --version), npm $(npm --version)"
step_end

step_begin "gofmt, go mod tidy"
bash scripts/lint.sh gofmt
bash scripts/lint.sh tidy
step_end

step_begin "go vet"
bash scripts/lint.sh vet
step_end

step_begin "staticcheck"
bash scripts/lint.sh staticcheck
step_end

step_begin "go test"
# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags
go test -race -count=1 -timeout 20m ${GOTESTFLAGS:-} ./...
step_end

step_begin "fuzz (${FUZZTIME:-10s} each)"
bash scripts/fuzz.sh
step_end

step_begin "build"
go build -o bin/tungsten ./cmd/tungsten
export TUNGSTEN_BIN=$TUNGSTEN_REPO/bin/tungsten
step_end

step_begin "newman embedded"
bash scripts/newman.sh embedded
step_end

step_begin "newman distributed"
bash scripts/newman.sh distributed
step_end

step_begin "web UI (Chromium)"
bash scripts/test-web.sh
step_end

step_begin "observability (Prometheus, Jaeger)"
bash scripts/test-observability.sh
step_end

step_begin "deploy (kustomize, kube-apiserver)"
bash scripts/test-deploy.sh
step_end

step_begin "cluster (Kubernetes single node, scripts/k8s-cluster.sh)"
if is_root; then
	bash scripts/k8s-cluster.sh test
elif [[ -n "${CI:-}" ]]; then
	die "the cluster step needs root (containerd, kubelet, iptables); run CI as root"
else
	warn "not root: skipping the local Kubernetes cluster (make test-cluster as root)"
fi
step_end

step_begin "faults (short form)"
bash scripts/test-faults.sh short
step_end

step_begin "SLO gate (loadtest, 60 s each shape)"
bash scripts/slo-gate.sh all
step_end

step_begin "bench (short form)"
BENCH_SHORT=1 bash scripts/bench.sh
step_end
