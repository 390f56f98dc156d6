#!/usr/bin/env bash
# Runs the RealWorld Postman collection (newman) against a real Tungsten.
#
#   scripts/newman.sh embedded      one `serve --target=all` process, SQLite + embedded NATS
#   scripts/newman.sh distributed   gateway, auth, users, blog and web as five processes on a
#                                   fresh PostgreSQL database, Redis and NATS JetStream
#   scripts/newman.sh url API_URL   a Tungsten that is already running (e.g. the local
#                                   Kubernetes cluster's gateway Service, scripts/k8s-cluster.sh);
#                                   the API suite runs against it too
#
# Passes only when every assertion passes. Process logs, the migrate log and
# newman's JSON report are kept in test-artifacts/newman-<mode>/.
#
# Environment:
#   TUNGSTEN_BIN            binary to run (default: built into bin/tungsten)
#   TUNGSTEN_REALWORLD_DIR  where Conduit.postman_collection.json is (default: ../shared/realworld;
#                           where that is absent, as on GitHub, the collection is fetched from its
#                           upstream repository at REALWORLD_COMMIT, below, and cached)
#   TUNGSTEN_REALWORLD_COMMIT  that commit (default: the pinned one)
#   TUNGSTEN_TEST_*_URL     servers for distributed mode (see scripts/deps.sh)
#   READY_TIMEOUT           seconds to wait for /readyz (default 30)
#   NEWMAN_TIMEOUT          seconds newman may take (default 300)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$TUNGSTEN_REPO
cd "$REPO"

