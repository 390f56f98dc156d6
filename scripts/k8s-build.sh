#!/usr/bin/env bash
# Builds (once) and caches everything a real single-node Kubernetes needs here, from the Go
# module proxy and Debian packages only (no Docker engine, no registry):
#   kube-apiserver kubectl kubelet kube-proxy kube-controller-manager kube-scheduler
#     one `go build` of k8s.io/kubernetes $KUBE_VERSION through a throwaway wrapper module
#     (k8s.io/kubernetes cannot be `go install`ed: its go.mod replaces the staging modules with
#     ./staging, so the wrapper replaces each with its published release v0.<minor>)
#   crane (images without Docker), CoreDNS, metrics-server, nats-server (the version go.mod pins)
#   the pause image's binary, from Kubernetes' own build/pause/linux/pause.c (gcc -static)
#   Debian: containerd runc containernetworking-plugins iptables conntrack etcd-server
#     prometheus (root only)
# Cold: ~10 minutes of CPU on 2 busy cores; then everything is cached in $TUNGSTEN_CACHE
# (default ~/.cache/tungsten) and the script returns in a second.
#
#   k8s-build.sh [all]   everything above; prints the cache directory (bin/ and tools/ in it)
#   k8s-build.sh kube    only kube-apiserver + kubectl (+ etcd-server): what the dry run of
#                        scripts/test-deploy.sh needs; prints the directory holding them
#
# Environment: KUBE_VERSION (v1.37.2), TUNGSTEN_CACHE.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The newest release the module proxy serves that builds with this machine's Go (1.26: its
# go.mod says `go 1.26.0`, so no GOTOOLCHAIN switch is needed). Keep in step with
# docs/deploy.md and the ADR.
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
CRANE_VERSION=v0.22.1
COREDNS_VERSION=v1.12.3
METRICS_SERVER_VERSION=v0.8.0
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
CACHE=${TUNGSTEN_CACHE:-$HOME/.cache/tungsten}
KDIR=$CACHE/kubernetes-$KUBE_VERSION
BIN=$KDIR/bin
TOOLS=$CACHE/k8s-tools
MODE=${1:-all}
KUBE_CMDS=(kube-apiserver kubectl kubelet kube-proxy kube-controller-manager kube-scheduler)

case "$MODE" in
all | kube) ;;
*) die "usage: $0 [all|kube]" ;;
esac

# kube_missing prints the components not yet in $BIN.
kube_missing() {
	local c
	for c in "${KUBE_CMDS[@]}"; do [[ -x $BIN/$c ]] || echo "$c"; done
}

