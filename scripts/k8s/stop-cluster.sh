#!/usr/bin/env bash
# Tears down a cluster of start-cluster.sh, or whatever part of one a failed
# start made: the controllers first (nothing re-creates pods), then the pods
# while kubelet still runs (it removes their sandboxes, mounts and netns
# itself), then every process by its recorded PID, leftover mounts, the
# network namespace (its links, bridge, iptables rules and conntrack go with
# it), the kubepods cgroups, the runtime dirs start made, and the global
# sysctls kubelet changed. Last it releases the machine's cluster lock.
#
# It exits 1 if anything is left behind (a process of a pid file, a mount
# under WORK, the netns, a kubepods cgroup), naming it. WORK keeps only its
# logs/ afterwards.
#
# Usage: stop-cluster.sh [--work DIR]   (default ${TMPDIR:-/tmp}/pilotage-cluster, or $WORK)
set -uo pipefail

WORK=${WORK:-${TMPDIR:-/tmp}/pilotage-cluster}
while [ $# -gt 0 ]; do
	case "$1" in
	--work) WORK=$2; shift 2 ;;
	*) echo "usage: stop-cluster.sh [--work DIR]" >&2; exit 2 ;;
	esac
done
case "$WORK" in /*) ;; *) WORK=$PWD/$WORK ;; esac
if [ ! -f "$WORK/state.env" ] && [ ! -d "$WORK/pid" ]; then
	echo "stop-cluster: no cluster in $WORK"
	exit 0
fi
NETNS="" NODE="" BIN="" MADE_RUN_CONTAINERD="" MADE_VAR_LIB_KUBELET="" MADE_HOSTPATH_PV=""
# shellcheck disable=SC1091
[ -f "$WORK/state.env" ] && . "$WORK/state.env"
# Two stops of one cluster (a test's and its watchdog's) run one after the other.
exec 8<> "$WORK/stop.lock"
flock 8

N=$WORK/node
IN="nsenter --net=/run/netns/$NETNS"
T0=$(date +%s.%N)
t() { echo "  $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s $*"; }
pid() { [ -f "$WORK/pid/$1.pid" ] && cat "$WORK/pid/$1.pid"; }
# alive PID: zombies count as gone (PID 1 here reaps slowly).
alive() { [ -e "/proc/$1" ] && ! grep -q '^State:.*zombie' "/proc/$1/status" 2> /dev/null; }
# stop NAME...: SIGTERM by recorded PID, up to 10 s to exit, then SIGKILL.
stop() {
	local n p i a pids=""
	for n in "$@"; do p=$(pid "$n") && pids="$pids $p"; done
	[ -n "$pids" ] && kill $pids 2> /dev/null
	for i in $(seq 100); do
		a=""
		for p in $pids; do alive "$p" && a="$a $p"; done
		[ -z "$a" ] && break
		sleep 0.1
	done
	for p in $pids; do alive "$p" && { echo "  pid $p still running after 10s: SIGKILL"; kill -9 "$p"; }; done
	for n in "$@"; do rm -f "$WORK/pid/$n.pid"; done
}
kc() { $IN "$BIN/kubectl" --kubeconfig "$WORK/admin.kubeconfig" --request-timeout=20s "$@"; }
C="ctr --address $N/ctrd/containerd.sock -n k8s.io"
have_netns() { [ -n "$NETNS" ] && [ -e "/run/netns/$NETNS" ]; }

stop watchdog
# No controller re-creates what is deleted below (a ReplicaSet's pods, a
# DaemonSet's, which a cordon would not keep away).
stop kube-controller-manager kube-scheduler
if have_netns && p=$(pid kubelet) && alive "$p"; then
	kc cordon "$NODE" > /dev/null 2>&1
	kc delete pods -A --field-selector "spec.nodeName=$NODE" --grace-period=1 --wait=true --timeout=60s > /dev/null 2>&1
	for i in $(seq 60); do [ -z "$($C tasks ls -q 2> /dev/null)" ] && break; sleep 0.5; done
	t pods deleted
fi
stop kube-proxy kubelet
t kube-proxy, kubelet stopped
if [ -S "$N/ctrd/containerd.sock" ]; then
	for tk in $($C tasks ls -q 2> /dev/null); do $C tasks kill -s KILL "$tk" 2> /dev/null; sleep 0.5; $C tasks rm -f "$tk" > /dev/null 2>&1; done
	for c in $($C containers ls -q 2> /dev/null); do $C containers rm "$c" > /dev/null 2>&1; done
fi
stop socat-api-host socat-registry-host socat-api-netns socat-registry-netns containerd registry
# Shims whose container outlived the above: containerd records their PIDs.
for f in "$N"/ctrd/state/io.containerd.runtime.v2.task/*/*/shim.pid; do
	[ -f "$f" ] || continue
	p=$(cat "$f")
	alive "$p" && { echo "  shim $p ($f) still running: SIGKILL"; kill -9 "$p"; }
