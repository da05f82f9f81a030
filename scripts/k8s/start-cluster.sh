#!/usr/bin/env bash
# Starts a whole single-node Kubernetes cluster for end-to-end tests inside
# a network namespace of its own: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, a registry (crane registry serve),
# containerd + runc + the CNI bridge, kubelet, kube-proxy (iptables mode),
# and CoreDNS as a pod behind the kube-dns Service. The netns has only lo
# and one veth (NODE_IP/32) and no route out, so no packet leaves it.
#
# From the host, two things are reachable, each through two socat processes
# that meet at a unix socket in $WORK (a unix socket crosses the netns
# boundary through the file system):
#   - the API, on the host's 127.0.0.1:$HOST_API_PORT ($WORK/host.kubeconfig);
#   - the registry, on 127.0.0.1:$REGISTRY_PORT both on the host and in the
#     netns, so an image pushed from the host to localhost:PORT/app:tag is
#     pulled by the kubelet as localhost:PORT/app:tag.
# Pods, ClusterIPs and cluster DNS are reachable only inside the netns:
# nsenter --net=/run/netns/$NETNS <cmd>.
#
# When it returns 0 the node is Ready and CoreDNS is Ready, and
# $WORK/cluster.env (shell-sourceable KEY='VALUE') says where everything is.
# A failed start cleans up after itself with stop-cluster.sh. Only one
# cluster runs on a machine at a time (kubelet's /kubepods cgroups and
# /var/lib/kubelet are global): a second start waits for the lock of the
# first, up to LOCK_TIMEOUT seconds.
#
# Needs root, the binaries of build-bins.sh, and the Debian packages
#   containerd runc containernetworking-plugins busybox-static iptables socat
# (.ci/run installs them).
#
# Usage: start-cluster.sh [--work DIR] [--netns NAME]
# Environment: WORK (default ${TMPDIR:-/tmp}/pilotage-cluster), NETNS
# (default pilotage-k8s), BIN (default: build-bins.sh --dir), NODE_IP
# (10.200.0.1), NODE (pilotage-node), HOST_API_PORT and REGISTRY_PORT
# (default: free ports), LOCK_TIMEOUT (1200), OWNER_PID (if set, the
# cluster is stopped when that process exits: a test binary that dies
# without its cleanup leaves nothing behind), KEEP_ON_FAIL=1 (a failed
# start is left as it is, for a look).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
WORK=${WORK:-${TMPDIR:-/tmp}/pilotage-cluster}
NETNS=${NETNS:-pilotage-k8s}
while [ $# -gt 0 ]; do
	case "$1" in
	--work) WORK=$2; shift 2 ;;
	--netns) NETNS=$2; shift 2 ;;
	*) echo "usage: start-cluster.sh [--work DIR] [--netns NAME]" >&2; exit 2 ;;
	esac
done
BIN=${BIN:-$(bash "$here/build-bins.sh" --dir)}
NODE_IP=${NODE_IP:-10.200.0.1}
NODE=${NODE:-pilotage-node}
HOST_API_PORT=${HOST_API_PORT:-}
REGISTRY_PORT=${REGISTRY_PORT:-}
LOCK_TIMEOUT=${LOCK_TIMEOUT:-1200}
LOCK=/run/pilotage-kube-cluster.lock
POD_CIDR=10.88.0.0/24
SERVICE_CIDR=10.0.0.0/24
API_SERVICE_IP=10.0.0.1
DNS_IP=10.0.0.10
CLUSTER_DOMAIN=cluster.local

