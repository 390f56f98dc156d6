#!/usr/bin/env bash
# Builds (once) and caches a real kube-apiserver and kubectl, for the server-side dry run
# of scripts/test-deploy.sh: the same build, version and cache as the local cluster's
# (scripts/k8s-build.sh kube: one wrapper-module `go build` of k8s.io/kubernetes for every
# component; ~10 minutes cold on 2 busy cores, then cached in $TUNGSTEN_CACHE, default
# ~/.cache/tungsten). etcd is Debian's etcd-server.
# Prints the directory holding kube-apiserver and kubectl.
#
# Environment: KUBE_VERSION (scripts/k8s-build.sh's default), TUNGSTEN_CACHE.
set -euo pipefail

exec bash "$(dirname "${BASH_SOURCE[0]}")/k8s-build.sh" kube