done
stop kube-apiserver
stop etcd
t processes stopped

# Mounts left under the work dir (deepest first) and pod netns pins.
for m in $(awk '{ print $2 }' /proc/mounts | grep "^$WORK/" | sort -r); do umount "$m" || umount -l "$m"; done
for m in $(awk '{ print $2 }' /proc/mounts | grep '^/run/netns/cni-'); do umount "$m"; done
rm -f /run/netns/cni-*
have_netns && ip netns del "$NETNS"
if [ -d /run/netns ] && [ -z "$(ls -A /run/netns)" ]; then
	umount /run/netns 2> /dev/null
	rmdir /run/netns
fi
for i in $(seq 20); do
	left=""
	for h in /sys/fs/cgroup/*/; do
		[ -d "${h}kubepods" ] || continue
		find "${h}kubepods" -depth -type d -exec rmdir {} \; 2> /dev/null
		[ -d "${h}kubepods" ] && left=1
	done
	[ -z "$left" ] && break
	sleep 0.5
done
[ "$MADE_RUN_CONTAINERD" = 1 ] && rm -rf /run/containerd
[ "$MADE_VAR_LIB_KUBELET" = 1 ] && rm -rf /var/lib/kubelet
# Volumes of the hostPath provisioner whose claims outlived the cluster.
[ "$MADE_HOSTPATH_PV" = 1 ] && rm -rf /tmp/hostpath_pv
[ -f "$WORK/host-sysctl.saved" ] && sysctl -q -p "$WORK/host-sysctl.saved" && rm -f "$WORK/host-sysctl.saved"
t mounts, netns, cgroups, sysctls cleaned

# What is left, if anything.
leftover=""
for f in "$WORK"/pid/*.pid; do
	[ -f "$f" ] || continue
	case "$f" in */lock.pid) continue ;; esac
	alive "$(cat "$f")" && leftover="$leftover process:$(basename "$f" .pid)=$(cat "$f")"
done
for m in $(awk '{ print $2 }' /proc/mounts | grep "^$WORK/"); do leftover="$leftover mount:$m"; done
have_netns && leftover="$leftover netns:$NETNS"
for h in /sys/fs/cgroup/*/kubepods; do [ -d "$h" ] && leftover="$leftover cgroup:$h"; done
if [ -z "$leftover" ]; then
	# Everything but the logs: etcd's data, images, containerd's root.
	find "$WORK" -mindepth 1 -maxdepth 1 ! -name logs ! -name pid ! -name stop.lock -exec rm -rf {} +
fi
# The machine's cluster lock, last: the next cluster starts on a clean machine.
stop lock
rm -rf "$WORK/pid" "$WORK/stop.lock"
if [ -n "$leftover" ]; then
	t "cluster torn down, but left:$leftover"
	exit 1
fi
t cluster torn down