fail() { echo "start-cluster: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (kubelet, containerd and network namespaces)"
for c in containerd runc iptables socat nsenter ip ss openssl curl flock busybox; do
	command -v "$c" >/dev/null || fail "$c not found: apt-get install -y --no-install-recommends containerd runc containernetworking-plugins busybox-static iptables socat"
done
[ -x /usr/lib/cni/bridge ] || fail "no /usr/lib/cni/bridge: apt-get install -y --no-install-recommends containernetworking-plugins"
for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl crane coredns pause; do
	[ -x "$BIN/$b" ] || fail "$BIN/$b missing: bash $here/build-bins.sh"
done
# cluster.env quotes values with '...'; unix socket paths must stay short.
case "$WORK$NETNS$BIN" in *[!A-Za-z0-9._/+_-]*) fail "WORK, NETNS and BIN may hold only [A-Za-z0-9._/+_-]" ;; esac
case "$WORK" in /*) ;; *) WORK=$PWD/$WORK ;; esac
[ ${#WORK} -le 80 ] || fail "WORK path too long for unix sockets (${#WORK} > 80 chars): $WORK"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
T00=$(now)

cleanup() {
	local rc=$?
	[ $rc = 0 ] && return
	echo "start-cluster: failed (exit $rc) after $(since "$T00")s; logs in $WORK/logs" >&2
	if [ "${KEEP_ON_FAIL:-0}" = 1 ]; then
		echo "start-cluster: KEEP_ON_FAIL=1: left as it is; stop-cluster.sh --work $WORK cleans up" >&2
	else
		bash "$here/stop-cluster.sh" --work "$WORK" >&2 || true
	fi
}
# --- 0. the machine's cluster lock ---
# Held by a sleep started below that inherits descriptor 9; stop-cluster.sh
# ends it last. Every other process started here gets 9 closed.
exec 9<>"$LOCK"
if ! flock -n 9; then
	echo "start-cluster: another cluster runs on this machine ($(cat "$LOCK" 2>/dev/null || true)); waiting up to ${LOCK_TIMEOUT}s for its stop-cluster.sh"
	flock -w "$LOCK_TIMEOUT" 9 || fail "still locked after ${LOCK_TIMEOUT}s by: $(cat "$LOCK" 2>/dev/null) (stop it with: $here/stop-cluster.sh --work <its WORK>)"
	echo "start-cluster: lock free after $(since "$T00")s"
fi
[ ! -e "$WORK/cluster.env" ] && [ ! -e "$WORK/state.env" ] || { flock -u 9; fail "$WORK already holds a cluster: stop-cluster.sh --work $WORK"; }
[ ! -e "/run/netns/$NETNS" ] || { flock -u 9; fail "netns $NETNS already exists"; }
mkdir -p "$WORK/pid" "$WORK/logs" "$WORK/sock"
# What stop-cluster.sh needs, written before anything is made; and what
# global state existed before, so that stop removes only what start made.
{
	echo "NETNS='$NETNS'"
	echo "NODE='$NODE'"
	echo "BIN='$BIN'"
	[ -e /run/containerd ] || echo "MADE_RUN_CONTAINERD=1"
	[ -e /var/lib/kubelet ] || echo "MADE_VAR_LIB_KUBELET=1"
	[ -e /tmp/hostpath_pv ] || echo "MADE_HOSTPATH_PV=1"
} > "$WORK/state.env"
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
setsid sleep infinity > /dev/null 2>&1 < /dev/null &
echo $! > "$WORK/pid/lock.pid"
echo "work=$WORK netns=$NETNS pid=$$ since=$(date -Is)" > "$LOCK"
exec 9>&-

PKI=$WORK/pki
N=$WORK/node
KC=$WORK/admin.kubeconfig
HKC=$WORK/host.kubeconfig
IN="nsenter --net=/run/netns/$NETNS" # net namespace only: keeps the host's mount namespace and /sys/fs/cgroup


# bg NAME CMD...: starts CMD in the netns, in a session of its own, output
# in logs/NAME.log, PID in pid/NAME.pid.
bg() {
	local n=$1
	shift
	setsid $IN "$@" > "$WORK/logs/$n.log" 2>&1 < /dev/null &
	echo $! > "$WORK/pid/$n.pid"
}
# bghost NAME CMD...: the same in the host's network namespace.
bghost() {
	local n=$1
	shift
	setsid "$@" > "$WORK/logs/$n.log" 2>&1 < /dev/null &
	echo $! > "$WORK/pid/$n.pid"
}
alive() { kill -0 "$(cat "$WORK/pid/$1.pid")" 2>/dev/null; }
# await NAME WHAT CMD...: runs CMD until it succeeds; fails if NAME exits
# or 120 s pass.
await() {
	local n=$1 what=$2 i
	shift 2
	for i in $(seq 1200); do
		"$@" > /dev/null 2>&1 && return 0
		alive "$n" || { tail -20 "$WORK/logs/$n.log" >&2; fail "$n exited before $what"; }
		sleep 0.1
	done
	tail -20 "$WORK/logs/$n.log" >&2
	fail "$n: not $what after 120s"
}
kc() { $IN "$BIN/kubectl" --kubeconfig "$KC" "$@"; }
# free_port: a loopback TCP port free on the host now (the netns has its
# own loopback, where only the cluster's fixed ports are taken).
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 10000)) # below the NodePort range
		[ -z "$(ss -Htln "sport = :$p")" ] && { echo "$p"; return; }
	done
}

# --- 1. network namespace: lo + veth pair, NODE_IP/32 on node0, a route for ClusterIPs, no default route ---
T0=$(now)
ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
ip -n "$NETNS" link add node0 type veth peer name node0-peer # no dummy driver in this kernel
ip -n "$NETNS" addr add "$NODE_IP/32" dev node0
ip -n "$NETNS" link set node0-peer up
ip -n "$NETNS" link set node0 up
ip -n "$NETNS" route add "$SERVICE_CIDR" dev node0 # else the node itself gets ENETUNREACH for ClusterIPs
# Per-netns on this kernel: pods reach a Service whose endpoint is on their own bridge.
$IN sh -c 'echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables'
echo "netns $NETNS ready ($(since "$T0")s)"

# --- 2. certs, tokens, kubeconfigs ---
T0=$(now)
mkdir -p "$PKI"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 30 -subj "/CN=pilotage-test-ca" 2> /dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$PKI/apiserver.key" -out "$PKI/apiserver.csr" -subj "/CN=kube-apiserver" 2> /dev/null
printf 'subjectAltName=IP:%s,IP:%s,IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.%s\nextendedKeyUsage=serverAuth\n' \
	"$NODE_IP" "$API_SERVICE_IP" "$CLUSTER_DOMAIN" > "$PKI/san.ext"
openssl x509 -req -in "$PKI/apiserver.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
	-out "$PKI/apiserver.crt" -days 30 -extfile "$PKI/san.ext" 2> /dev/null
openssl genrsa -out "$PKI/sa.key" 2048 2> /dev/null
openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2> /dev/null
TOKEN=$(openssl rand -hex 16)
echo "$TOKEN,admin,admin,system:masters" > "$PKI/tokens.csv"
chmod 600 "$PKI"/*.key "$PKI/tokens.csv"
# kubeconfig SERVER: one context, admin (system:masters), as kubetest's.
kubeconfig() {
	cat <<EOF
apiVersion: v1
kind: Config
clusters: [{name: pilotage-test, cluster: {server: "$1", certificate-authority: $PKI/ca.crt}}]
users: [{name: admin, user: {token: $TOKEN}}]
contexts: [{name: admin, context: {cluster: pilotage-test, user: admin, namespace: default}}]
current-context: admin
EOF
}
kubeconfig "https://$NODE_IP:6443" > "$KC"
chmod 600 "$KC"
echo "certs and kubeconfig ($(since "$T0")s)"

# --- 3. etcd, then kube-apiserver; the registry and images while it starts ---
T0=$(now)
bg etcd "$BIN/etcd" --name test --data-dir "$WORK/etcd-data" \
	--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
	--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	--initial-cluster test=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
	--unsafe-no-fsync --log-level warn
await etcd healthy $IN curl -fsS http://127.0.0.1:2379/health
echo "etcd healthy ($(since "$T0")s)"
T0=$(now)
bg kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
	--bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port=6443 --cert-dir="$WORK/apiserver-certs" \
	--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
	--token-auth-file="$PKI/tokens.csv" --authorization-mode=Node,RBAC \
	--service-account-issuer="https://kubernetes.default.svc.$CLUSTER_DOMAIN" \
	--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
	--service-cluster-ip-range="$SERVICE_CIDR" --allow-privileged=true --profiling=false \
	--kubelet-preferred-address-types=InternalIP

T1=$(now)
[ -n "$REGISTRY_PORT" ] || REGISTRY_PORT=$(free_port)
REGISTRY=localhost:$REGISTRY_PORT
mkdir -p "$WORK/registry" "$N/img"
bg registry "$BIN/crane" registry serve --address "127.0.0.1:$REGISTRY_PORT" --disk "$WORK/registry"
await registry "serving /v2/" $IN curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/"
# push NAME:TAG FILE ENTRYPOINT: a one-layer linux/amd64 image of FILE at /.
push() {
	local dir=$N/img/${1%%:*}
	mkdir -p "$dir"
	cp "$2" "$dir/"
	tar -C "$dir" -cf "$dir.tar" .
	$IN "$BIN/crane" append -f "$dir.tar" -t "$REGISTRY/$1" > /dev/null 2>> "$WORK/logs/push.log"
	$IN "$BIN/crane" mutate "$REGISTRY/$1" --set-platform linux/amd64 --entrypoint "$3" -t "$REGISTRY/$1" > /dev/null 2>> "$WORK/logs/push.log"
}
COREDNS_TAG=$("$BIN/coredns" -version | sed -n 's/^CoreDNS-//p' | head -1)
push pause:3.10 "$BIN/pause" /pause
push "coredns:${COREDNS_TAG:-test}" "$BIN/coredns" /coredns
echo "registry $REGISTRY up, pause and coredns pushed ($(since "$T1")s)"

await kube-apiserver ready kc get --raw /readyz
echo "kube-apiserver ready ($(since "$T0")s)"

# --- 4. kube-controller-manager + kube-scheduler ---
T0=$(now)
bg kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$KC" \
	--authentication-kubeconfig="$KC" --authorization-kubeconfig="$KC" --bind-address=127.0.0.1 \
	--cert-dir="$WORK/kcm-certs" --leader-elect=false --use-service-account-credentials=false \
	--service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
	--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" --profiling=false \
	--enable-hostpath-provisioner
bg kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$KC" \
	--authentication-kubeconfig="$KC" --authorization-kubeconfig="$KC" --bind-address=127.0.0.1 \
	--cert-dir="$WORK/sched-certs" --leader-elect=false --profiling=false
await kube-controller-manager healthy $IN curl -fsSk https://127.0.0.1:10257/healthz
await kube-scheduler healthy $IN curl -fsSk https://127.0.0.1:10259/healthz
echo "kube-controller-manager + kube-scheduler healthy ($(since "$T0")s)"

# --- 5. containerd + CNI bridge + kubelet ---
T0=$(now)
mkdir -p "$N/ctrd/certs.d/$REGISTRY" "$N/cni/net.d" "$N/kubelet/root" "$N/kubelet/logs"
# restrict_oom_score_adj is required here: the VM has no CAP_SYS_RESOURCE,
# and the pause container's score -998 cannot be set without it.
cat > "$N/ctrd/config.toml" <<EOF
version = 2
root = "$N/ctrd/root"
state = "$N/ctrd/state"
[grpc]
  address = "$N/ctrd/containerd.sock"
[ttrpc]
  address = "$N/ctrd/containerd.sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$REGISTRY/pause:3.10"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$N/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$N/ctrd/certs.d"
EOF
# The registry speaks plain HTTP.
cat > "$N/ctrd/certs.d/$REGISTRY/hosts.toml" <<EOF
server = "http://$REGISTRY"
[host."http://$REGISTRY"]
  capabilities = ["pull", "resolve"]
EOF
# isDefaultGateway: pods need a default route to reach ClusterIPs.
cat > "$N/cni/net.d/10-pilotage.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "pilotage", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "isDefaultGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$POD_CIDR"}]], "dataDir": "$N/cni/ipam"}},
  {"type": "loopback"}]}
EOF
bg containerd containerd --config "$N/ctrd/config.toml"
await containerd serving ctr --address "$N/ctrd/containerd.sock" version
# failCgroupV1: false: this host has cgroup v1 (hybrid), which kubelet
# refuses by default since 1.35.
cat > "$N/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
healthzBindAddress: 127.0.0.1
readOnlyPort: 0
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://$N/ctrd/containerd.sock
podLogsDir: $N/kubelet/logs
resolvConf: ""
clusterDNS: [$DNS_IP]
clusterDomain: $CLUSTER_DOMAIN
imageGCHighThresholdPercent: 100
evictionHard: {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"}
EOF
# kubelet sets six global kernel sysctls at start; keep the values it
# finds, for stop-cluster.sh to put back.
for k in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes; do
	echo "$k=$(sysctl -n "$k")"
done > "$WORK/host-sysctl.saved"
bg kubelet "$BIN/kubelet" --config="$N/kubelet/config.yaml" --kubeconfig="$KC" --root-dir="$N/kubelet/root" \
	--cert-dir="$N/kubelet/certs" --hostname-override="$NODE" --node-ip="$NODE_IP"
await kubelet "registering node $NODE" kc get node "$NODE"
kc wait --for=condition=Ready "node/$NODE" --timeout=120s > /dev/null
echo "containerd + kubelet: node $NODE Ready ($(since "$T0")s)"

# --- 6. kube-proxy (its rules live in the netns only) ---
T0=$(now)
cat > "$WORK/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $KC}
mode: iptables
hostnameOverride: $NODE
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [primary]
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
bg kube-proxy "$BIN/kube-proxy" --config="$WORK/kube-proxy.yaml"
await kube-proxy healthy $IN curl -fsS http://127.0.0.1:10256/healthz
echo "kube-proxy healthy ($(since "$T0")s)"

# --- 7. CoreDNS as a pod behind kube-dns (no forward plugin: nothing leaves the cluster) ---
T0=$(now)
sed -e "s#@IMAGE@#$REGISTRY/coredns:${COREDNS_TAG:-test}#" -e "s#@DNS_IP@#$DNS_IP#" -e "s#@DOMAIN@#$CLUSTER_DOMAIN#" \
	"$here/coredns.yaml" | kc apply -f - > /dev/null
kc -n kube-system rollout status deploy/coredns --timeout=120s > /dev/null
# Pods of the default namespace need its ServiceAccount, which the
# controller-manager makes.
kc wait --for=create -n default serviceaccount/default --timeout=60s > /dev/null
echo "CoreDNS ready ($(since "$T0")s)"
# A default StorageClass, as every cluster has one: volumes are
# directories of /tmp/hostpath_pv made by the controller-manager's
# hostPath provisioner (one node only), removed with their claims.
kc apply -f - > /dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
EOF

# --- 8. the API and the registry on the host's loopback ---
T0=$(now)
# bridge NAME HOSTPORT TARGET: host 127.0.0.1:HOSTPORT -> sock/NAME -> (netns) TARGET.
bridge() {
	bg "socat-$1-netns" socat "UNIX-LISTEN:$WORK/sock/$1,fork,unlink-early" "TCP:$3"
	bghost "socat-$1-host" socat "TCP-LISTEN:$2,bind=127.0.0.1,reuseaddr,fork" "UNIX-CONNECT:$WORK/sock/$1"
}
[ -n "$HOST_API_PORT" ] || HOST_API_PORT=$(free_port)
bridge api "$HOST_API_PORT" "$NODE_IP:6443"
kubeconfig "https://127.0.0.1:$HOST_API_PORT" > "$HKC"
chmod 600 "$HKC"
bridge registry "$REGISTRY_PORT" "127.0.0.1:$REGISTRY_PORT"
await socat-api-host "serving the API on the host" "$BIN/kubectl" --kubeconfig "$HKC" get --raw /readyz
await socat-registry-host "serving the registry on the host" curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/"
echo "host: API on 127.0.0.1:$HOST_API_PORT, registry on $REGISTRY ($(since "$T0")s)"

# --- 9. a watchdog: stop the cluster when its owner exits ---
if [ -n "${OWNER_PID:-}" ]; then
	setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
		rm -f "$2/pid/watchdog.pid"
		echo "owner $1 exited: stopping the cluster"
		exec bash "$3/stop-cluster.sh" --work "$2"' watchdog "$OWNER_PID" "$WORK" "$here" \
		> "$WORK/logs/watchdog.log" 2>&1 < /dev/null &
	echo $! > "$WORK/pid/watchdog.pid"
fi

SERVER_VERSION=$("$BIN/kubectl" --kubeconfig "$HKC" version -o json 2> /dev/null | sed -n 's/.*"gitVersion": "\(.*\)".*/\1/p' | tail -1)
cat > "$WORK/cluster.env.tmp" <<EOF
# Written by scripts/k8s/start-cluster.sh; source it. Stop with: stop-cluster.sh --work $WORK
WORK='$WORK'
BIN='$BIN'
KUBECONFIG='$HKC'
NETNS_KUBECONFIG='$KC'
API_SERVER='https://127.0.0.1:$HOST_API_PORT'
HOST_API_PORT='$HOST_API_PORT'
NETNS_API_SERVER='https://$NODE_IP:6443'
REGISTRY='$REGISTRY'
NETNS='$NETNS'
NODE_IP='$NODE_IP'
NODE='$NODE'
POD_CIDR='$POD_CIDR'
SERVICE_CIDR='$SERVICE_CIDR'
API_SERVICE_IP='$API_SERVICE_IP'
DNS_IP='$DNS_IP'
CLUSTER_DOMAIN='$CLUSTER_DOMAIN'
SERVER_VERSION='$SERVER_VERSION'
EOF
mv "$WORK/cluster.env.tmp" "$WORK/cluster.env"
echo "cluster up in $(since "$T00")s: source $WORK/cluster.env; kubectl get nodes (KUBECONFIG=$HKC)"
