#!/usr/bin/env bash
# Builds the Kubernetes binaries the tests run from the Go module proxy only,
# into a cache outside the repository:
#
#	${PILOTAGE_KUBE_BIN:-$HOME/.cache/pilotage/kube/v$K8S_VERSION}
#
# They are: kube-apiserver, kubectl, kube-controller-manager, kube-scheduler,
# kubelet, kube-proxy (Kubernetes), etcd, crane (its `crane registry serve`
# is the test cluster's registry), a static CoreDNS with the 8 plugins the
# test cluster uses, and pause (the sandbox image's program, compiled with
# gcc from pause.c in the Kubernetes module).
#
# Only missing binaries are built: each one is built under a temporary name
# and then renamed, so a binary in $OUT is always whole. $OUT/.complete,
# written last, lists the versions; a binary whose version there differs
# from the one asked for is built again. With every binary there and
# .complete up to date, the script does nothing. A cold build (empty module
# and build caches) takes about 10 minutes on 2 cores.
#
# Neither k8s.io/kubernetes nor etcd's server can be built with
# `go install pkg@version`: their go.mod files hold replace directives. So
# each is built from a throwaway module: for Kubernetes, one that requires
# k8s.io/kubernetes and replaces every staging module (k8s.io/api =>
# ./staging/src/k8s.io/api, ...) by its published version. CoreDNS is built
# from a small main that imports only the plugins the cluster uses (half
# the build time of the full one, and no `forward` plugin, so it cannot
# send queries out).
#
# Usage: build-bins.sh [--dir]
# Environment: K8S_VERSION, ETCD_VERSION (default: the etcd client version
# Kubernetes itself requires if it is a 3.6 one, else 3.6.8), CRANE_VERSION,
# COREDNS_VERSION, PILOTAGE_KUBE_BIN, K8S_CMDS, ETCD_CMDS.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
CRANE_VERSION=${CRANE_VERSION:-0.22.1}
COREDNS_VERSION=${COREDNS_VERSION:-1.15.0}
# Commands built from k8s.io/kubernetes/cmd/<name>; add one by adding its name.
K8S_CMDS=${K8S_CMDS:-kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet kube-proxy}
# Commands built from the etcd throwaway module: name=package.
ETCD_CMDS=${ETCD_CMDS:-etcd=go.etcd.io/etcd/server/v3}
OUT=${PILOTAGE_KUBE_BIN:-$HOME/.cache/pilotage/kube/v$K8S_VERSION}
# --dir: print where the binaries are (or go), for callers that export it.
if [ "${1:-}" = --dir ]; then
	echo "$OUT"
	exit 0
fi

k8s_bins() { local c; for c in $K8S_CMDS; do echo "$c"; done; }
etcd_bins() { local c; for c in $ETCD_CMDS; do echo "${c%%=*}"; done; }
bins() { k8s_bins; etcd_bins; echo crane; echo coredns; echo pause; }

# versioned NAME LINE: a binary whose .complete line is not LINE was built
# at another version; it is removed, so that it is built again.
versioned() {
	if [ -f "$OUT/.complete" ] && [ -e "$OUT/$1" ] && ! grep -qxF "$2" "$OUT/.complete"; then
		echo "kube binaries: $1: not $2 in $OUT/.complete, building it again"
		rm -f "$OUT/$1"
	fi
}
if [ -f "$OUT/.complete" ]; then
	for b in $(k8s_bins) pause; do versioned "$b" "kubernetes v$K8S_VERSION"; done
	if [ -n "${ETCD_VERSION:-}" ]; then
		for b in $(etcd_bins); do versioned "$b" "etcd v$ETCD_VERSION"; done
	fi
	versioned crane "crane v$CRANE_VERSION"
	versioned coredns "coredns v$COREDNS_VERSION"
fi

# missing GROUP: the binaries of a group (k8s_bins, etcd_bins, ...) not in $OUT.
missing() { local b; for b in $("$@"); do [ -x "$OUT/$b" ] || echo "$b"; done; }
need=$(missing bins | tr '\n' ' ')
if [ -z "$need" ] && [ -f "$OUT/.complete" ]; then
	echo "kube binaries: up to date in $OUT ($(bins | tr '\n' ' '))"
	exit 0
fi

