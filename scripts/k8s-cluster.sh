#!/usr/bin/env bash
# A real single-node Kubernetes on this machine, and Tungsten deployed on it the way users
# deploy it (deploy/kubernetes/tests/cluster = overlays/dev + the node's data stores).
#
#   k8s-cluster.sh up     build/cache everything (scripts/k8s-build.sh), build the images
#                         (scripts/k8s-images.sh), start containerd, etcd, kube-apiserver,
#                         controller-manager, scheduler, kubelet, kube-proxy, CoreDNS,
#                         metrics-server, throwaway PostgreSQL and Redis on the node, then
#                         deploy Tungsten and start Prometheus on the node scraping its pods
#                         through the PodMonitor users deploy (http://127.0.0.1:19090) and
#                         VictoriaLogs on the node (http://127.0.0.1:19428 and the node IP)
#                         receiving every container's logs from components/logging's vlagent,
#                         and Jaeger on the node (query http://127.0.0.1:16686, OTLP on the
#                         node IP:14318) receiving every trace (components/tracing);
#                         leaves it running (make cluster-up)
#   k8s-cluster.sh down   stop everything it started (by pid) and remove what it made: pods'
#                         network namespaces and veths, the bridge, KUBE-*/CNI-* iptables
#                         chains, mounts under its directories, cgroups; restores the
#                         sysctls it changed (make cluster-down)
#   k8s-cluster.sh test   up, then test/cluster (TUNGSTEN_CLUSTER_TEST=1) and the RealWorld
#                         collection through the gateway Service, then down, whatever
#                         failed (make test-cluster)
#   k8s-cluster.sh doctor up, the full doctor evaluation (scripts/doctor-eval.sh full),
#                         down, whatever failed (make test-doctor)
#
# Root only (containerd, kubelet, iptables). Needs free: 2379/2380, 6443, 10248-10259 and
# 15432/16379/19428/14318 on the node IP, 19090/19428/16685/16686/13133 on loopback. Other PostgreSQL/Redis/NATS on the machine are left alone.
# Logs, timings and figures: test-artifacts/cluster/.
# Environment: KUBE_VERSION (v1.37.2), TUNGSTEN_CACHE, TUNGSTEN_K8S_DIR (state,
# /var/lib/tungsten-k8s), NODE_IP (the default route's source address).
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
REPO=$TUNGSTEN_REPO
cd "$REPO"

CMD=${1:-}
case "$CMD" in
up | down | test | doctor) ;;
*) die "usage: scripts/k8s-cluster.sh up|down|test|doctor" ;;
esac
is_root || die "the local cluster needs root (containerd, kubelet, iptables)"

export KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
CACHE=${TUNGSTEN_CACHE:-$HOME/.cache/tungsten}
P=${TUNGSTEN_K8S_DIR:-/var/lib/tungsten-k8s}
RUN=/run/tungsten-k8s
KBIN=$CACHE/kubernetes-$KUBE_VERSION/bin
ART=$REPO/test-artifacts/cluster
K=$P/pki
NODE_NAME=tungsten-node
NODE_IP=${NODE_IP:-$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')}
POD_CIDR=10.244.0.0/24 CLUSTER_CIDR=10.244.0.0/16 SVC_CIDR=10.96.0.0/16 DNS_IP=10.96.0.10
BRIDGE=tungsten0
CTRD_SOCK=$RUN/containerd/containerd.sock
PG_PORT=15432 REDIS_PORT=16379 PROM_PORT=19090 VLOGS_PORT=19428
# Jaeger: OTLP/HTTP on the node IP (the pods), query API, its gRPC and health on loopback.
OTLP_PORT=14318 JAEGER_PORT=16686 JAEGER_GRPC_PORT=16685 JAEGER_HEALTH_PORT=13133
COREDNS_VERSION=v1.12.3 METRICS_SERVER_VERSION=v0.8.0
OVERLAY=deploy/kubernetes/tests/cluster
export KUBECONFIG=$P/kubeconfig/admin.conf
[[ -n $NODE_IP ]] || die "no node IP (no default route); set NODE_IP"

kc() { "$KBIN/kubectl" "$@"; }
ctr_() { ctr -a "$CTRD_SOCK" -n k8s.io "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# timing WHAT SECONDS: printed and kept in test-artifacts/cluster/timings.txt
timing() { printf '%-45s %6s s\n' "$1" "$2" | tee -a "$ART/timings.txt" >&2; }

# start NAME CMD...: runs CMD in the background, log in $P/logs/NAME.log, pid in $P/run/NAME.pid
start() {
	local n=$1
	shift
	"$@" >"$P/logs/$n.log" 2>&1 &
	echo $! >"$P/run/$n.pid"
}

# stop NAME: TERM the recorded pid (only that one), KILL after 20 s.
stop() {
	local f=$P/run/$1.pid pid i
	[[ -f $f ]] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
		log "stopped $1 (pid $pid)"
	fi
	rm -f "$f"
}

# wait_for SECONDS WHAT CMD...: polls CMD every 0.5 s; fails naming WHAT and the log to read.
wait_for() {
	local t=$1 what=$2 s
	shift 2
	s=$(now)
	until "$@" >/dev/null 2>&1; do
		if awk -v a="$s" -v b="$(now)" -v t="$t" 'BEGIN { exit !(b - a > t) }'; then
			warn "timed out after ${t}s waiting for $what (logs: $P/logs, copied to $ART/logs)"
			return 1
		fi
		sleep 0.5
	done
}

# --- preflight ----------------------------------------------------------------------------
# our_pids_alive: whether any process a previous run recorded in $P/run is still running.
our_pids_alive() {
	local f
	for f in "$P"/run/*.pid; do
		[[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null && return 0
	done
	return 1
}

check_ports() {
	local p busy=()
	# A run whose processes were killed before its teardown (a session or job ended under
	# it) leaves the bridge, chains and mounts behind; they are ours, so clean them up.
	if { [[ -d $P ]] || ip link show "$BRIDGE" >/dev/null 2>&1; } && ! our_pids_alive; then
		warn "a previous cluster run was not torn down and none of its processes runs: cleaning up its leftovers"
		cmd_down
	fi
	for p in 2379 2380 6443 10248 10249 10250 10251 10252 10253 10254 10255 10256 10257 10258 10259; do
		if tcp_open 127.0.0.1 "$p" || tcp_open "$NODE_IP" "$p"; then busy+=("$p"); fi
	done
	for p in $PG_PORT $REDIS_PORT; do tcp_open "$NODE_IP" "$p" && busy+=("$NODE_IP:$p"); done
	tcp_open 127.0.0.1 "$PROM_PORT" && busy+=("127.0.0.1:$PROM_PORT")
	tcp_open 127.0.0.1 "$VLOGS_PORT" && busy+=("127.0.0.1:$VLOGS_PORT")
	tcp_open "$NODE_IP" "$VLOGS_PORT" && busy+=("$NODE_IP:$VLOGS_PORT")
	tcp_open "$NODE_IP" "$OTLP_PORT" && busy+=("$NODE_IP:$OTLP_PORT")
	for p in $JAEGER_PORT $JAEGER_GRPC_PORT $JAEGER_HEALTH_PORT; do tcp_open 127.0.0.1 "$p" && busy+=("127.0.0.1:$p"); done
	if ((${#busy[@]} > 0)); then
		die "ports in use: ${busy[*]} (another cluster or etcd/kube-apiserver runs here: stop it, or 'scripts/k8s-cluster.sh down' if it is ours; nothing was killed)"
	fi
	if ip link show "$BRIDGE" >/dev/null 2>&1; then die "bridge $BRIDGE exists: a previous run was not torn down (scripts/k8s-cluster.sh down)"; fi
}

# --- configuration files --------------------------------------------------------------------
write_configs() {
	mkdir -p "$P/etc/containerd" "$P/etc/cni/net.d"
	cat >"$P/etc/containerd/config.toml" <<-EOF
		version = 2
		root = "$P/var/containerd"
		state = "$RUN/containerd"
		[grpc]
		  address = "$CTRD_SOCK"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$P/var/containerd-opt"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "tungsten.local/pause:$KUBE_VERSION"
		  # Some VMs withhold CAP_SYS_RESOURCE even from root: runc then cannot lower
		  # oom_score_adj (a sandbox asks for -998 and fails with "can't get final child's PID
		  # from pipe: EOF"), so clamp every container's oom_score_adj to containerd's own.
		  restrict_oom_score_adj = true
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    default_runtime_name = "runc"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		        SystemdCgroup = false
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "$P/etc/cni/net.d"
	EOF
	cat >"$P/etc/cni/net.d/10-tungsten-bridge.conflist" <<-EOF
		{
		  "cniVersion": "1.0.0",
		  "name": "tungsten-k8s",
		  "plugins": [
		    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
		     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}],
		              "dataDir": "$P/var/cni-ipam"}},
		    {"type": "portmap", "capabilities": {"portMappings": true}}
		  ]
		}
	EOF
	cat >"$P/etc/kubelet.yaml" <<-EOF
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		address: $NODE_IP
		healthzBindAddress: 127.0.0.1
		authentication:
		  anonymous: {enabled: false}
		  webhook: {enabled: true}
		  x509: {clientCAFile: $K/ca.crt}
		authorization: {mode: Webhook}
		tlsCertFile: $K/kubelet-serving.crt
		tlsPrivateKeyFile: $K/kubelet-serving.key
		containerRuntimeEndpoint: unix://$CTRD_SOCK
		cgroupDriver: cgroupfs        # no systemd as PID 1
		failCgroupV1: false           # the machine is on cgroup v1 (the default refuses it since 1.35)
		failSwapOn: false
		clusterDomain: cluster.local
		clusterDNS: [$DNS_IP]
		resolvConf: /etc/resolv.conf
		runtimeRequestTimeout: 5m
		serializeImagePulls: false
		imageGCHighThresholdPercent: 100   # never garbage-collect the imported (unpullable) images
		imageGCLowThresholdPercent: 99
		evictionHard: {memory.available: 200Mi, nodefs.available: 2%, imagefs.available: 2%, nodefs.inodesFree: 2%}
		rotateCertificates: false
		serverTLSBootstrap: false
	EOF
	cat >"$P/etc/kube-proxy.yaml" <<-EOF
		apiVersion: kubeproxy.config.k8s.io/v1alpha1
		kind: KubeProxyConfiguration
		clientConnection: {kubeconfig: $P/kubeconfig/kube-proxy.conf}
		mode: iptables
		clusterCIDR: $CLUSTER_CIDR
		hostnameOverride: $NODE_NAME
		healthzBindAddress: 127.0.0.1:10256
		metricsBindAddress: 127.0.0.1:10249
		nodePortAddresses: ["$NODE_IP/32"]
		# leave the host's route_localnet and conntrack sysctls alone
		iptables: {localhostNodePorts: false}
		conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
	EOF
}

gen_pki() {
	mkdir -p "$K" "$P/kubeconfig"
	(
		cd "$K"
		ca() {
			openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.crt" -days 7 -subj "/CN=$2" \
				-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
		}
		cert() { # name ca subject extendedKeyUsage [subjectAltName]
			openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$3" 2>/dev/null
			{
				echo basicConstraints=CA:FALSE
				echo keyUsage=critical,digitalSignature,keyEncipherment
				echo "extendedKeyUsage=$4"
				[[ -n ${5:-} ]] && echo "subjectAltName=$5"
			} >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -out "$1.crt" -days 7 -extfile "$1.ext" 2>/dev/null
			rm -f "$1.csr" "$1.ext"
		}
		ca ca kubernetes-ca
		ca front-proxy-ca front-proxy-ca
		cert apiserver ca /CN=kube-apiserver serverAuth \
			"IP:127.0.0.1,IP:$NODE_IP,IP:10.96.0.1,DNS:localhost,DNS:$NODE_NAME,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
		cert kubelet-serving ca "/O=system:nodes/CN=system:node:$NODE_NAME" serverAuth "IP:127.0.0.1,IP:$NODE_IP,DNS:$NODE_NAME,DNS:localhost"
		cert apiserver-kubelet-client ca /O=system:masters/CN=kube-apiserver-kubelet-client clientAuth
		cert admin ca /O=system:masters/CN=kubernetes-admin clientAuth
		cert controller-manager ca /CN=system:kube-controller-manager clientAuth
		cert scheduler ca /CN=system:kube-scheduler clientAuth
		cert kubelet ca "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
		cert kube-proxy ca /CN=system:kube-proxy clientAuth
		cert front-proxy-client front-proxy-ca /CN=front-proxy-client clientAuth
		openssl genrsa -out sa.key 2048 2>/dev/null
		openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	)
	local u k
	for u in admin controller-manager scheduler kubelet kube-proxy; do
		k=$P/kubeconfig/$u.conf
		rm -f "$k"
		kc --kubeconfig="$k" config set-cluster tungsten --server="https://$NODE_IP:6443" --certificate-authority="$K/ca.crt" --embed-certs >/dev/null
		kc --kubeconfig="$k" config set-credentials "$u" --client-certificate="$K/$u.crt" --client-key="$K/$u.key" --embed-certs >/dev/null
		kc --kubeconfig="$k" config set-context tungsten --cluster=tungsten --user="$u" >/dev/null
		kc --kubeconfig="$k" config use-context tungsten >/dev/null
	done
}

# --- up -----------------------------------------------------------------------------------
SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables
	net.ipv4.conf.all.route_localnet vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
	kernel.keys.root_maxkeys kernel.keys.root_maxbytes)

host_prepare() {
	mkdir -p "$P"/{logs,run,etc,var,manifests} "$RUN"
	modprobe br_netfilter 2>/dev/null || true
	modprobe overlay 2>/dev/null || true
	# Remember the host's values once (kubelet sets vm.overcommit_memory, kernel.panic and
	# kernel.panic_on_oops; the bridge needs ip_forward); `down` restores them.
	local k d
	if [[ ! -f $P/run/sysctl.orig ]]; then
		for k in "${SYSCTLS[@]}"; do
			if sysctl -n "$k" >/dev/null 2>&1; then echo "$k=$(sysctl -n "$k")"; fi
		done >"$P/run/sysctl.orig"
		# iptables-nft creates its tables (ip filter, ip nat, ...) on first use; `down` removes
		# the ones that were not there and are empty again
		if command -v nft >/dev/null; then nft list tables >"$P/run/nft-tables.orig" 2>/dev/null; fi
		for d in /var/lib/kubelet /var/log/pods /var/log/containers /run/netns /etc/kubernetes; do
			[[ -e $d ]] || echo "$d"
		done >"$P/run/created-dirs"
	fi
	sysctl -qw net.ipv4.ip_forward=1
	sysctl -qw net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 2>/dev/null || true
}

start_datastores() {
	# Throwaway PostgreSQL and Redis on the node (docs/adr/0005-cluster-datastores.md): pods
	# reach them as external services, like production's managed ones, through selector-less
	# Services (tungsten-postgres, tungsten-redis) whose EndpointSlices name the node.
	local pgbin
	pgbin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -1)
	[[ -x $pgbin/postgres ]] || apt_install --why "PostgreSQL server binaries missing" postgresql
	pgbin=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin | sort -V | tail -1)
	command -v redis-server >/dev/null || apt_install --why "redis-server missing" redis-server
	mkdir -p "$P/var/pg" "$RUN/pg"
	chown postgres: "$P/var/pg" "$RUN/pg"
	runuser -u postgres -- "$pgbin/initdb" -D "$P/var/pg/data" -U postgres --auth=trust -E UTF8 >"$P/logs/initdb.log" 2>&1 ||
		die "initdb failed ($P/logs/initdb.log)"
	printf 'host all all %s trust\nhost all all %s/32 trust\n' "$CLUSTER_CIDR" "$NODE_IP" >>"$P/var/pg/data/pg_hba.conf"
	# setpriv execs (no intermediate process), so the recorded pid is the postmaster's own
	start postgres setpriv --reuid=postgres --regid=postgres --init-groups "$pgbin/postgres" -D "$P/var/pg/data" -k "$RUN/pg" \
		-c "listen_addresses=$NODE_IP" -p "$PG_PORT" -c max_connections=300 -c fsync=off
	start redis redis-server --bind "$NODE_IP" --port "$REDIS_PORT" --save '' --appendonly no \
		--protected-mode no --dir "$P/var" --maxmemory 200mb --maxmemory-policy allkeys-lru
	wait_for 60 postgres runuser -u postgres -- "$pgbin/pg_isready" -h "$NODE_IP" -p "$PG_PORT" || die "postgres did not start ($P/logs/postgres.log)"
	wait_for 30 redis tcp_open "$NODE_IP" "$REDIS_PORT" || die "redis did not start ($P/logs/redis.log)"
	runuser -u postgres -- "$pgbin/psql" -h "$NODE_IP" -p "$PG_PORT" -U postgres -qc "CREATE ROLE tungsten LOGIN" -c "CREATE DATABASE tungsten OWNER tungsten" >/dev/null
}

start_control_plane() {
	log "containerd (private config, state and socket: $CTRD_SOCK)"
	mkdir -p "$RUN/containerd"
	start containerd containerd --config "$P/etc/containerd/config.toml"
	wait_for 60 containerd ctr -a "$CTRD_SOCK" version || die "containerd did not start"
	local file t0
	t0=$(now)
	while read -r _ file; do
		ctr_ images import "$file" >/dev/null || die "ctr images import $file failed"
	done <"$P/images/images.txt"
	timing "images imported into containerd" "$(since "$t0")"
	[[ -f $K/ca.crt ]] || gen_pki
	log "etcd, kube-apiserver"
	start etcd etcd --name tungsten --data-dir "$P/var/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster tungsten=http://127.0.0.1:2380
	wait_for 60 etcd curl -fsS http://127.0.0.1:2379/health || die "etcd did not start"
	start kube-apiserver "$KBIN/kube-apiserver" \
		--advertise-address="$NODE_IP" --bind-address="$NODE_IP" --secure-port=6443 \
		--etcd-servers=http://127.0.0.1:2379 \
		--client-ca-file="$K/ca.crt" --tls-cert-file="$K/apiserver.crt" --tls-private-key-file="$K/apiserver.key" \
		--kubelet-client-certificate="$K/apiserver-kubelet-client.crt" --kubelet-client-key="$K/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="$K/ca.crt" --kubelet-preferred-address-types=InternalIP,Hostname \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$K/sa.pub" --service-account-signing-key-file="$K/sa.key" \
		--service-cluster-ip-range="$SVC_CIDR" --service-node-port-range=30000-32767 \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
		--requestheader-client-ca-file="$K/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
		--requestheader-extra-headers-prefix=X-Remote-Extra- --requestheader-group-headers=X-Remote-Group \
		--requestheader-username-headers=X-Remote-User \
		--proxy-client-cert-file="$K/front-proxy-client.crt" --proxy-client-key-file="$K/front-proxy-client.key" \
		--enable-aggregator-routing=true
	wait_for 180 kube-apiserver kc get --raw /readyz || die "kube-apiserver did not become ready"
	log "kube-controller-manager, kube-scheduler"
	start kube-controller-manager "$KBIN/kube-controller-manager" \
		--kubeconfig="$P/kubeconfig/controller-manager.conf" \
		--authentication-kubeconfig="$P/kubeconfig/controller-manager.conf" \
		--authorization-kubeconfig="$P/kubeconfig/controller-manager.conf" \
		--bind-address=127.0.0.1 --leader-elect=false \
		--cluster-signing-cert-file="$K/ca.crt" --cluster-signing-key-file="$K/ca.key" \
		--root-ca-file="$K/ca.crt" --service-account-private-key-file="$K/sa.key" \
		--use-service-account-credentials=true \
		--allocate-node-cidrs=true --cluster-cidr="$CLUSTER_CIDR" --node-cidr-mask-size=24 \
		--service-cluster-ip-range="$SVC_CIDR" --horizontal-pod-autoscaler-sync-period=5s
	start kube-scheduler "$KBIN/kube-scheduler" \
		--kubeconfig="$P/kubeconfig/scheduler.conf" \
		--authentication-kubeconfig="$P/kubeconfig/scheduler.conf" \
		--authorization-kubeconfig="$P/kubeconfig/scheduler.conf" \
		--bind-address=127.0.0.1 --leader-elect=false
	wait_for 60 controller-manager curl -fsk https://127.0.0.1:10257/healthz || die "kube-controller-manager unhealthy"
	wait_for 60 scheduler curl -fsk https://127.0.0.1:10259/healthz || die "kube-scheduler unhealthy"
	log "kubelet, kube-proxy"
	mkdir -p "$P/var/kubelet"
	start kubelet "$KBIN/kubelet" --config="$P/etc/kubelet.yaml" --kubeconfig="$P/kubeconfig/kubelet.conf" \
		--node-ip="$NODE_IP" --hostname-override="$NODE_NAME" --root-dir="$P/var/kubelet" --v=1
	start kube-proxy "$KBIN/kube-proxy" --config="$P/etc/kube-proxy.yaml" --v=1
	wait_for 120 node-Ready kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s || die "node not Ready"
	wait_for 60 kube-proxy curl -fsS http://127.0.0.1:10256/healthz || die "kube-proxy unhealthy"
	wait_for 60 default-serviceaccount kc -n default get serviceaccount default || die "no default ServiceAccount"
}

start_addons() {
	sed -e "s|@DNS_IP@|$DNS_IP|g" -e "s|@COREDNS_IMAGE@|tungsten.local/coredns:$COREDNS_VERSION|g" \
		-e "s|@METRICS_SERVER_IMAGE@|tungsten.local/metrics-server:$METRICS_SERVER_VERSION|g" \
		"$REPO/scripts/k8s/addons.yaml" >"$P/manifests/addons.yaml"
	kc apply -f "$P/manifests/addons.yaml" >/dev/null
	kc -n kube-system rollout status deploy/coredns --timeout=180s >&2 || die "CoreDNS did not become ready"
	kc -n kube-system rollout status deploy/metrics-server --timeout=180s >&2 || die "metrics-server did not become ready"
	wait_for 180 metrics.k8s.io kc wait --for=condition=Available apiservice/v1beta1.metrics.k8s.io --timeout=2s ||
		die "metrics.k8s.io not Available"
}

# start_prometheus: Debian's Prometheus on the node, as its own user, scraping Tungsten's
# pods with the scrape config generated from components/monitoring/podmonitor.yaml (what
# the Prometheus Operator would run: test/cluster/scrapeconfig) and loading the rules of
# deploy/observability. Debian builds Prometheus without the Kubernetes discovery, so
# `scrapeconfig -discover` (as the same user) lists the pods through the API with the token
# of a ServiceAccount that may only read pods (scripts/k8s/addons.yaml) and writes what the
# pod role would give as file_sd targets; the PodMonitor's relabelling then runs unchanged.
start_prometheus() {
	local d=$P/prometheus sc=$P/bin/scrapeconfig
	mkdir -p "$d/data" "$d/sd" "$d/rules" "$P/bin"
	go build -o "$sc" ./test/cluster/scrapeconfig || die "go build ./test/cluster/scrapeconfig failed"
	kc -n kube-system create token prometheus --duration=24h >"$d/token" || die "no token for the prometheus ServiceAccount"
	cp "$K/ca.crt" "$d/ca.crt"
	cp "$REPO"/deploy/observability/prometheus/rules/*.yml "$d/rules/"
	{
		cat <<-EOF
			# Written by scripts/k8s-cluster.sh: the PodMonitor's scrape config (test/cluster/scrapeconfig).
			global: {scrape_interval: 15s, evaluation_interval: 15s}
			rule_files:
			  - $d/rules/*.yml
			scrape_configs:
		EOF
		"$sc" -podmonitor deploy/kubernetes/components/monitoring/podmonitor.yaml -namespace tungsten -file-sd "$d/sd" |
			sed 's/^/  /'
	} >"$d/prometheus.yml" || die "could not generate the scrape config from the PodMonitor"
	promtool check config "$d/prometheus.yml" >"$P/logs/promtool.log" 2>&1 || die "promtool check config failed ($P/logs/promtool.log)"
	chown -R prometheus: "$d"
	chmod 600 "$d/token"
	local as_prom=(setpriv --reuid=prometheus --regid=prometheus --init-groups)
	start pod-discovery "${as_prom[@]}" "$sc" -discover "$d/sd" -namespace tungsten \
		-api-server "https://$NODE_IP:6443" -ca-file "$d/ca.crt" -token-file "$d/token"
	wait_for 30 "pod discovery ($d/sd/pods.json)" test -s "$d/sd/pods.json" || die "pod discovery wrote no targets ($P/logs/pod-discovery.log)"
	start prometheus "${as_prom[@]}" prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data" \
		--web.listen-address="127.0.0.1:$PROM_PORT" --storage.tsdb.retention.time=1d
	wait_for 60 "Prometheus on 127.0.0.1:$PROM_PORT" curl -fsS -m 2 "http://127.0.0.1:$PROM_PORT/-/ready" || die "Prometheus did not start"
}

# start_victorialogs: VictoriaLogs on the node (scripts/victorialogs.sh), as nobody, data in
# the state dir. Loopback for the tests and `doctor`, the node IP for the pods' vlagent
# (through the selector-less Service tungsten-victorialogs, scripts/k8s/node-services.yaml).
start_victorialogs() {
	local dir
	dir=$(bash "$REPO/scripts/victorialogs.sh") || die "scripts/victorialogs.sh failed"
	mkdir -p "$P/var/victorialogs"
	chown nobody: "$P/var/victorialogs"
	start victorialogs setpriv --reuid=nobody --regid=nogroup --clear-groups "$dir/victoria-logs" \
		-httpListenAddr "127.0.0.1:$VLOGS_PORT" -httpListenAddr "$NODE_IP:$VLOGS_PORT" \
		-storageDataPath "$P/var/victorialogs" -retentionPeriod 1d
	wait_for 60 "VictoriaLogs on 127.0.0.1:$VLOGS_PORT" curl -fsS -m 2 "http://127.0.0.1:$VLOGS_PORT/health" ||
		die "VictoriaLogs did not start ($P/logs/victorialogs.log)"
}

# start_jaeger: Jaeger v2 on the node (scripts/jaeger.sh), as nobody, traces in memory:
# OTLP/HTTP on the node IP for the pods (the selector-less Service tungsten-jaeger, which
# components/tracing points them at), the query API on loopback for the tests and `doctor`.
start_jaeger() {
	local bin
	bin=$(bash "$REPO/scripts/jaeger.sh") || die "scripts/jaeger.sh failed"
	install -m 0644 "$REPO/scripts/k8s/jaeger.yaml" "$P/etc/jaeger.yaml"
	start jaeger env JAEGER_OTLP_ADDR="$NODE_IP:$OTLP_PORT" JAEGER_QUERY_ADDR="127.0.0.1:$JAEGER_PORT" \
		JAEGER_QUERY_GRPC_ADDR="127.0.0.1:$JAEGER_GRPC_PORT" JAEGER_HEALTH_ADDR="127.0.0.1:$JAEGER_HEALTH_PORT" \
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$bin" --config "$P/etc/jaeger.yaml"
	wait_for 60 "Jaeger on 127.0.0.1:$JAEGER_HEALTH_PORT" curl -fsS -m 2 "http://127.0.0.1:$JAEGER_HEALTH_PORT/status" ||
		die "Jaeger did not start ($P/logs/jaeger.log)"
}

# deploy: the overlay, in the order Argo CD's sync waves give it: everything but the
# Deployments first (config, secrets, NATS, the migrate Job), the Job to completion, then
# the services, which start on its schema (TUNGSTEN_MIGRATE_ON_START is false there).
deploy_tungsten() {
	local t0
	kc kustomize "$OVERLAY" >"$P/manifests/tungsten.yaml" || die "kustomize $OVERLAY failed"
	# tungsten-1: everything but the Job and the Deployments; tungsten-job: the migrate Job,
	# applied once the node-services' EndpointSlices exist (it connects to PostgreSQL through
	# the selector-less Service: without them its first attempt fails and waits a backoff);
	# tungsten-2: the Deployments.
	awk -v a="$P/manifests/tungsten-1.yaml" -v j="$P/manifests/tungsten-job.yaml" -v b="$P/manifests/tungsten-2.yaml" '
		function out() { return doc ~ /(^|\n)kind: Deployment\n/ ? b : (doc ~ /(^|\n)kind: Job\n/ ? j : a) }
		function flush() { if (doc != "") { f = out(); print doc > f; print "---" > f } doc = "" }
		/^---$/ { flush(); next }
		{ doc = doc $0 "\n" }
		END { flush() }' "$P/manifests/tungsten.yaml"
	sed -e "s|@NODE_IP@|$NODE_IP|g" -e "s|@PG_PORT@|$PG_PORT|g" -e "s|@REDIS_PORT@|$REDIS_PORT|g" -e "s|@VLOGS_PORT@|$VLOGS_PORT|g" -e "s|@OTLP_PORT@|$OTLP_PORT|g" -e "s|@PV_DIR@|$P/var/pv|g" \
		"$REPO/scripts/k8s/node-services.yaml" >"$P/manifests/node-services.yaml"
	mkdir -p "$P/var/pv/nats-0"
	chown 1000:1000 "$P/var/pv/nats-0"
	t0=$(now)
	kc apply -f "$P/manifests/tungsten-1.yaml" >/dev/null || die "kubectl apply (phase 1) failed"
	kc apply -f "$P/manifests/node-services.yaml" >/dev/null || die "kubectl apply node-services failed"
	kc apply -f "$P/manifests/tungsten-job.yaml" >/dev/null || die "kubectl apply (migrate Job) failed"
	kc -n tungsten wait --for=condition=complete job/tungsten-migrate --timeout=180s >&2 || {
		kc -n tungsten logs job/tungsten-migrate >&2 || true
		die "the migrate Job did not complete"
	}
	timing "apply -> migrate Job complete" "$(since "$t0")"
	kc -n tungsten rollout status statefulset/tungsten-nats --timeout=180s >&2 || die "NATS did not become ready"
	t0=$(now)
	kc apply -f "$P/manifests/tungsten-2.yaml" >/dev/null || die "kubectl apply (phase 2) failed"
	local d
	for d in $(kc -n tungsten get deploy -o name); do
		kc -n tungsten rollout status "$d" --timeout=240s >&2 || die "$d did not become Available"
	done
	timing "apply services -> every Deployment Available" "$(since "$t0")"
}

cmd_up() {
	local t0 t1
	mkdir -p "$ART"
	: >"$ART/timings.txt"
	t0=$(now)
	check_ports
	t1=$(now)
	bash "$REPO/scripts/k8s-build.sh" all >/dev/null || die "scripts/k8s-build.sh failed"
	timing "build/cache kube components + tools" "$(since "$t1")"
	# From here on anything started is torn down if a step fails.
	on_exit 'if ((_TUNGSTEN_EXIT_CODE != 0)); then warn "cluster-up failed: tearing down"; cmd_down; fi'
	host_prepare
	t1=$(now)
	bash "$REPO/scripts/k8s-images.sh" "$P/images" || die "scripts/k8s-images.sh failed"
	timing "images built (crane)" "$(since "$t1")"
	write_configs
	start_datastores
	start_victorialogs
	start_jaeger
	t1=$(now)
	start_control_plane
	timing "containerd + control plane -> node Ready" "$(since "$t1")"
	t1=$(now)
	start_addons
	timing "CoreDNS + metrics-server ready" "$(since "$t1")"
	deploy_tungsten
	t1=$(now)
	start_prometheus
	timing "Prometheus scraping the pods" "$(since "$t1")"
	timing "cluster-up total" "$(since "$t0")"
	kc get nodes -o wide >&2
	kc -n tungsten get pods -o wide >&2
	cat >"$P/env" <<-EOF
		export KUBECONFIG=$KUBECONFIG
		export PATH=$KBIN:\$PATH
		export TUNGSTEN_CLUSTER_NODE_IP=$NODE_IP
		export TUNGSTEN_CLUSTER_CONTAINERD=$CTRD_SOCK
		export TUNGSTEN_CLUSTER_PROMETHEUS=http://127.0.0.1:$PROM_PORT
		export TUNGSTEN_CLUSTER_VICTORIALOGS=http://127.0.0.1:$VLOGS_PORT
		export TUNGSTEN_CLUSTER_JAEGER=http://127.0.0.1:$JAEGER_PORT
	EOF
	log "cluster up: source $P/env, then kubectl -n tungsten get pods; Prometheus: http://127.0.0.1:$PROM_PORT; VictoriaLogs: http://127.0.0.1:$VLOGS_PORT/select/vmui; Jaeger: http://127.0.0.1:$JAEGER_PORT; stop it with make cluster-down"
}

# --- down ---------------------------------------------------------------------------------
cmd_down() {
	set +e
	mkdir -p "$ART/logs"
	[[ -d $P/logs ]] && cp -r "$P/logs/." "$ART/logs/" 2>/dev/null
	if [[ -f $P/run/kube-apiserver.pid && -f $P/run/kubelet.pid ]] && kc get --raw /readyz >/dev/null 2>&1; then
		log "deleting workloads (kubelet and containerd release their networks and mounts)"
		kc -n tungsten get pods -o wide >"$ART/pods-at-teardown.txt" 2>&1
		kc delete apiservice v1beta1.metrics.k8s.io --ignore-not-found --wait=false >/dev/null 2>&1
		kc delete ns tungsten tungsten-logging --ignore-not-found --wait=false >/dev/null 2>&1
		kc -n kube-system delete deploy --all --wait=false >/dev/null 2>&1
		# shellcheck disable=SC2317 # called through wait_for
		nopods() { [[ -z $(kc get pods -A --no-headers 2>/dev/null) ]]; }
		wait_for 90 "all pods gone" nopods
	fi
	stop prometheus
	stop pod-discovery
	stop kube-proxy
	if [[ -x $KBIN/kube-proxy && -f $P/etc/kube-proxy.yaml ]]; then
		"$KBIN/kube-proxy" --cleanup --config="$P/etc/kube-proxy.yaml" >"$ART/logs/kube-proxy-cleanup.log" 2>&1
	fi
	local n
	for n in kubelet kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$n"; done
	if [[ -S $CTRD_SOCK ]] && ctr -a "$CTRD_SOCK" version >/dev/null 2>&1; then
		local c
		for c in $(ctr_ task ls -q 2>/dev/null); do ctr_ task kill -s KILL "$c" 2>/dev/null; done
		sleep 1
		for c in $(ctr_ task ls -q 2>/dev/null); do ctr_ task delete -f "$c" >/dev/null 2>&1; done
		for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1; done
	fi
	stop containerd
	stop postgres
	stop redis
	stop victorialogs
	stop jaeger
	# Shims of our containerd outlive it: each names our private socket on its command line.
	local f pid
	for f in /proc/[0-9]*/cmdline; do
		pid=${f#/proc/}
		pid=${pid%/cmdline}
		if tr '\0' ' ' <"$f" 2>/dev/null | grep -q -- "^/usr/bin/containerd-shim-runc-v2 .*-address $CTRD_SOCK"; then
			kill "$pid" 2>/dev/null && log "killed leftover shim $pid"
		fi
	done
	# Mounts, deepest first: overlay rootfs, sandbox shm, kubelet volumes, pods' netns.
	local m
	awk '{print $2}' /proc/self/mounts | grep -E "^($RUN|$P/var|/run/netns/cni-)" | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	rm -f /run/netns/cni-* 2>/dev/null
	local cg
	for cg in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
		[[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	# veths of pods whose netns vanished with the bridge, then the bridge
	ip link del "$BRIDGE" 2>/dev/null && log "deleted bridge $BRIDGE"
	# iptables chains of kubelet (KUBE-KUBELET-CANARY, ...), kube-proxy and the bridge plugin (CNI-*)
	local ipt t ch rule
	for ipt in iptables ip6tables; do
		for t in filter nat mangle; do
			"$ipt-save" -t "$t" 2>/dev/null | grep -E '^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) .*-j (KUBE|CNI)-' | sed 's/^-A/-D/' |
				while read -r rule; do eval "$ipt -t $t $rule" 2>/dev/null; done
			for ch in $("$ipt-save" -t "$t" 2>/dev/null | sed -n 's/^:\(\(KUBE\|CNI\)-[^ ]*\) .*/\1/p'); do "$ipt" -t "$t" -F "$ch" 2>/dev/null; done
			for ch in $("$ipt-save" -t "$t" 2>/dev/null | sed -n 's/^:\(\(KUBE\|CNI\)-[^ ]*\) .*/\1/p'); do "$ipt" -t "$t" -X "$ch" 2>/dev/null; done
		done
	done
	if [[ -f $P/run/nft-tables.orig ]]; then
		local fam tbl
		while read -r _ fam tbl; do
			grep -qx "table $fam $tbl" "$P/run/nft-tables.orig" && continue
			nft -j list table "$fam" "$tbl" 2>/dev/null | grep -q '"rule"' && continue
			nft delete table "$fam" "$tbl" 2>/dev/null && log "deleted empty nft table $fam $tbl"
		done < <(nft list tables 2>/dev/null)
	fi
	if [[ -f $P/run/sysctl.orig ]]; then
		local k v
		while IFS="=" read -r k v; do sysctl -qw "$k=$v" 2>/dev/null; done <"$P/run/sysctl.orig"
		log "sysctls restored"
	fi
	if [[ -f $P/run/created-dirs ]]; then
		local d
		while read -r d; do
			case $d in
			/run/netns) rmdir "$d" 2>/dev/null ;;
			?*) rm -rf "$d" ;;
			esac
		done <"$P/run/created-dirs"
	fi
	rm -rf "$P" "$RUN"
	local links rules mounts
	links=$(ip -br link | grep -cE "^veth|^$BRIDGE")
	rules=$(iptables-save 2>/dev/null | grep -cE 'KUBE-|CNI-')
	mounts=$(grep -cE "$RUN|$P|/run/netns/cni" /proc/self/mounts)
	log "left behind: $links veth/bridge links, $rules iptables lines, $mounts mounts"
	((links + rules + mounts == 0)) || warn "teardown left something behind (see above)"
	set -e
}

# --- test ---------------------------------------------------------------------------------
cmd_test() {
	on_exit cmd_down
	cmd_up
	local t0 gw
	# shellcheck disable=SC1091
	source "$P/env"
	gw=$(kc -n tungsten get svc tungsten-gateway -o jsonpath='{.spec.clusterIP}'):$(kc -n tungsten get svc tungsten-gateway -o jsonpath='{.spec.ports[0].port}')
	wait_for 30 "gateway Service $gw" curl -fsS -m 2 -o /dev/null "http://$gw/api/tags" || die "gateway Service $gw does not answer"
	t0=$(now)
	log "RealWorld collection through the gateway Service (http://$gw/api)"
	bash "$REPO/scripts/newman.sh" url "http://$gw/api" || die "newman through the cluster failed"
	timing "newman + API suite through the Service" "$(since "$t0")"
	t0=$(now)
	log "test/cluster (TUNGSTEN_CLUSTER_TEST=1)"
	TUNGSTEN_CLUSTER_TEST=1 TUNGSTEN_CLUSTER_GATEWAY="http://$gw" TUNGSTEN_CLUSTER_ARTIFACTS="$ART" \
		TUNGSTEN_CLUSTER_PROMETHEUS="http://127.0.0.1:$PROM_PORT" TUNGSTEN_CLUSTER_VICTORIALOGS="http://127.0.0.1:$VLOGS_PORT" TUNGSTEN_CLUSTER_JAEGER="http://127.0.0.1:$JAEGER_PORT" \
		TUNGSTEN_CLUSTER_IMAGES="$P/images" KUBECTL="$KBIN/kubectl" \
		timeout -k 10 900 go test -count=1 -v -timeout 14m ./test/cluster/ 2>&1 | tee "$ART/go-test.log"
	local rc=${PIPESTATUS[0]}
	timing "test/cluster" "$(since "$t0")"
	((rc == 0)) || die "test/cluster failed (test-artifacts/cluster/go-test.log)"
	t0=$(now)
	bash "$REPO/scripts/doctor-eval.sh" short || die "the doctor evaluation (short form) failed (test-artifacts/doctor/)"
	timing "doctor evaluation (short form)" "$(since "$t0")"
}

# --- doctor -------------------------------------------------------------------------------
cmd_doctor() {
	on_exit cmd_down
	cmd_up
	local t0
	t0=$(now)
	bash "$REPO/scripts/doctor-eval.sh" full || die "the doctor evaluation failed (test-artifacts/doctor/)"
	timing "doctor evaluation (full form)" "$(since "$t0")"
}

"cmd_$CMD"
