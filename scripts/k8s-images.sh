#!/usr/bin/env bash
# Builds the container images the local cluster runs, without Docker or a registry: each is
# a root filesystem (static binaries only) packed as one layer, given its config by crane
# (an in-memory `crane registry serve` on a loopback port, only while this script runs, so
# that `crane mutate` can set the entrypoint, user, labels and platform), and written as a
# docker archive that `ctr -n k8s.io images import` takes.
#
#   k8s-images.sh OUTDIR
#
# Writes OUTDIR/<name>.tar and OUTDIR/images.txt ("<ref> <archive>" per line):
#   tungsten.local/tungsten:v0.0.0-local   the Dockerfile's runtime stage: same static binary (same go
#                                 build flags), user 65532:65532, labels, env, workdir, ports,
#                                 entrypoint and cmd (test/cluster checks it against the
#                                 Dockerfile)
#   tungsten.local/nats:<v>       nats-server at the version go.mod pins
#   tungsten.local/vlagent:<v>    VictoriaLogs' collector (scripts/victorialogs.sh), for
#                                 components/logging
#   tungsten.local/coredns:<v>, tungsten.local/metrics-server:<v>, tungsten.local/pause:<kube v>
#
# Needs scripts/k8s-build.sh to have run (crane, the add-ons and pause are taken from its cache).
# Environment: KUBE_VERSION, TUNGSTEN_CACHE, VERSION / REVISION (image labels; default from git).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$TUNGSTEN_REPO

OUT=${1:?usage: k8s-images.sh OUTDIR}
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
CACHE=${TUNGSTEN_CACHE:-$HOME/.cache/tungsten}
TOOLS=$CACHE/k8s-tools
CRANE=$TOOLS/crane-v0.22.1
COREDNS_VERSION=v1.12.3
METRICS_SERVER_VERSION=v0.8.0
NATS_VERSION=$(awk '$1 == "github.com/nats-io/nats-server/v2" { print $2; exit }' "$REPO/go.mod")
VERSION=${VERSION:-$(git -C "$REPO" describe --tags --always --dirty 2>/dev/null || echo dev)}
REVISION=${REVISION:-$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)}
CREATED=${CREATED:-$(git -C "$REPO" log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)}

for f in "$CRANE" "$TOOLS/coredns-$COREDNS_VERSION" "$TOOLS/metrics-server-$METRICS_SERVER_VERSION" \
	"$TOOLS/nats-server-$NATS_VERSION" "$TOOLS/pause-$KUBE_VERSION"; do
	[[ -x $f ]] || die "$f missing: run scripts/k8s-build.sh first"
done
is_root || die "root needed (the layers carry the images' file owners)"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tungsten-images.XXXXXX")
on_exit "rm -rf '$WORK'"

free_port PORT
"$CRANE" registry serve --address "127.0.0.1:$PORT" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
on_exit "kill $REG_PID 2>/dev/null; wait $REG_PID 2>/dev/null"
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v2/" && break; sleep 0.2; done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v2/" || die "crane registry did not start ($(cat "$WORK/registry.log"))"
: >"$OUT/images.txt"

# image NAME REF ROOTDIR [crane mutate flags...]: one layer from ROOTDIR -> OUT/NAME.tar.
# crane reads each -l/-e value as a CSV record: quote a value that has a comma.
image() {
	local name=$1 ref=$2 root=$3
	shift 3
	tar --numeric-owner --sort=name --mtime=@0 -C "$root" -cf "$WORK/$name-layer.tar" .
	"$CRANE" append --insecure --oci-empty-base -f "$WORK/$name-layer.tar" -t "127.0.0.1:$PORT/$name:build" >/dev/null 2>>"$WORK/crane.log" ||
		die "crane append $name failed: $(tail -3 "$WORK/crane.log")"
	"$CRANE" mutate --insecure "127.0.0.1:$PORT/$name:build" --set-platform linux/amd64 "$@" -t "$ref" -o "$OUT/$name.tar" >/dev/null 2>>"$WORK/crane.log" ||
		die "crane mutate $name failed: $(tail -3 "$WORK/crane.log")"
	echo "$ref $OUT/$name.tar" >>"$OUT/images.txt"
	log "image $ref ($(du -h "$OUT/$name.tar" | cut -f1))"
}