export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS=-mod=mod GOWORK=off GOTOOLCHAIN=${GOTOOLCHAIN:-local}
STAGING_VERSION=0.${K8S_VERSION#1.}
MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
start_all=$(date +%s)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pilotage-kube-build.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
rm -f "$OUT/.complete"
echo "kube binaries: building ${need:-nothing (writing .complete)}into $OUT ($(go version))"

# step NAME CMD...: runs CMD, then prints how long it took.
step() {
	local name=$1 s
	shift
	s=$(date +%s)
	echo "  $name ..."
	"$@"
	echo "  $name: done in $(($(date +%s) - s))s"
}

# build NAME PKG LDFLAGS [ENV...]: builds into a temporary name, then
# renames.
build() {
	local name=$1 pkg=$2 ldf=$3
	shift 3
	step "build $name" env "$@" go build -trimpath -ldflags "$ldf" -o "$OUT/.$name.tmp" "$pkg"
	mv -f "$OUT/.$name.tmp" "$OUT/$name"
}

# --- Kubernetes (and pause, whose source ships in its module) ---
# The module is downloaded even when no Kubernetes binary is missing: the
# default etcd version is read from its go.mod.
mkdir -p "$TMP/k8s"
cd "$TMP/k8s"
step "download k8s.io/kubernetes@v$K8S_VERSION" sh -c "go mod download -json k8s.io/kubernetes@v$K8S_VERSION > dl.json"
K8S_GOMOD=$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' dl.json)
K8S_DIR=$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' dl.json)
k8s_need=$(missing k8s_bins)
if [ -n "$k8s_need" ]; then
	GO_DIRECTIVE=$(awk '$1 == "go" { print $2; exit }' "$K8S_GOMOD")
	{
		printf 'module k8sbuild\n\ngo %s\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$GO_DIRECTIVE" "$K8S_VERSION"
		grep -E '=> \./staging/src/' "$K8S_GOMOD" | awk -v sv="v$STAGING_VERSION" '{ print "\t" $1 " => " $1 " " sv }'
		printf ')\n'
	} > go.mod
	# Every command, not only the missing ones: the same module graph
	# whatever is missing.
	{
		printf '//go:build tools\n\npackage tools\n\nimport (\n'
		for c in $K8S_CMDS; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$c"; done
		printf ')\n'
	} > tools.go
	step "go mod tidy (kubernetes)" go mod tidy
	LDF="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		LDF="$LDF -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean"
	done
	for c in $k8s_need; do
		build "$c" "k8s.io/kubernetes/cmd/$c" "$LDF"
	done
fi
if [ ! -x "$OUT/pause" ]; then
	command -v gcc >/dev/null || { echo "kube binaries: gcc is needed to build pause (apt-get install gcc libc6-dev)"; exit 1; }
	step "build pause (gcc -static)" gcc -Os -static -o "$OUT/.pause.tmp" "$K8S_DIR/build/pause/linux/pause.c"
	strip "$OUT/.pause.tmp"
	mv -f "$OUT/.pause.tmp" "$OUT/pause"
fi

# --- etcd: the release Kubernetes itself requires (its client's version) if a 3.6 one ---
if [ -z "${ETCD_VERSION:-}" ]; then
	ETCD_VERSION=$(awk '$1 == "go.etcd.io/etcd/client/v3" { sub(/^v/, "", $2); print $2; exit }' "$K8S_GOMOD")
	# The tests are run against an etcd 3.6 server (k8s 1.37 requires the
	# 3.7 client, and supports 3.6 servers); ETCD_VERSION overrides.
	case "$ETCD_VERSION" in 3.6.*) ;; *) ETCD_VERSION=3.6.8 ;; esac
fi
etcd_need=$(missing etcd_bins)
if [ -n "$etcd_need" ]; then
	mkdir -p "$TMP/etcd"
	cd "$TMP/etcd"
	{
		printf 'module etcdbuild\n\ngo 1.24\n\nrequire (\n'
		for c in $ETCD_CMDS; do
			p=${c#*=}
			printf '\t%s v%s\n' "${p%/v3*}/v3" "$ETCD_VERSION"
		done
		printf ')\n'
	} > go.mod
	{
		printf '//go:build tools\n\npackage tools\n\nimport (\n'
		for c in $ETCD_CMDS; do printf '\t_ "%s"\n' "${c#*=}"; done
		printf ')\n'
	} > tools.go
	step "go mod tidy (etcd v$ETCD_VERSION)" go mod tidy
	for c in $ETCD_CMDS; do
		case " $etcd_need " in *" ${c%%=*} "*) build "${c%%=*}" "${c#*=}" "-s -w" ;; esac
	done
fi

# --- crane: no replace directives, so plain go install ---
if [ ! -x "$OUT/crane" ]; then
	step "build crane v$CRANE_VERSION" env GOBIN="$TMP/gobin" go install -trimpath -ldflags "-s -w" \
		"github.com/google/go-containerregistry/cmd/crane@v$CRANE_VERSION"
	mv -f "$TMP/gobin/crane" "$OUT/crane"
fi

# --- CoreDNS with 8 plugins; static, as it runs in a FROM-scratch image ---
if [ ! -x "$OUT/coredns" ]; then
	mkdir -p "$TMP/coredns"
	cd "$TMP/coredns"
	printf 'module corednsmin\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns v%s\n' "$COREDNS_VERSION" > go.mod
	cat > main.go <<'EOF'
// Command coredns is CoreDNS with only the plugins the test cluster uses.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	"github.com/coredns/coredns/coremain"
)

// The order of the directives is the order the plugins run in: upstream's
// relative order (core/dnsserver/zdirectives.go).
func init() {
	dnsserver.Directives = []string{"reload", "ready", "health", "errors", "log", "loadbalance", "cache", "kubernetes"}
}

func main() { coremain.Run() }
EOF
	step "go mod tidy (coredns v$COREDNS_VERSION)" go mod tidy
	build coredns . "-s -w" CGO_ENABLED=0
fi

{
	echo "kubernetes v$K8S_VERSION"
	echo "etcd v$ETCD_VERSION"
	echo "crane v$CRANE_VERSION"
	echo "coredns v$COREDNS_VERSION"
	go version
} > "$OUT/.complete"
echo "kube binaries: built in $(($(date +%s) - start_all))s:"
ls -l "$OUT"
