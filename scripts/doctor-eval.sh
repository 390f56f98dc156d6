#!/usr/bin/env bash
# The evaluation of `tungsten doctor` (test/doctor) against the RUNNING local cluster
# (scripts/k8s-cluster.sh up): under a steady 30 req/s read/write load through the
# gateway Service, fault after fault on a target drawn by a seeded RNG — app faults
# through the admin API (latency, errors, cpu, memory, a dependency fault of one
# service's PostgreSQL calls, unready), crash loops (TUNGSTEN_FAULTS_CRASH_ON_START or a
# bad flag) and killed pods, PostgreSQL and Redis slow or unreachable through toxiproxy,
# NATS scaled to zero, node CPU pressure — and fault-free trials; each time the doctor
# built from the repo runs against the cluster's kubeconfig, Prometheus (127.0.0.1:19090),
# VictoriaLogs (127.0.0.1:19428, when it answers) and Jaeger (127.0.0.1:16686, when it
# answers), and its
# verdict is scored against the injected ground truth. Table and every trial's JSON:
# test-artifacts/doctor/.
#
#   scripts/doctor-eval.sh full    every class, TUNGSTEN_DOCTOR_TRIALS (3) trials each
#                                  (about 3 minutes a trial); misses are reported, not failed
#   scripts/doctor-eval.sh short   the CI form (scripts/k8s-cluster.sh test): one clean,
#                                  one errors, one postgres-down trial (~9 minutes: the first
#                                  waits out the doctor's look-back); fails if the doctor
#                                  crashes, takes over 60 s, or misses one
#
# make test-doctor runs the full form on a cluster of its own (up, evaluate, down).
# Environment: TUNGSTEN_DOCTOR_SEED (reproduce a run), TUNGSTEN_DOCTOR_TRIALS,
# TUNGSTEN_DOCTOR_CLASSES (e.g. clean,errors,nats-down), TUNGSTEN_DOCTOR_WINDOW,
# TUNGSTEN_BIN, TUNGSTEN_K8S_DIR.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$TUNGSTEN_REPO
cd "$REPO"

MODE=${1:-full}
case "$MODE" in full | short) ;; *) die "usage: scripts/doctor-eval.sh [full|short]" ;; esac
P=${TUNGSTEN_K8S_DIR:-/var/lib/tungsten-k8s}
[[ -f $P/env ]] || die "no running local cluster ($P/env): scripts/k8s-cluster.sh up first"
# shellcheck disable=SC1091
source "$P/env"
ART=$REPO/test-artifacts/doctor
rm -rf "$ART"
mkdir -p "$ART"

ensure_binary
"$TUNGSTEN_BIN" doctor --help >/dev/null 2>&1 || die "$TUNGSTEN_BIN has no doctor command"
timeout 600 go build -o "$REPO/bin/toxiproxy-server" github.com/Shopify/toxiproxy/v2/cmd/server ||
	die "building toxiproxy-server failed"

KCTL=$(command -v kubectl)
gw=$("$KCTL" -n tungsten get svc tungsten-gateway -o jsonpath='{.spec.clusterIP}'):$("$KCTL" -n tungsten get svc tungsten-gateway -o jsonpath='{.spec.ports[0].port}')
LOGS_URL= JAEGER_URL=
if curl -fsS -m 2 -o /dev/null http://127.0.0.1:19428/health 2>/dev/null; then LOGS_URL=http://127.0.0.1:19428; fi
J=${TUNGSTEN_CLUSTER_JAEGER:-http://127.0.0.1:16686}
if curl -fsS -m 2 -o /dev/null "$J/api/services" 2>/dev/null; then JAEGER_URL=$J; fi
log "doctor evaluation ($MODE): gateway http://$gw, Prometheus $TUNGSTEN_CLUSTER_PROMETHEUS, logs ${LOGS_URL:-none}, Jaeger ${JAEGER_URL:-none answers: the doctor reports it as not consulted}"

# at most ~5 minutes a trial (show 90 s, doctor 120 s, recovery 180 s, worst cases)
t=$((${TUNGSTEN_DOCTOR_TRIALS:-3} * 15 * 5 + 20))m
[[ $MODE == short ]] && t=15m
set +e
TUNGSTEN_DOCTOR_EVAL=$MODE TUNGSTEN_BIN=$TUNGSTEN_BIN KUBECTL=$KCTL \
	TUNGSTEN_CLUSTER_GATEWAY="http://$gw" TUNGSTEN_TOXIPROXY_BIN=$REPO/bin/toxiproxy-server \
	TUNGSTEN_DOCTOR_LOGS_URL=$LOGS_URL TUNGSTEN_DOCTOR_JAEGER_URL=$JAEGER_URL TUNGSTEN_DOCTOR_ART=$ART \
	go test -count=1 -v -timeout "${DOCTOR_TIMEOUT:-$t}" -run '^TestDoctorEval$' ./test/doctor/ 2>&1 |
	tee "$ART/go-test.log" | grep --line-buffered -Ev '^=== (RUN|PAUSE|CONT)'
rc=${PIPESTATUS[0]}
set -e
((rc == 0)) || die "doctor evaluation failed (test-artifacts/doctor/go-test.log, doctor-eval.md)"
log "doctor evaluation done: test-artifacts/doctor/doctor-eval.md"