# minimal_etc ROOT UID NAME: the passwd/group files and CA bundle a distroless base has.
minimal_etc() {
	mkdir -p "$1/etc/ssl/certs" "$1/tmp"
	chmod 1777 "$1/tmp"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n%s:x:%s:%s:%s:/home/%s:/sbin/nologin\n' \
		"$3" "$2" "$2" "$3" "$3" >"$1/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n%s:x:%s:\n' "$3" "$2" >"$1/etc/group"
	if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/"; fi
}

# --- tungsten: the Dockerfile's runtime stage ------------------------------------------
# The same build command as the Dockerfile's build stage.
R=$WORK/tungsten
mkdir -p "$R/usr/local/bin" "$R/data"
(cd "$REPO" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -X main.version=$VERSION -X main.revision=$REVISION" -o "$R/usr/local/bin/tungsten" ./cmd/tungsten) ||
	die "go build ./cmd/tungsten failed"
minimal_etc "$R" 65532 nonroot
chown 65532:65532 "$R/data"
image tungsten tungsten.local/tungsten:v0.0.0-local "$R" \
	--entrypoint /usr/local/bin/tungsten --cmd serve -u 65532:65532 -w / -e TUNGSTEN_DATA_DIR=/data \
	-e PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--exposed-ports 8080/tcp,9090/tcp \
	-l org.opencontainers.image.title=tungsten \
	-l '"org.opencontainers.image.description=Tungsten blogging platform: gateway, auth, users, blog and web in one binary"' \
	-l "org.opencontainers.image.version=$VERSION" \
	-l "org.opencontainers.image.revision=$REVISION" \
	-l org.opencontainers.image.source=https://github.com/tungsten-blog/tungsten \
	-l "org.opencontainers.image.created=$CREATED"

# --- NATS: nats-server from its module (the version go.mod pins) --------------------------
R=$WORK/nats
mkdir -p "$R/usr/local/bin"
cp "$TOOLS/nats-server-$NATS_VERSION" "$R/usr/local/bin/nats-server"
minimal_etc "$R" 1000 nats
image nats "tungsten.local/nats:$NATS_VERSION" "$R" --entrypoint /usr/local/bin/nats-server -u 1000:1000 \
	-e PATH=/usr/local/bin:/usr/bin:/bin --exposed-ports 4222/tcp,6222/tcp,8222/tcp \
	-l "org.opencontainers.image.version=$NATS_VERSION"

# --- vlagent: components/logging's collector (scripts/victorialogs.sh builds it once) ----
# shellcheck source=victorialogs.sh
source "$REPO/scripts/victorialogs.sh"
VLOGS_DIR=$(victorialogs_dir)
R=$WORK/vlagent
mkdir -p "$R/usr/local/bin"
cp "$VLOGS_DIR/vlagent" "$R/usr/local/bin/vlagent"
minimal_etc "$R" 65532 nonroot
image vlagent "tungsten.local/vlagent:$VICTORIALOGS_VERSION" "$R" --entrypoint /usr/local/bin/vlagent \
	-e PATH=/usr/local/bin:/usr/bin:/bin --exposed-ports 9429/tcp -l "org.opencontainers.image.version=$VICTORIALOGS_VERSION"

# --- cluster add-ons -----------------------------------------------------------------------
R=$WORK/pause
mkdir -p "$R"
cp "$TOOLS/pause-$KUBE_VERSION" "$R/pause"
image pause "tungsten.local/pause:$KUBE_VERSION" "$R" --entrypoint /pause -u 65535:65535

R=$WORK/coredns
mkdir -p "$R"
cp "$TOOLS/coredns-$COREDNS_VERSION" "$R/coredns"
minimal_etc "$R" 65532 nonroot
image coredns "tungsten.local/coredns:$COREDNS_VERSION" "$R" --entrypoint /coredns --exposed-ports 53/udp,53/tcp,9153/tcp

R=$WORK/metrics-server
mkdir -p "$R"
cp "$TOOLS/metrics-server-$METRICS_SERVER_VERSION" "$R/metrics-server"
minimal_etc "$R" 1000 metrics
image metrics-server "tungsten.local/metrics-server:$METRICS_SERVER_VERSION" "$R" --entrypoint /metrics-server -u 1000
