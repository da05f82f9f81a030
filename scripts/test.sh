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
go build -o "${TMPDIR:-/tmp}/pilotage-ci" ./cmd/pilotage

step "generated code is up to date (examples/shop)"
(cd examples/shop && "${TMPDIR:-/tmp}/pilotage-ci" generate ./...)
if ! git diff --quiet -- examples/ 2>/dev/null; then
	git --no-pager diff --stat -- examples/
	echo "generated code in examples/ is stale: run 'pilotage generate ./...' there and commit"; exit 1
fi

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
