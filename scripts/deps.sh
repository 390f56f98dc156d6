#!/usr/bin/env bash
# Makes sure the real servers and tools the tests need are there, and exports
# where to find them:
#
#   TUNGSTEN_TEST_POSTGRES_URL  default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
#   TUNGSTEN_TEST_REDIS_URL     default redis://127.0.0.1:6379/0
#   TUNGSTEN_TEST_NATS_URL      default nats://127.0.0.1:4222  (JetStream enabled)
#
# go test needs only the first two: without TUNGSTEN_TEST_NATS_URL its NATS
# tests use an embedded server (docs/testing.md). The NATS server here is for
# the distributed deployments (newman, faults, SLO gate, bench) and, since it
# is exported, makes scripts/test.sh's go test run against a real one too.
#
# A variable already set is used as given. When a server does not answer, a
# throwaway one is started on a free 127.0.0.1 port in a temp dir (installing
# the Debian package first when its binary is missing and we are root) and
# stopped when the shell that set it up exits. Node.js, npm and curl are made
# sure of too.
#
# Usage:
#   source scripts/deps.sh [all|tools]   from a script: exports, stops throwaways at exit
#   scripts/deps.sh [--keep]             prints `export ...` lines; throwaway servers are
#                                        stopped at exit unless --keep is given, e.g.
#                                        eval "$(scripts/deps.sh --keep)"
# "tools" only makes sure of node, npm and curl (what the embedded newman run needs).

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${TUNGSTEN_DEPS_TMP:=${TMPDIR:-/tmp}}"

# --- probes (each bounded to a few seconds) -----------------------------------

# pg_usable URL: a real query succeeds (pg_isready alone would accept a server
# that then refuses our user).
pg_usable() {
	PGCONNECT_TIMEOUT=3 timeout 5 psql "$1" -XAtqc 'SELECT 1' >/dev/null 2>&1
}

# redis_usable URL: PING answers PONG.
redis_usable() {
	if command -v redis-cli >/dev/null; then
		[[ "$(timeout 3 redis-cli -u "$1" ping 2>/dev/null)" == PONG ]]
		return
	fi
	# No client: speak the protocol directly (works for servers without AUTH).
	local hp
	hp=$(url_hostport "$1" 6379)
	# shellcheck disable=SC2016 # $0/$1 expand in the inner bash
	timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 && IFS= read -r l <&3 && [[ "$l" == "+PONG"* ]]' \
		"${hp%:*}" "${hp##*:}" 2>/dev/null
}

# nats_usable URL: a NATS server greets with an INFO line that says JetStream
# is on (a server without -js would make the event tests fail obscurely).
nats_usable() {
	local hp
	hp=$(url_hostport "$1" 4222)
	# shellcheck disable=SC2016
	timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r l <&3 && [[ "$l" == INFO* && "$l" == *"\"jetstream\":true"* ]]' \
		"${hp%:*}" "${hp##*:}" 2>/dev/null
}

# wait_until SECONDS CMD...: polls CMD every 0.2 s until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

# --- throwaway servers ----------------------------------------------------------

_TUNGSTEN_DEPS_STOP=() # how to stop what this file started, printed by --keep

# _register_stop CMD [MANUAL]: runs CMD at exit, or with --keep prints MANUAL
# (a command a person can paste; defaults to CMD).
_register_stop() {
	_TUNGSTEN_DEPS_STOP+=("${2:-$1}")
	if [[ -z "${_TUNGSTEN_DEPS_KEEP:-}" ]]; then on_exit "$1"; fi
}

# _pg_bindir prints the directory holding initdb and pg_ctl, newest version first.
_pg_bindir() {
	local d
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; return 0; fi
	done
	if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
		dirname "$(readlink -f "$(command -v pg_ctl)")"
		return 0
	fi
	return 1
}

