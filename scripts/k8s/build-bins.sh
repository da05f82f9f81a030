#!/usr/bin/env bash
# Builds the Kubernetes binaries the tests run (kube-apiserver, kubectl, etcd)
# from the Go module proxy only, into a cache outside the repository:
#
#	${PILOTAGE_KUBE_BIN:-$HOME/.cache/pilotage/kube/v$K8S_VERSION}
#
# The build is skipped when every binary is there and $OUT/.complete exists;
# .complete is written last, so an interrupted build is done again. A cold
# build (empty module and build caches) takes about 5 minutes on 2 cores.
#
# Neither k8s.io/kubernetes nor etcd's server can be built with
# `go install pkg@version`: their go.mod files hold replace directives. So
# each is built from a throwaway module: for Kubernetes, one that requires
# k8s.io/kubernetes and replaces every staging module (k8s.io/api =>
# ./staging/src/k8s.io/api, ...) by its published version.
#
# Usage: build-bins.sh [--dir]
# Environment: K8S_VERSION, ETCD_VERSION (default: the etcd client version
# Kubernetes itself requires if it is a 3.6 one, else 3.6.8),
# PILOTAGE_KUBE_BIN, K8S_CMDS, ETCD_CMDS.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
# Commands built from k8s.io/kubernetes/cmd/<name>; add one by adding its name.
K8S_CMDS=${K8S_CMDS:-kube-apiserver kubectl}
# Commands built from the etcd throwaway module: name=package.
ETCD_CMDS=${ETCD_CMDS:-etcd=go.etcd.io/etcd/server/v3}
OUT=${PILOTAGE_KUBE_BIN:-$HOME/.cache/pilotage/kube/v$K8S_VERSION}
# --dir: print where the binaries are (or go), for callers that export it.
if [ "${1:-}" = --dir ]; then
	echo "$OUT"
	exit 0
fi

bins() {
	local c
	for c in $K8S_CMDS; do echo "$c"; done
	for c in $ETCD_CMDS; do echo "${c%%=*}"; done
}

complete=1
[ -f "$OUT/.complete" ] || complete=0
for b in $(bins); do [ -x "$OUT/$b" ] || complete=0; done
if [ "$complete" = 1 ]; then
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
echo "kube binaries: building Kubernetes v$K8S_VERSION into $OUT ($(go version))"

# step NAME CMD...: runs CMD, then prints how long it took.
step() {
	local name=$1 s
	shift
	s=$(date +%s)
	echo "  $name ..."
	"$@"
	echo "  $name: done in $(($(date +%s) - s))s"
}

# build NAME PKG LDFLAGS: builds into a temporary name, then renames, so a
# binary in $OUT is always whole.
build() {
	step "build $1" go build -trimpath -ldflags "$3" -o "$OUT/.$1.tmp" "$2"
	mv -f "$OUT/.$1.tmp" "$OUT/$1"
}

# --- Kubernetes ---
mkdir -p "$TMP/k8s"
cd "$TMP/k8s"
step "download k8s.io/kubernetes@v$K8S_VERSION" sh -c "go mod download -json k8s.io/kubernetes@v$K8S_VERSION > dl.json"
K8S_GOMOD=$(sed -n 's/.*"GoMod": "\(.*\)".*/\1/p' dl.json)
GO_DIRECTIVE=$(awk '$1 == "go" { print $2; exit }' "$K8S_GOMOD")
{
	printf 'module k8sbuild\n\ngo %s\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$GO_DIRECTIVE" "$K8S_VERSION"
	grep -E '=> \./staging/src/' "$K8S_GOMOD" | awk -v sv="v$STAGING_VERSION" '{ print "\t" $1 " => " $1 " " sv }'
	printf ')\n'
} > go.mod
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
for c in $K8S_CMDS; do
	build "$c" "k8s.io/kubernetes/cmd/$c" "$LDF"
done

# --- etcd: the release Kubernetes itself requires (its client's version) if a 3.6 one ---
if [ -z "${ETCD_VERSION:-}" ]; then
	ETCD_VERSION=$(awk '$1 == "go.etcd.io/etcd/client/v3" { sub(/^v/, "", $2); print $2; exit }' "$K8S_GOMOD")
	# The tests are run against an etcd 3.6 server (k8s 1.37 requires the
	# 3.7 client, and supports 3.6 servers); ETCD_VERSION overrides.
	case "$ETCD_VERSION" in 3.6.*) ;; *) ETCD_VERSION=3.6.8 ;; esac
fi
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
	build "${c%%=*}" "${c#*=}" "-s -w"
done

{
	echo "kubernetes v$K8S_VERSION"
	echo "etcd v$ETCD_VERSION"
	go version
} > "$OUT/.complete"
echo "kube binaries: built in $(($(date +%s) - start_all))s:"
ls -l "$OUT"
