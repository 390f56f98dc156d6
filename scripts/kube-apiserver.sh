#!/usr/bin/env bash
# Builds (once) and caches a real kube-apiserver and kubectl, for the server-side dry run
# of scripts/test-deploy.sh. k8s.io/kubernetes cannot be `go install`ed (its go.mod
# replaces the staging modules with ./staging), so a throwaway wrapper module outside the
# repository requires k8s.io/kubernetes and replaces every staging module with its
# published release of the same minor. ~7 minutes cold on 2 cores, then cached in
# $TUNGSTEN_CACHE (default ~/.cache/tungsten). etcd is Debian's etcd-server.
# Prints the directory holding kube-apiserver and kubectl.
#
# Environment: KUBE_VERSION (v1.33.13), TUNGSTEN_CACHE.
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBE_VERSION=${KUBE_VERSION:-v1.33.13}
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
CACHE=${TUNGSTEN_CACHE:-$HOME/.cache/tungsten}
BIN=$CACHE/kubernetes-$KUBE_VERSION/bin
SRC=$CACHE/kubernetes-$KUBE_VERSION/src

if [[ ! -x $BIN/kube-apiserver || ! -x $BIN/kubectl ]]; then
	log "building kube-apiserver and kubectl $KUBE_VERSION (first run: several minutes; cached in $BIN)"
	mkdir -p "$SRC" "$BIN"
	mods=$(curl -fsSL "${GOPROXY_URL:-https://proxy.golang.org}/k8s.io/kubernetes/@v/$KUBE_VERSION.mod" |
		awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }')
	[[ -n "$mods" ]] || die "could not read the staging modules of k8s.io/kubernetes $KUBE_VERSION"
	{
		printf 'module tungsten.local/kube-apiserver\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$KUBE_VERSION"
		for m in $mods; do printf '\t%s => %s %s\n' "$m" "$m" "$STAGING_VERSION"; done
		printf ')\n'
	} >"$SRC/go.mod"
	printf '//go:build tools\n\npackage tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n' >"$SRC/tools.go"
	(
		cd "$SRC"
		export GOFLAGS=-mod=mod
		go mod tidy
		ldflags="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
		go build -ldflags "$ldflags" -o "$BIN/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
		go build -ldflags "$ldflags" -o "$BIN/kubectl" k8s.io/kubernetes/cmd/kubectl
	)
fi

if ! command -v etcd >/dev/null; then
	if is_root && command -v apt-get >/dev/null; then
		log "installing etcd-server (Debian)"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
		systemctl disable --now etcd >/dev/null 2>&1 || true
	else
		die "etcd is not installed (Debian: apt-get install etcd-server)"
	fi
fi
echo "$BIN"