start_postgres() {
	local bindir dir port
	if ! bindir=$(_pg_bindir); then
		apt_install --why "no PostgreSQL answers and initdb/pg_ctl are not installed to start one" postgresql
		bindir=$(_pg_bindir) || die "initdb/pg_ctl not found after installing postgresql"
	fi
	free_port port
	dir=$(mktemp -d "$TUNGSTEN_DEPS_TMP/tungsten-pg.XXXXXX")
	# PostgreSQL refuses to run as root: run it as the postgres user (created by
	# the Debian package; created here if only the binaries are present).
	local -a as_pg=()
	if is_root; then
		id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
		chown postgres: "$dir"
		as_pg=(runuser -u postgres --)
	fi
	log "starting a throwaway PostgreSQL on 127.0.0.1:$port ($dir)"
	# cd: the postgres user may not be allowed into the caller's directory.
	(cd "$dir" && timeout 120 "${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1) ||
		{ cat "$dir/initdb.log" >&2; die "initdb failed (log above)"; }
	# The socket goes into the temp dir (the system one may belong to another
	# cluster); fsync is off because the data is thrown away; the connection
	# limit allows parallel test packages plus five distributed processes.
	(cd "$dir" && timeout 60 "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
		-o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
		start >/dev/null) || { cat "$dir/postgres.log" >&2; die "PostgreSQL did not start (log above)"; }
	_register_stop "(cd '$dir' && ${as_pg[*]} '$bindir/pg_ctl' -D '$dir/data' -m immediate -t 20 stop >/dev/null 2>&1); rm -rf '$dir'"
	export TUNGSTEN_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	wait_until 15 pg_usable "$TUNGSTEN_TEST_POSTGRES_URL" || die "throwaway PostgreSQL does not answer (log: $dir/postgres.log)"
}

# _stop_pidfile FILE: TERM the process, KILL it after 10 s.
_stop_pidfile() {
	local pid i
	pid=$(cat "$1" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -9 "$pid" 2>/dev/null
}

start_redis() {
	local dir port
	command -v redis-server >/dev/null || apt_install --why "no Redis answers and redis-server is not installed to start one" redis-server
	free_port port
	dir=$(mktemp -d "$TUNGSTEN_DEPS_TMP/tungsten-redis.XXXXXX")
	log "starting a throwaway Redis on 127.0.0.1:$port ($dir)"
	timeout 30 redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$dir" \
		--daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null ||
		die "redis-server did not start (log: $dir/redis.log)"
	_register_stop "_stop_pidfile '$dir/redis.pid'; rm -rf '$dir'" "kill \$(cat '$dir/redis.pid'); rm -rf '$dir'"
	export TUNGSTEN_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
	wait_until 15 redis_usable "$TUNGSTEN_TEST_REDIS_URL" || { cat "$dir/redis.log" >&2; die "throwaway Redis does not answer (log above)"; }
}

start_nats() {
	local dir port bin
	bin=$(command -v nats-server || true)
	[[ -n "$bin" || ! -x /usr/sbin/nats-server ]] || bin=/usr/sbin/nats-server # sbin is not on every PATH
	if [[ -z "$bin" ]]; then
		apt_install --why "no NATS (JetStream) answers and nats-server is not installed to start one" nats-server
		bin=$(command -v nats-server || echo /usr/sbin/nats-server)
	fi
	free_port port
	dir=$(mktemp -d "$TUNGSTEN_DEPS_TMP/tungsten-nats.XXXXXX")
	log "starting a throwaway NATS (JetStream) on 127.0.0.1:$port ($dir)"
	# nats-server cannot daemonize itself: run it detached (setsid, output to a
	# file) so it neither holds our stdout open nor gets our terminal's signals.
	setsid "$bin" -a 127.0.0.1 -p "$port" -js -sd "$dir/js" -l "$dir/nats.log" -P "$dir/nats.pid" \
		</dev/null >"$dir/nats.out" 2>&1 &
	_register_stop "_stop_pidfile '$dir/nats.pid'; rm -rf '$dir'" "kill \$(cat '$dir/nats.pid'); rm -rf '$dir'"
	export TUNGSTEN_TEST_NATS_URL="nats://127.0.0.1:$port"
	wait_until 15 nats_usable "$TUNGSTEN_TEST_NATS_URL" ||
		{ cat "$dir/nats.out" "$dir/nats.log" >&2 2>/dev/null; die "throwaway NATS does not answer (log above)"; }
}

# --- ensure -------------------------------------------------------------------

# ensure NAME VAR DEFAULT PROBE START: keeps VAR when PROBE accepts it,
# otherwise starts a throwaway server.
_ensure_server() {
	local name=$1 var=$2 default=$3 probe=$4 start=$5
	local url=${!var:-$default}
	if "$probe" "$url"; then
		log "$name: $url"
		export "${var}=${url}"
		return 0
	fi
	warn "no usable $name at $url; starting a throwaway one"
	"$start"
	log "$name: ${!var}"
}

deps_tools() {
	need_cmd node nodejs
	need_cmd npm npm
	need_cmd curl curl
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	((major >= 16)) || die "Node.js $(node --version) is too old for newman 6 (need 16 or later)"
}

deps_servers() {
	need_cmd psql postgresql-client
	_ensure_server PostgreSQL TUNGSTEN_TEST_POSTGRES_URL 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable' pg_usable start_postgres
	_ensure_server Redis TUNGSTEN_TEST_REDIS_URL 'redis://127.0.0.1:6379/0' redis_usable start_redis
	_ensure_server "NATS (JetStream)" TUNGSTEN_TEST_NATS_URL 'nats://127.0.0.1:4222' nats_usable start_nats
}

# tungsten_deps [all|tools]
tungsten_deps() {
	case "${1:-all}" in
	all) deps_tools; deps_servers ;;
	tools) deps_tools ;;
	*) die "deps.sh: unknown argument '$1' (want all or tools)" ;;
	esac
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
	# Sourced: set up and leave the exports in the caller.
	tungsten_deps "${1:-all}"
else
	set -euo pipefail
	if [[ "${1:-}" == --keep ]]; then _TUNGSTEN_DEPS_KEEP=1; shift; fi
	tungsten_deps "${1:-all}"
	if [[ "${1:-all}" == all ]]; then
		for v in TUNGSTEN_TEST_POSTGRES_URL TUNGSTEN_TEST_REDIS_URL TUNGSTEN_TEST_NATS_URL; do
			printf 'export %s=%q\n' "$v" "${!v}"
		done
	fi
	if ((${#_TUNGSTEN_DEPS_STOP[@]})); then
		if [[ -n "${_TUNGSTEN_DEPS_KEEP:-}" ]]; then
			printf '# throwaway servers left running; stop them with:\n'
			for c in "${_TUNGSTEN_DEPS_STOP[@]}"; do printf '#   %s\n' "$c"; done
		else
			log "throwaway servers are stopped now that deps.sh exits (source it, or use --keep, to keep them)"
		fi
	fi
fi
