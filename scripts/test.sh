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

step "generated code is up to date"
"$pilotage" generate -check ./...
(cd examples/shop && "$pilotage" generate -check ./...)
(cd bench && "$pilotage" generate -check ./...)

step "go vet"
go vet ./...
(cd examples/shop && go vet ./...)
(cd bench && go vet ./...)

step "tests (race detector)"
go test -race -count=1 ./...
(cd examples/shop && go test -race -count=1 ./...)

step "fuzz the transport's frame reader and the codec's decoder (10s each)"
go test -run='^$' -fuzz=FuzzFrameReader -fuzztime=10s ./internal/rpc
go test -run='^$' -fuzz=FuzzDecoder -fuzztime=10s ./codegen

step "benchmarks compile and run once"
go test -run='^$' -bench=. -benchtime=1x ./...
(cd bench && go test -run='^$' -bench=. -benchtime=1x ./...)

step "Kubernetes end-to-end tests"
echo "none yet: the Kubernetes deployer has not landed (see docs/architecture.md)"
