#!/usr/bin/env bash
# The whole test suite: formatting, vet, generated code freshness, unit and
# integration tests with the race detector, a short fuzz run, and benchmarks
# compiled and run once. This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

step() { printf '\n=== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt needed on:"; echo "$unformatted"; exit 1
fi

step "build pilotage"
# A directory of this run's own, so that two runs on one machine do not
# overwrite each other's binary.
bindir=$(mktemp -d "${TMPDIR:-/tmp}/pilotage-ci.XXXXXX")
trap 'rm -rf "$bindir"' EXIT
pilotage="$bindir/pilotage"
go build -o "$pilotage" ./cmd/pilotage

# The modules, each tested on its own: the app-facing one (root), the
# coordination API, the pilotage command's, and those that import them
# (the examples, bench).
modules=". coord cmd/pilotage examples/shop examples/wordcount bench"

step "every module is tidy (go mod tidy -diff, outside the workspace)"
for m in $modules; do
	(cd "$m" && GOWORK=off go mod tidy -diff) || { echo "module $m is not tidy: run 'GOWORK=off go mod tidy' in $m"; exit 1; }
done

step "an app's module graph stays lean"
# An app imports the root module only; the tool's dependencies (the
# generator's x/tools, etcd's server, client-go, Helm, the OTLP exporters
# and their protobuf and gRPC, Prometheus' client, browser drivers) must
# never reach it. The OpenTelemetry API and SDK (go.opentelemetry.io/otel,
# otel/trace, otel/sdk and their own small dependencies) are the app's:
# its runtime makes spans, and the supervisor exports them.
heavy='golang.org/x/tools|go.etcd.io/etcd/server|k8s.io/|helm.sh/|go.opentelemetry.io/otel/exporters|go.opentelemetry.io/proto|go.opentelemetry.io/contrib|github.com/prometheus/|github.com/chromedp|github.com/playwright|google.golang.org/grpc'
if found=$(cd examples/shop && GOWORK=off go list -m all | grep -E "^($heavy)"); then
	echo "the example app's module graph holds the tool's dependencies:"; echo "$found"; exit 1
fi
echo "examples/shop: $(cd examples/shop && GOWORK=off go list -m all | wc -l) modules, none of the tool's"
# An app that coordinates gets etcd's client (and gRPC, whose x/text lists
# x/tools) through coord, never the etcd server or the tool's test
# dependencies.
coordheavy='go.etcd.io/etcd/server|k8s.io/|helm.sh/|github.com/anishathalye/porcupine'
if found=$(cd examples/wordcount && GOWORK=off go list -m all | grep -E "^($coordheavy)"); then
	echo "the wordcount example's module graph holds the tool's dependencies:"; echo "$found"; exit 1
fi
echo "examples/wordcount: $(cd examples/wordcount && GOWORK=off go list -m all | wc -l) modules, none of the tool's"

step "generated code is up to date"
"$pilotage" generate -check ./...
(cd examples/shop && "$pilotage" generate -check ./...)
(cd examples/wordcount && "$pilotage" generate -check ./...)
(cd bench && "$pilotage" generate -check ./codec/... ./coordination/... && "$pilotage" generate -check ./transport/...) # one main package per run

step "go vet"
for m in $modules; do (cd "$m" && go vet ./...); done

step "Kubernetes binaries for the tests (kube-apiserver, etcd, kubectl; built once, ~5 min, then cached)"
# Built from the Go module proxy into a cache outside the repository; with
# them, the tests that need a real API server run instead of skipping.
bash scripts/k8s/build-bins.sh
PILOTAGE_KUBE_BIN=$(bash scripts/k8s/build-bins.sh --dir)
export PILOTAGE_KUBE_BIN PILOTAGE_KUBE_REQUIRED=1

step "tests (race detector)"
# The tests on a full cluster run alone, in the last step.
go test -race -count=1 ./... ./coord/... $(go list ./cmd/pilotage/... | grep -v /kube/e2e)
(cd examples/shop && go test -race -count=1 ./...)
(cd examples/wordcount && go test -race -count=1 ./...)

step "fuzz the transport's frame reader and the codec's decoder (10s each)"
go test -run='^$' -fuzz=FuzzFrameReader -fuzztime=10s ./internal/rpc
go test -run='^$' -fuzz=FuzzDecoder -fuzztime=10s ./codegen

step "benchmarks compile and run once"
go test -run='^$' -bench=. -benchtime=1x ./... ./coord/... ./cmd/pilotage/...
# -short: the coordination benchmarks run their peers with cut-down
# timings (their defaults take a minute a sample); one sample each.
(cd bench && PILOTAGE_BIN="$pilotage" go test -run='^$' -bench=. -benchtime=1x -short ./...)

step "Kubernetes end-to-end tests on a full cluster (real node, kube-proxy, CoreDNS; as root)"
# scripts/k8s/start-cluster.sh starts it (about 10 s) for each package,
# and stop-cluster.sh checks that nothing is left behind. Not root, or
# without the Debian packages (.ci/run installs them), they fail here
# rather than skip.
export PILOTAGE_KUBE_E2E=1
go test -count=1 -timeout 20m -run '^TestFullCluster' ./cmd/pilotage/internal/kubetest/
go test -count=1 -timeout 20m ./cmd/pilotage/internal/kube/e2e/
