#!/usr/bin/env bash
# Proves the observability contract against real tools (make test-observability):
# Tungsten distributed on loopback (every target its own process on PostgreSQL,
# Redis and NATS), Jaeger v2 receiving their OTLP traces, VictoriaLogs receiving
# their stdout (the <target>.log files this script writes) from vlagent's file
# collector (scripts/victorialogs.sh), and Prometheus (the
# Debian package, own config, temp data dir) scraping every admin port and
# loading deploy/observability/prometheus/rules. It then runs
#   - promtool check rules and promtool test rules (a unit test per alert);
#   - test/observability: drives traffic (success and error paths), finds the
#     access line of one POST /api/articles, checks its trace in Jaeger
#     (gateway, blog, SQL, Redis, NATS publish, consumer), finds the same
#     trace_id's lines of several services in VictoriaLogs, and evaluates every
#     dashboard panel and every rule against Prometheus.
# and prints `observability: N passed, M failed`. Everything it starts is
# stopped at exit; logs are kept in test-artifacts/observability/.
#
#   scripts/test-observability.sh        run the checks
#   scripts/test-observability.sh --up   start the same stack and keep it running
#                                        (make observability-up); Ctrl-C stops it
#
# Environment: TUNGSTEN_BIN (default: built into bin/tungsten), READY_TIMEOUT (30),
# OBS_TEST_TIMEOUT (seconds for the Go checks, 300), JAEGER_VERSION (scripts/jaeger.sh).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$TUNGSTEN_REPO
cd "$REPO"

UP=""
case "${1:-}" in
"") ;;
--up) UP=1 ;;
*) die "usage: scripts/test-observability.sh [--up]" ;;
esac

T0=$SECONDS
READY_TIMEOUT=${READY_TIMEOUT:-30}
OBS_TEST_TIMEOUT=${OBS_TEST_TIMEOUT:-300}
OBS=$REPO/deploy/observability
ART=$REPO/test-artifacts/observability
rm -rf "$ART"
mkdir -p "$ART"

PASSED=0
FAILED=0
FAILURES=()
pass() { PASSED=$((PASSED + $1)); }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); warn "$1"; }
summary() {
	local rc=${_TUNGSTEN_EXIT_CODE:-0}
	[[ -n "$UP" ]] && return 0
	((rc == 0 || FAILED > 0)) || fail "the run stopped early (exit status $rc)"
	printf 'observability: %d passed, %d failed (%ds)\n' "$PASSED" "$FAILED" "$((SECONDS - T0))" >&2
	local f
	for f in "${FAILURES[@]}"; do printf '  FAILED: %s\n' "$f" >&2; done
}
on_exit summary

# --- tools --------------------------------------------------------------------------
# shellcheck source=deps.sh
source "$REPO/scripts/deps.sh" all
need_cmd promtool prometheus
PROMETHEUS=$(command -v prometheus || echo /usr/bin/prometheus)
[[ -x "$PROMETHEUS" ]] || die "prometheus not found (Debian package 'prometheus')"
# shellcheck source=jaeger.sh
source "$REPO/scripts/jaeger.sh"
JAEGER=$(jaeger_bin)
# shellcheck source=victorialogs.sh
source "$REPO/scripts/victorialogs.sh"
VLOGS_DIR=$(victorialogs_dir)