MODE=${1:-}
case "$MODE" in
embedded | distributed) ;;
url) API_URL=${2:?usage: scripts/newman.sh url API_URL (e.g. http://10.96.0.12:8080/api)} ;;
*) die "usage: scripts/newman.sh embedded|distributed|url API_URL" ;;
esac

READY_TIMEOUT=${READY_TIMEOUT:-30}
NEWMAN_TIMEOUT=${NEWMAN_TIMEOUT:-300}
REALWORLD_DIR=${TUNGSTEN_REALWORLD_DIR:-$REPO/../shared/realworld}
COLLECTION=$REALWORLD_DIR/Conduit.postman_collection.json
# The upstream collection at a pinned commit: a commit names its content, so
# every run without ../shared tests against the same assertions.
REALWORLD_UPSTREAM=https://raw.githubusercontent.com/gothinkster/realworld
REALWORLD_COMMIT=${TUNGSTEN_REALWORLD_COMMIT:-cb63cd8f56fefe3dfa53072f1faf1de9ace076fb}
ART=$REPO/test-artifacts/newman-$MODE
NEWMAN_DIR=$REPO/test/newman

rm -rf "$ART"
mkdir -p "$ART"

# --- dependencies ---------------------------------------------------------------
if [[ "$MODE" == distributed ]]; then
	# shellcheck source=deps.sh
	source "$REPO/scripts/deps.sh" all # no-op when test.sh already set them up
else
	# shellcheck source=deps.sh
	source "$REPO/scripts/deps.sh" tools
fi

# fetch_collection: the pinned upstream collection, cached per commit.
fetch_collection() {
	local dir=${XDG_CACHE_HOME:-$HOME/.cache}/tungsten/realworld-$REALWORLD_COMMIT
	COLLECTION=$dir/Conduit.postman_collection.json
	[[ -s "$COLLECTION" ]] && return 0
	mkdir -p "$dir"
	log "no collection at $REALWORLD_DIR: fetching it from upstream at $REALWORLD_COMMIT"
	curl -fsSL --retry 3 -m 60 -o "$COLLECTION.tmp" \
		"$REALWORLD_UPSTREAM/$REALWORLD_COMMIT/api/Conduit.postman_collection.json" ||
		die "could not fetch the Postman collection (set TUNGSTEN_REALWORLD_DIR)"
	node -e 'const c=JSON.parse(require("fs").readFileSync(process.argv[1]));if(!Array.isArray(c.item))process.exit(1)' \
		"$COLLECTION.tmp" || die "the fetched collection is not a Postman collection"
	mv "$COLLECTION.tmp" "$COLLECTION"
}
if [[ ! -f "$COLLECTION" ]]; then
	[[ -z "${TUNGSTEN_REALWORLD_DIR:-}" ]] || die "Postman collection not found at $COLLECTION"
	fetch_collection
fi

npm_ci "$NEWMAN_DIR" .bin/newman
[[ "$MODE" == url ]] || ensure_binary
scrub_env '^TUNGSTEN_'

RUN_ID=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tungsten-newman.XXXXXX")
on_exit "rm -rf '$WORK'"

# --- processes --------------------------------------------------------------------
# shellcheck source=cluster.sh
source "$REPO/scripts/cluster.sh"

if [[ "$MODE" == url ]]; then
	: # already running
elif [[ "$MODE" == embedded ]]; then
	free_port http
	free_port admin
	start tungsten "$admin" serve --target=all --data-dir "$WORK/data" \
		--http-addr "127.0.0.1:$http" --admin-addr "127.0.0.1:$admin" --drain-delay 0s
	API_URL="http://127.0.0.1:$http/api"
else
	start_distributed newman --auth.login-ip-limit 1000 --gateway.rate-limit 100000 --auth.register-ip-limit 1000
fi

if [[ "$MODE" != url ]]; then
	log "waiting for /readyz (${READY_TIMEOUT}s at most)"
	started=$SECONDS
	wait_ready
	log "ready after $((SECONDS - started))s"
fi

# --- newman ---------------------------------------------------------------------------
# The collection registers a user: a fresh name and email on every run.
user_id="$(date +%s%N)$RUN_ID"
log "newman $MODE against $API_URL"
set +e
timeout -k 10 "$NEWMAN_TIMEOUT" "$NEWMAN_DIR/node_modules/.bin/newman" run "$COLLECTION" \
	--delay-request 1 \
	--timeout-request 15000 \
	--global-var "APIURL=$API_URL" \
	--global-var "USERNAME=u$user_id" \
	--global-var "EMAIL=u$user_id@example.com" \
	--global-var "PASSWORD=password123" \
	--reporters cli,json \
	--reporter-cli-no-success-assertions \
	--reporter-cli-no-console \
	--reporter-json-export "$ART/newman-report.json"
newman_rc=$?
set -e
((newman_rc != 124)) || die "newman did not finish within ${NEWMAN_TIMEOUT}s"

# newman's own exit code also says pass/fail; the summary decides because it
# also refuses a run that made no assertion, and prints the count.
if ! node "$NEWMAN_DIR/summarize.js" "$ART/newman-report.json" "newman $MODE"; then
	die "newman $MODE failed (report: test-artifacts/newman-$MODE/newman-report.json, server logs next to it)"
fi
((newman_rc == 0)) || die "newman exited with $newman_rc"

# --- our own API suite ----------------------------------------------------------------
# go test ./test/api runs against the embedded default in process; here it also runs
# against the distributed deployment, every service its own process.
if [[ "$MODE" == url ]]; then
	log "API suite (test/api) against $API_URL"
	(cd "$REPO" && TUNGSTEN_API_URL="${API_URL%/api}" timeout -k 10 300 go test -count=1 ./test/api/) ||
		die "API suite failed against $API_URL"
elif [[ "$MODE" == distributed ]]; then
	log "API suite (test/api) against $API_URL"
	(cd "$REPO" && TUNGSTEN_API_URL="${API_URL%/api}" timeout -k 10 300 go test -count=1 ./test/api/) ||
		die "API suite failed against the distributed deployment (server logs: test-artifacts/newman-$MODE/)"

	# --- the blog keeps serving reads with the users service down ---------------------
	gw="${API_URL%/api}"
	slug=$(curl -fsS -m 5 "$API_URL/articles?limit=1" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const a=JSON.parse(s).articles;if(!a.length)process.exit(1);process.stdout.write(a[0].slug)})') ||
		die "no article to read back"
	for i in "${!NAMES[@]}"; do
		if [[ "${NAMES[i]}" == users ]]; then
			log "killing the users service (SIGKILL)"
			pkill -KILL -P "${PIDS[i]}" 2>/dev/null || true
			wait "${PIDS[i]}" 2>/dev/null || true
		fi
	done
	expect_status() { # expect_status CODE PATH: the gateway answers PATH with CODE
		local got
		got=$(curl -sS -o "$ART/last-body.json" -w '%{http_code}' -m 10 "$gw$2") || got=000
		[[ "$got" == "$1" ]] || die "with users down, GET $2 answered $got, want $1: $(head -c 300 "$ART/last-body.json")"
	}
	expect_status 200 "/api/articles"
	expect_status 200 "/api/articles/$slug"
	expect_status 200 "/api/articles/$slug/comments"
	expect_status 200 "/api/tags"
	expect_status 503 "/api/profiles/anyone" # users' own route: a clean JSON 503, not a hang
	grep -q '"errors"' "$ART/last-body.json" || die "the 503 is not in the API's error shape"
	log "users down: article list, article, comments and tags still served; profiles answer 503"
fi
