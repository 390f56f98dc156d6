#!/usr/bin/env bash
# Validates the delivery manifests (make test-deploy):
#   1. test/deploy (Go, TUNGSTEN_DEPLOY_TEST=1): renders every Kustomize overlay and
#      tests/ combination with the kustomize Go API; decodes every object strictly into
#      the Kubernetes API types; policy checks (probes, resources, securityContext,
#      pinned images, Service/HPA/PDB/PodMonitor targets, NetworkPolicy and Istio
#      AuthorizationPolicy against the architecture's call graph, every --flag and
#      TUNGSTEN_* variable against `tungsten serve --help`, no Secret values); Argo CD
#      Applications; every .tf parsed by HCL and fmt-clean; the monitoring component's
#      dashboards and rules identical to deploy/observability (genmonitoring).
#   2. actionlint on .github/workflows (pinned, through the module proxy).
#   3. server-side dry run against a real kube-apiserver (scripts/kube-apiserver.sh builds
#      and caches it; etcd from Debian) on 127.0.0.1: the CRDs of Istio, Prometheus
#      Operator, Argo Rollouts and Argo CD (from their Go modules) and the Namespaces are
#      created for real, then every rendered manifest goes through
#      `kubectl apply --dry-run=server --validate=strict`. DEPLOY_DRY_RUN=0 skips it.
# Rendered manifests and the API server's logs are kept in test-artifacts/deploy/.
#
# Environment: TUNGSTEN_BIN (default: built into bin/tungsten), ACTIONLINT_VERSION,
# DEPLOY_DRY_RUN (1), KUBE_VERSION (scripts/kube-apiserver.sh).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$TUNGSTEN_REPO"

T0=$SECONDS
ACTIONLINT_VERSION=${ACTIONLINT_VERSION:-v1.7.12}

if [[ -z "${TUNGSTEN_BIN:-}" ]]; then
	go build -o bin/tungsten ./cmd/tungsten
	TUNGSTEN_BIN=$TUNGSTEN_REPO/bin/tungsten
fi
export TUNGSTEN_BIN TUNGSTEN_DEPLOY_TEST=1

log "test/deploy: render, strict decoding, policies, Argo CD, Terraform, generated monitoring"
# shellcheck disable=SC2086 # GOTESTFLAGS is a list of flags
go test -count=1 ${GOTESTFLAGS:-} ./test/deploy/...

log "actionlint $ACTIONLINT_VERSION"
go run "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" -color=false .github/workflows/*.yml

if [[ "${DEPLOY_DRY_RUN:-1}" != 0 ]]; then
	T1=$SECONDS
	KBIN=$(bash scripts/kube-apiserver.sh)
	ART=$TUNGSTEN_REPO/test-artifacts/deploy
	WORK=$(mktemp -d)
	PIDS=()
	# The API server first (started last), then etcd: kube-apiserver 1.37 waits minutes
	# in its shutdown for an etcd that is already gone, so it gets 10 s, then SIGKILL.
	cleanup_dry_run() {
		local i pid deadline
		for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
			pid=${PIDS[i]}
			kill "$pid" 2>/dev/null || true
			deadline=$((SECONDS + 10))
			while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		done
		rm -rf "$WORK"
	}
	on_exit cleanup_dry_run
	free_port ETCD_PORT
	free_port ETCD_PEER
	free_port API_PORT
	log "server-side dry run: etcd :$ETCD_PORT, kube-apiserver :$API_PORT"
	etcd --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
		--initial-cluster "default=http://127.0.0.1:$ETCD_PEER" >"$ART/etcd.log" 2>&1 &
	PIDS+=($!)
	openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
	TOKEN=$(openssl rand -hex 16)
	echo "$TOKEN,admin,admin,system:masters" >"$WORK/tokens.csv"
	"$KBIN/kube-apiserver" --bind-address=127.0.0.1 --secure-port="$API_PORT" --cert-dir="$WORK/certs" \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" --token-auth-file="$WORK/tokens.csv" \
		--authorization-mode=RBAC --service-cluster-ip-range=10.96.0.0/16 \
		--service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$WORK/sa.key" \
		--service-account-signing-key-file="$WORK/sa.key" >"$ART/kube-apiserver.log" 2>&1 &
	PIDS+=($!)
	kc() { "$KBIN/kubectl" --server="https://127.0.0.1:$API_PORT" --token="$TOKEN" --insecure-skip-tls-verify "$@"; }
	for _ in $(seq 120); do
		if kc get --raw /readyz >/dev/null 2>&1; then break; fi
		sleep 0.5
	done
	kc get --raw /readyz >/dev/null || die "kube-apiserver did not become ready (test-artifacts/deploy/kube-apiserver.log)"
	# The CRDs, from the projects' Go modules (the versions test/deploy/crd_test.go uses).
	crd_dir() { (cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'); }
	ISTIO=$(crd_dir istio.io/api@v1.31.1)
	PROM=$(crd_dir github.com/prometheus-operator/prometheus-operator@v0.85.0)
	ROLLOUTS=$(crd_dir github.com/argoproj/argo-rollouts@v1.9.0)
	ARGOCD=$(crd_dir github.com/argoproj/argo-cd/v3@v3.2.0)
	kc apply --server-side -f "$ISTIO/kubernetes/customresourcedefinitions.gen.yaml" \
		-f "$PROM/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml" \
		-f "$PROM/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" \
		-f "$ROLLOUTS/manifests/crds/rollout-crd.yaml" -f "$ROLLOUTS/manifests/crds/analysis-template-crd.yaml" \
		-f "$ARGOCD/manifests/crds/application-crd.yaml" -f "$ARGOCD/manifests/crds/appproject-crd.yaml" >/dev/null
	kc wait --for=condition=Established --timeout=60s crd --all >/dev/null
	kc create namespace tungsten >/dev/null
	kc create namespace tungsten-logging >/dev/null
	kc create namespace argocd >/dev/null
	failed=0
	for f in "$ART"/*.yaml; do
		case "$f" in *kube-apiserver*|*etcd*) continue ;; esac
		if kc apply --dry-run=server --validate=strict -f "$f" >"$f.dry-run.log" 2>&1; then
			log "dry run ok: $(basename "$f") ($(grep -c 'server dry run' "$f.dry-run.log") objects)"
		else
			warn "dry run FAILED: $(basename "$f"):"
			grep -v 'server dry run' "$f.dry-run.log" >&2 || true
			failed=1
		fi
	done
	for f in deploy/argocd/root.yaml deploy/argocd/apps/tungsten-dev.yaml; do
		kc apply --dry-run=server --validate=strict -f "$f" >/dev/null || { warn "dry run FAILED: $f"; failed=1; }
	done
	((failed == 0)) || die "server-side dry run failed"
	log "server-side dry run: ok ($((SECONDS - T1))s)"
fi

log "deploy: ok ($((SECONDS - T0))s; rendered manifests in test-artifacts/deploy/)"
