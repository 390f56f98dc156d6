# shellcheck shell=bash
# Starts and stops Tungsten processes for the scripts that test a live
# deployment (newman.sh, test-observability.sh, observability-up.sh). Sourced,
# never run; needs lib.sh, and deps.sh for the distributed deployment.
#
# Before calling, set:
#   TUNGSTEN_BIN   the binary
#   ART            directory for every process's log (<name>.log)
#   WORK           scratch directory (data dirs of the processes)
#   RUN_ID         a short random id (database, NATS namespace, Redis prefix)
#   READY_TIMEOUT  seconds cluster_wait_ready waits (default 30)
#
# NAMES, PIDS and ADMIN hold what was started, in start order.

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NAMES=()
PIDS=()
ADMIN=()

# start NAME ADMIN_PORT ARGS...: starts `tungsten ARGS` with output in $ART/NAME.log.
# Under `timeout`: even if the script is killed with SIGKILL no server outlives
# it by more than 30 minutes, and a server that ignores the SIGTERM stop_all
# sends (timeout passes it on) is killed 10 s later.
start() {
	local name=$1 admin=$2
	shift 2
	log "starting $name: tungsten $*"
	# Registered with the first process, after the database and stream
	# cleanups, so that at exit the processes stop before those run.
	((${#PIDS[@]})) || on_exit stop_all
	timeout -k 10 "${CLUSTER_MAX_SECONDS:-1800}" "$TUNGSTEN_BIN" "$@" >"$ART/$name.log" 2>&1 &
	NAMES+=("$name")
	PIDS+=("$!")
	ADMIN+=("$admin")
}

# stop_all: SIGTERM every process, SIGKILL what is left after 15 s.
stop_all() {
	local i pid deadline=$((SECONDS + 15))
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for i in "${!PIDS[@]}"; do
		pid=${PIDS[i]}
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			warn "${NAMES[i]} did not stop within 15 s; killing it"
			pkill -KILL -P "$pid" 2>/dev/null || true # the server under timeout
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
	done
	PIDS=()
}

show_logs() {
	local name
	for name in "$@"; do
		echo "----- $name (last 60 lines of ${ART#"$TUNGSTEN_REPO/"}/$name.log) -----" >&2
		tail -n 60 "$ART/$name.log" >&2 || true
	done
}

# wait_ready: polls every process's /readyz until all answer 200; fails early
# when one of them exits.
wait_ready() {
	local deadline=$((SECONDS + ${READY_TIMEOUT:-30})) i pending status
	while :; do
		pending=()
		for i in "${!PIDS[@]}"; do
			if ! kill -0 "${PIDS[i]}" 2>/dev/null; then
				status=0
				wait "${PIDS[i]}" || status=$?
				show_logs "${NAMES[i]}"
				die "${NAMES[i]} exited with status $status before it was ready (log above)"
			fi
			if ! curl -fsS -o /dev/null -m 2 "http://127.0.0.1:${ADMIN[i]}/readyz" 2>/dev/null; then
				pending+=("${NAMES[i]}")
			fi
		done
		((${#pending[@]} == 0)) && return 0
		if ((SECONDS >= deadline)); then
			show_logs "${pending[@]}"
			die "not ready after ${READY_TIMEOUT:-30}s: ${pending[*]} (logs above)"
		fi
		sleep 0.2
	done
}

# start_distributed PREFIX [SERVE_FLAGS...]: the distributed deployment —
# gateway, auth, users, blog and web as five processes on a fresh PostgreSQL
# database, Redis (keys under PREFIX-RUN_ID:) and NATS (namespace
# PREFIX_RUN_ID); the database, keys and streams are removed at exit. Extra
# flags go to every `serve`. Sets SERVICES, HTTP_PORT[svc], ADMIN_PORT[svc],
# PG_URL and API_URL. Needs the TUNGSTEN_TEST_*_URL variables of deps.sh.
SERVICES=(gateway auth users blog web)
declare -A HTTP_PORT ADMIN_PORT
start_distributed() {
	local prefix=$1 svc
	shift
	# A database of its own, so runs never see each other's rows; dropped at exit.
	DB="tungsten_${prefix}_$RUN_ID"
	psql_admin() { PGCONNECT_TIMEOUT=5 timeout 30 psql "$TUNGSTEN_TEST_POSTGRES_URL" -XqAt -v ON_ERROR_STOP=1 "$@"; }
	log "creating database $DB"
	psql_admin -c "CREATE DATABASE $DB" || die "cannot create database $DB on $TUNGSTEN_TEST_POSTGRES_URL"
	on_exit "psql_admin -c 'DROP DATABASE IF EXISTS $DB WITH (FORCE)' >/dev/null || warn 'could not drop database $DB'"
	# Same server and options, other database: swap the URL's path.
	local pg_query="" pg_base pg_authority
	[[ "$TUNGSTEN_TEST_POSTGRES_URL" == *\?* ]] && pg_query="?${TUNGSTEN_TEST_POSTGRES_URL#*\?}"
	pg_base=${TUNGSTEN_TEST_POSTGRES_URL%%\?*}
	pg_authority=${pg_base#*://}
	pg_authority=${pg_authority%%/*}
	PG_URL="${pg_base%%://*}://$pg_authority/$DB$pg_query"

	# One deployment: every process shares the cache prefix and the NATS
	# namespace, both unique to this run.
	REDIS_PREFIX="$prefix-$RUN_ID:"
	NATS_NS="${prefix}_$RUN_ID"
	on_exit "timeout 10 node '$TUNGSTEN_REPO/test/newman/nats-cleanup.js' '$TUNGSTEN_TEST_NATS_URL' '$NATS_NS' >/dev/null || warn 'could not delete NATS streams of $NATS_NS'"
	if command -v redis-cli >/dev/null; then
		on_exit "timeout 10 redis-cli -u '$TUNGSTEN_TEST_REDIS_URL' --scan --pattern '$REDIS_PREFIX*' | timeout 10 xargs -r redis-cli -u '$TUNGSTEN_TEST_REDIS_URL' del >/dev/null || true"
	fi

	log "migrating $DB"
	timeout 120 "$TUNGSTEN_BIN" migrate --postgres-url "$PG_URL" >"$ART/migrate.log" 2>&1 ||
		{ show_logs migrate; die "tungsten migrate failed (log above)"; }

	for svc in "${SERVICES[@]}"; do
		free_port "HTTP_PORT[$svc]"
		free_port "ADMIN_PORT[$svc]"
	done
	for svc in "${SERVICES[@]}"; do
		start "$svc" "${ADMIN_PORT[$svc]}" serve --target="$svc" \
			--http-addr "127.0.0.1:${HTTP_PORT[$svc]}" --admin-addr "127.0.0.1:${ADMIN_PORT[$svc]}" \
			--data-dir "$WORK/data-$svc" --drain-delay 0s \
			--postgres-url "$PG_URL" \
			--redis-url "$TUNGSTEN_TEST_REDIS_URL" --redis-prefix "$REDIS_PREFIX" \
			--nats-url "$TUNGSTEN_TEST_NATS_URL" --nats-namespace "$NATS_NS" \
			--auth-url "http://127.0.0.1:${HTTP_PORT[auth]}" \
			--users-url "http://127.0.0.1:${HTTP_PORT[users]}" \
			--blog-url "http://127.0.0.1:${HTTP_PORT[blog]}" \
			--web-url "http://127.0.0.1:${HTTP_PORT[web]}" \
			"$@"
	done
	# shellcheck disable=SC2034 # read by the scripts that source this file
	API_URL="http://127.0.0.1:${HTTP_PORT[gateway]}/api"
}