# --- rules: static checks -----------------------------------------------------------
if [[ -z "$UP" ]]; then
	log "promtool check rules"
	if promtool check rules "$OBS"/prometheus/rules/*.yml >"$ART/promtool-check.log" 2>&1; then
		pass 1
	else
		cat "$ART/promtool-check.log" >&2
		fail "promtool check rules (log above)"
	fi
	log "promtool test rules"
	if (cd "$OBS/prometheus/tests" && promtool test rules ./*.yml) >"$ART/promtool-test.log" 2>&1; then
		n=$(cat "$OBS"/prometheus/tests/*.yml | grep -c 'alertname:')
		log "promtool test rules: $n cases passed"
		pass "$n"
	else
		cat "$ART/promtool-test.log" >&2
		fail "promtool test rules (log above)"
	fi
fi

ensure_binary
scrub_env '^(TUNGSTEN_|OTEL_)'

RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tungsten-obs.XXXXXX")
on_exit "rm -rf '$WORK'"

# shellcheck source=cluster.sh
source "$REPO/scripts/cluster.sh"
# In --up mode the stack runs until interrupted: no 30-minute cap then.
[[ -z "$UP" ]] || CLUSTER_MAX_SECONDS=86400

# wait_http NAME URL: waits up to 30 s for URL to answer 200.
wait_http() {
	local deadline=$((SECONDS + 30))
	until curl -fsS -o /dev/null -m 2 "$2" 2>/dev/null; do
		((SECONDS < deadline)) || { show_logs "$1"; die "$1 not ready after 30 s (log above)"; }
		sleep 0.2
	done
}

# --- Jaeger -----------------------------------------------------------------------------
export JAEGER_HEALTH_PORT JAEGER_QUERY_PORT JAEGER_QUERY_GRPC_PORT JAEGER_OTLP_HTTP_PORT
free_port JAEGER_HEALTH_PORT
free_port JAEGER_QUERY_PORT
free_port JAEGER_QUERY_GRPC_PORT
free_port JAEGER_OTLP_HTTP_PORT
log "starting Jaeger ($JAEGER)"
((${#PIDS[@]})) || on_exit stop_all
timeout -k 10 "${CLUSTER_MAX_SECONDS:-1800}" "$JAEGER" --config "$OBS/jaeger/config.yaml" >"$ART/jaeger.log" 2>&1 &
NAMES+=(jaeger)
PIDS+=("$!")
ADMIN+=("")
JAEGER_URL="http://127.0.0.1:$JAEGER_QUERY_PORT"
wait_http jaeger "http://127.0.0.1:$JAEGER_HEALTH_PORT/status"

# --- VictoriaLogs and vlagent -------------------------------------------------------------
# vlagent tails the files the Tungsten processes' stdout goes to (started first, so it
# finds each file as it appears: -fileCollector.refreshInterval 1s) and ships them to
# VictoriaLogs; JSON lines become fields (msg -> _msg, time -> _time, level, service,
# trace_id, route, status, ...).
free_port VLOGS_PORT
free_port VLAGENT_PORT
log "starting VictoriaLogs on 127.0.0.1:$VLOGS_PORT and vlagent"
timeout -k 10 "${CLUSTER_MAX_SECONDS:-1800}" "$VLOGS_DIR/victoria-logs" -httpListenAddr "127.0.0.1:$VLOGS_PORT" \
	-storageDataPath "$WORK/victorialogs" -retentionPeriod 1d >"$ART/victorialogs.log" 2>&1 &
NAMES+=(victorialogs)
PIDS+=("$!")
ADMIN+=("")
VLOGS_URL="http://127.0.0.1:$VLOGS_PORT"
wait_http victorialogs "$VLOGS_URL/health"
vlagent_globs=()
for svc in gateway auth users blog web; do vlagent_globs+=(-fileCollector.glob "$ART/$svc.log"); done
timeout -k 10 "${CLUSTER_MAX_SECONDS:-1800}" "$VLOGS_DIR/vlagent" -httpListenAddr "127.0.0.1:$VLAGENT_PORT" \
	-tmpDataPath "$WORK/vlagent" "${vlagent_globs[@]}" -fileCollector.refreshInterval 1s \
	-remoteWrite.url "$VLOGS_URL/insert/native" -remoteWrite.flushInterval 1s >"$ART/vlagent.log" 2>&1 &
NAMES+=(vlagent)
PIDS+=("$!")
ADMIN+=("")
wait_http vlagent "http://127.0.0.1:$VLAGENT_PORT/health"

# --- Tungsten ---------------------------------------------------------------------------
# Standard OTEL_* variables, as in production; a short batch delay so the
# trace is complete in Jaeger within a second.
export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$JAEGER_OTLP_HTTP_PORT"
export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf
export OTEL_TRACES_SAMPLER=parentbased_always_on
export OTEL_BSP_SCHEDULE_DELAY=200
start_distributed obs --gateway.rate-limit 100000 --auth.login-ip-limit 1000 --auth.register-ip-limit 100000 --blog.write-limit 100000 --blog.favorite-limit 100000 --users.follow-limit 100000 --log-level info
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_PROTOCOL OTEL_TRACES_SAMPLER OTEL_BSP_SCHEDULE_DELAY
# wait_ready polls admin ports: Jaeger, VictoriaLogs and vlagent have none, so only the
# Tungsten processes.
_tools=("${NAMES[@]:0:3}") _tool_pids=("${PIDS[@]:0:3}")
NAMES=("${NAMES[@]:3}") PIDS=("${PIDS[@]:3}") ADMIN=("${ADMIN[@]:3}")
log "waiting for /readyz (${READY_TIMEOUT}s at most)"
wait_ready
NAMES=("${_tools[@]}" "${NAMES[@]}") PIDS=("${_tool_pids[@]}" "${PIDS[@]}") ADMIN=("" "" "" "${ADMIN[@]}")

# --- Prometheus -------------------------------------------------------------------------
free_port PROM_PORT
{
	cat <<YAML
# Written by scripts/test-observability.sh: every Tungsten target's admin port.
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $OBS/prometheus/rules/*.yml
scrape_configs:
  - job_name: tungsten
    static_configs:
YAML
	for svc in "${SERVICES[@]}"; do
		printf '      - targets: ["127.0.0.1:%s"]\n        labels: {target: %s}\n' "${ADMIN_PORT[$svc]}" "$svc"
	done
} >"$ART/prometheus.yml"
log "starting Prometheus on 127.0.0.1:$PROM_PORT"
timeout -k 10 "${CLUSTER_MAX_SECONDS:-1800}" "$PROMETHEUS" --config.file "$ART/prometheus.yml" --storage.tsdb.path "$WORK/prometheus" \
	--web.listen-address "127.0.0.1:$PROM_PORT" --enable-feature=exemplar-storage >"$ART/prometheus.log" 2>&1 &
NAMES+=(prometheus)
PIDS+=("$!")
ADMIN+=("")
PROM_URL="http://127.0.0.1:$PROM_PORT"
wait_http prometheus "$PROM_URL/-/ready"

if [[ -n "$UP" ]]; then
	cat >&2 <<MSG

Tungsten distributed with Prometheus and Jaeger is running:
  API (gateway)   ${API_URL%/api}
  Prometheus      $PROM_URL         (rules and alerts: $PROM_URL/alerts)
  Jaeger          $JAEGER_URL       (search service tungsten-gateway)
  VictoriaLogs    $VLOGS_URL/select/vmui   (LogsQL, e.g. service:blog AND level:ERROR; API: /select/logsql/query)
  admin ports     $(for s in "${SERVICES[@]}"; do printf '%s=%s ' "$s" "${ADMIN_PORT[$s]}"; done)
  logs            ${ART#"$REPO/"}/
Paste any panel query of deploy/observability/dashboards/*.json into Prometheus
(replace \$__rate_interval with 1m and \$service with .+). Ctrl-C stops everything.
MSG
	wait "${PIDS[@]}" 2>/dev/null || true
	exit 0
fi

# --- live checks ------------------------------------------------------------------------
users_pid=""
for i in "${!NAMES[@]}"; do
	[[ "${NAMES[i]}" != users ]] || users_pid=$(pgrep -P "${PIDS[i]}" | head -n1) # the server under timeout
done
[[ -n "$users_pid" ]] || die "cannot find the users process"
log "test/observability against $API_URL (it kills the users process on purpose, for real 503s)"
set +e
admin_urls=$(for s in "${SERVICES[@]}"; do printf '%s=http://127.0.0.1:%s,' "$s" "${ADMIN_PORT[$s]}"; done)
TUNGSTEN_OBS_API_URL=${API_URL%/api} TUNGSTEN_OBS_PROMETHEUS_URL=$PROM_URL TUNGSTEN_OBS_JAEGER_URL=$JAEGER_URL \
	TUNGSTEN_OBS_VICTORIALOGS_URL=$VLOGS_URL TUNGSTEN_OBS_BIN=$TUNGSTEN_BIN TUNGSTEN_OBS_ADMIN_URLS=${admin_urls%,} \
	TUNGSTEN_OBS_LOG_DIR=$ART TUNGSTEN_OBS_USERS_PID=$users_pid timeout -k 10 "$OBS_TEST_TIMEOUT" go test -count=1 -v -run 'TestObservability$' ./test/observability/ \
	>"$ART/go-test.log" 2>&1
rc=$?
set -e
# Leaf results: every check of a panel, a rule, the trace, the log line.
leaf_pass=$(grep -cE '^ +--- PASS: TestObservability/[^ ]+/' "$ART/go-test.log" || true)
top_pass=$(grep -cE '^ +--- PASS: TestObservability/[^/ ]+ ' "$ART/go-test.log" || true)
pass "$((leaf_pass + top_pass))"
grep -E '^\s+observability_test.go:[0-9]+: .*(panels|spans|exemplars|recording rules)' "$ART/go-test.log" | sed 's/^ */  /' >&2 || true
while IFS= read -r line; do fail "${line#*--- FAIL: }"; done < <(grep -E '^ *--- FAIL: ' "$ART/go-test.log" | grep -vE -- '--- FAIL: TestObservability ' || true)
if ((rc != 0)); then
	grep -E 'Error Trace|Error:|Messages:|^\s+\S.*$' "$ART/go-test.log" | grep -vE '^\s+--- (PASS|FAIL)|=== RUN' | head -n 60 >&2 || true
	((rc != 124)) || fail "test/observability did not finish within ${OBS_TEST_TIMEOUT}s"
	grep -qE '^ *--- FAIL: ' "$ART/go-test.log" || fail "test/observability exited with $rc (log: ${ART#"$REPO/"}/go-test.log)"
fi
((FAILED == 0)) || exit 1
