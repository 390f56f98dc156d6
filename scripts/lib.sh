# shellcheck shell=bash
# Helpers shared by the test scripts. Sourced, never run; safe to source more
# than once and works with or without `set -euo pipefail` in the caller.

if [[ -n "${_TUNGSTEN_LIB_LOADED:-}" ]]; then return 0; fi
_TUNGSTEN_LIB_LOADED=1

TUNGSTEN_REPO="${TUNGSTEN_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

log()  { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
# die exits the shell that sourced this file (so from an interactive shell,
# run the scripts rather than sourcing them).
die()  { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" == 0 ]]; }

# --- exit handlers -----------------------------------------------------------
# One EXIT trap runs every registered handler, newest first, so that scripts
# sourcing each other (test.sh -> deps.sh, newman.sh -> deps.sh) never overwrite
# each other's cleanup. INT and TERM are turned into an exit so it runs then too.
_TUNGSTEN_EXIT_HANDLERS=()

on_exit() {
	_TUNGSTEN_EXIT_HANDLERS+=("$1")
	if [[ -z "${_TUNGSTEN_TRAP_SET:-}" ]]; then
		_TUNGSTEN_TRAP_SET=1
		trap _tungsten_run_exit_handlers EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
}

_tungsten_run_exit_handlers() {
	local rc=$? i
	_TUNGSTEN_EXIT_CODE=$rc # what the script exits with, for handlers that report it
	set +e
	for ((i = ${#_TUNGSTEN_EXIT_HANDLERS[@]} - 1; i >= 0; i--)); do
		eval "${_TUNGSTEN_EXIT_HANDLERS[i]}"
	done
	_TUNGSTEN_EXIT_HANDLERS=()
	return "$rc"
}

# --- network -----------------------------------------------------------------

# tcp_open HOST PORT: true if something accepts TCP connections there (3 s max).
tcp_open() {
	# shellcheck disable=SC2016 # $0/$1 expand in the inner bash
	timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# free_port VAR sets VAR to a loopback TCP port nobody listens on. Ports come
# from 20000-32767, below Linux's ephemeral range (32768+), so an outgoing
# connection cannot be holding one, and a port handed out earlier in this shell
# is never handed out again, though the server it was meant for may not be
# listening yet. It assigns rather than prints because a command substitution
# runs in a subshell, which could not remember what it handed out: two
# services were once given the same port that way.
_TUNGSTEN_USED_PORTS=" "
free_port() {
	local p i
	for ((i = 0; i < 200; i++)); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12768))
		[[ "$_TUNGSTEN_USED_PORTS" == *" $p "* ]] && continue
		if ! tcp_open 127.0.0.1 "$p"; then
			_TUNGSTEN_USED_PORTS+="$p "
			printf -v "$1" '%s' "$p"
			return 0
		fi
	done
	die "no free loopback port found"
}

# url_hostport URL DEFAULT_PORT prints host:port of a URL like
# scheme://user:pass@host:port/path?query.
url_hostport() {
	local rest=${1#*://}
	rest=${rest%%/*}
	rest=${rest%%\?*}
	rest=${rest##*@}
	if [[ "$rest" == *:* ]]; then echo "$rest"; else echo "$rest:$2"; fi
}

# --- packages ----------------------------------------------------------------

_TUNGSTEN_APT_UPDATED=""
# apt_install [--why TEXT] PKG...: installs Debian packages (root only),
# bounded in time; TEXT says what is missing, for the error message.
apt_install() {
	local why="missing"
	if [[ "${1:-}" == --why ]]; then why=$2; shift 2; fi
	is_root || die "$why, and not root so cannot install it: run 'sudo apt-get install -y $*'"
	command -v apt-get >/dev/null || die "$why, and there is no apt-get: install the equivalent of Debian's '$*'"
	export DEBIAN_FRONTEND=noninteractive
	if [[ -z "$_TUNGSTEN_APT_UPDATED" ]]; then
		log "apt-get update"
		timeout 300 apt-get update -qq || die "apt-get update failed"
		_TUNGSTEN_APT_UPDATED=1
	fi
	log "apt-get install -y $*"
	# Waits for the dpkg lock rather than failing when another install runs.
	timeout 900 apt-get install -y -qq -o DPkg::Lock::Timeout=300 --no-install-recommends "$@" >&2 || die "apt-get install $* failed"
}

# need_cmd CMD PKG: makes sure CMD exists, installing Debian package PKG if root.
need_cmd() {
	command -v "$1" >/dev/null && return 0
	apt_install --why "command '$1' not found" "$2"
	hash -r
	command -v "$1" >/dev/null || die "'$1' still missing after installing '$2'"
}

# npm_ci DIR MARKER: `npm ci` in DIR unless node_modules/MARKER exists and the
# lock file is unchanged since the last install (npm ci wipes node_modules and
# takes seconds).
npm_ci() {
	local dir=$1 marker=$2 lock_sum stamp
	lock_sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	stamp=$dir/node_modules/.tungsten-lock-sha256
	if [[ ! -e "$dir/node_modules/$marker" || "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]]; then
		log "npm ci in ${dir#"$TUNGSTEN_REPO"/}"
		(cd "$dir" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $dir failed"
		echo "$lock_sum" >"$stamp"
	fi
}

# ensure_binary: sets TUNGSTEN_BIN, building bin/tungsten unless it is given.
ensure_binary() {
	if [[ -z "${TUNGSTEN_BIN:-}" ]]; then
		log "building bin/tungsten"
		timeout 600 go build -o "$TUNGSTEN_REPO/bin/tungsten" "$TUNGSTEN_REPO/cmd/tungsten" || die "go build ./cmd/tungsten failed"
		TUNGSTEN_BIN=$TUNGSTEN_REPO/bin/tungsten
	fi
	[[ -x "$TUNGSTEN_BIN" ]] || die "TUNGSTEN_BIN=$TUNGSTEN_BIN is not an executable"
}

# scrub_env PATTERN: the test runs are configured by flags only, so drop the
# variables matching PATTERN (an extended regexp, e.g. ^TUNGSTEN_) that a
# developer may have exported; they would silently change what is tested.
scrub_env() {
	local v pattern=$1
	for v in $(compgen -e | grep -E "$pattern" || true); do
		case "$v" in TUNGSTEN_TEST_* | TUNGSTEN_BIN | TUNGSTEN_REALWORLD_DIR | TUNGSTEN_REPO) ;; *) unset "$v" ;; esac
	done
}