build_kube() {
	[[ -z $(kube_missing) ]] && return 0
	log "building ${KUBE_CMDS[*]} $KUBE_VERSION in one go build (first run: ~10 minutes; cached in $BIN)"
	local src=$KDIR/src mods ldflags minor pkgs=() c
	mkdir -p "$src" "$BIN"
	mods=$(curl -fsSL "${GOPROXY_URL:-https://proxy.golang.org}/k8s.io/kubernetes/@v/$KUBE_VERSION.mod" |
		awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }')
	[[ -n "$mods" ]] || die "could not read the staging modules of k8s.io/kubernetes $KUBE_VERSION"
	{
		printf 'module tungsten.local/kubernetes\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBE_VERSION"
		for m in $mods; do printf '\t%s => %s %s\n' "$m" "$m" "$STAGING_VERSION"; done
		printf ')\n'
	} >"$src/go.mod"
	{
		printf '//go:build tools\n\npackage tools\n\nimport (\n'
		for c in "${KUBE_CMDS[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
		printf ')\n'
	} >"$src/tools.go"
	for c in "${KUBE_CMDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
	minor=$(cut -d. -f2 <<<"$KUBE_VERSION")
	ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
	ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
	ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	(
		cd "$src"
		export GOFLAGS=-mod=mod CGO_ENABLED=0
		go mod tidy
		# into a temporary directory first: a build killed half-way must not leave a partial set
		rm -rf "$BIN.tmp" && mkdir -p "$BIN.tmp"
		go build -trimpath -ldflags "$ldflags" -o "$BIN.tmp/" "${pkgs[@]}"
		mv "$BIN.tmp"/* "$BIN/" && rmdir "$BIN.tmp"
	)
	[[ -z $(kube_missing) ]] || die "go build did not produce: $(kube_missing | xargs)"
}

# go_tool NAME MODULE/PKG VERSION: `go install`s a program into $TOOLS/NAME-VERSION once.
go_tool() {
	local name=$1 pkg=$2 version=$3 dst=$TOOLS/$1-$3
	[[ -x $dst ]] && return 0
	log "building $name $version from the module proxy"
	mkdir -p "$TOOLS/gobin-$name"
	GOBIN=$TOOLS/gobin-$name CGO_ENABLED=0 GOFLAGS='' go install -trimpath -ldflags '-s -w' "$pkg@$version"
	mv "$TOOLS/gobin-$name/$(basename "${pkg%/v[0-9]*}")" "$dst"
	rmdir "$TOOLS/gobin-$name"
}

install_packages() {
	local missing=() c
	declare -A pkg_of=(
		[containerd]=containerd [runc]=runc [/usr/lib/cni/bridge]=containernetworking-plugins
		[iptables]=iptables [conntrack]=conntrack [etcd]=etcd-server [gcc]=gcc [nft]=nftables
		[crictl]=cri-tools [prometheus]=prometheus
	)
	for c in "${!pkg_of[@]}"; do
		if [[ $c == /* ]]; then [[ -e $c ]] || missing+=("${pkg_of[$c]}"); else command -v "$c" >/dev/null || missing+=("${pkg_of[$c]}"); fi
	done
	# crictl is a convenience (the tests use ctr and /proc when it is absent); Debian 12 may not
	# have it
	if [[ ${#missing[@]} -gt 0 ]]; then
		local want=()
		for c in "${missing[@]}"; do
			[[ $c == cri-tools ]] && { apt-cache show cri-tools >/dev/null 2>&1 || continue; }
			want+=("$c")
		done
		[[ ${#want[@]} -gt 0 ]] && apt_install --why "cluster packages missing" "${want[@]}" libc6-dev
	fi
	# Without systemd as PID 1 the packages start no daemon; where systemd runs, keep the
	# distribution's own containerd/etcd out of the way (the harness starts private ones).
	if [[ -d /run/systemd/system ]]; then systemctl disable --now etcd containerd >/dev/null 2>&1 || true; fi
}

build_pause() {
	local dst=$TOOLS/pause-$KUBE_VERSION src
	[[ -x $dst ]] && return 0
	src=$(cd "$KDIR/src" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
	[[ -f $src ]] || die "pause.c not found at $src"
	mkdir -p "$TOOLS"
	gcc -Os -Wall -Werror -static -DVERSION="$KUBE_VERSION-tungsten" -o "$dst.tmp" "$src"
	mv "$dst.tmp" "$dst"
}

nats_version() {
	awk '$1 == "github.com/nats-io/nats-server/v2" { print $2; exit }' "$TUNGSTEN_REPO/go.mod"
}

if [[ $MODE == kube ]]; then
	build_kube
	if ! command -v etcd >/dev/null; then apt_install --why "etcd is not installed" etcd-server; fi
	echo "$BIN"
	exit 0
fi

if is_root; then install_packages; fi
build_kube
go_tool crane github.com/google/go-containerregistry/cmd/crane "$CRANE_VERSION"
go_tool coredns github.com/coredns/coredns "$COREDNS_VERSION"
go_tool metrics-server sigs.k8s.io/metrics-server/cmd/metrics-server "$METRICS_SERVER_VERSION"
go_tool nats-server github.com/nats-io/nats-server/v2 "$(nats_version)"
build_pause
echo "$CACHE"
