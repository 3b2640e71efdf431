#!/usr/bin/env bash
# Prints the path of a vegeta binary (the benchmark's load generator), building it first
# when missing from the Go module proxy, cached in ~/.cache/vigie/bin.
set -euo pipefail
VERSION=v12.13.0
BIN=${VIGIE_CACHE:-$HOME/.cache/vigie}/bin
if [ -x "$BIN/vegeta" ] && "$BIN/vegeta" -version 2>/dev/null | grep -q "${VERSION#v}"; then
  echo "$BIN/vegeta"; exit 0
fi
command -v go >/dev/null 2>&1 || { echo "vegeta.sh: Go is needed to build vegeta" >&2; exit 1; }
mkdir -p "$BIN"
echo "building vegeta $VERSION with go install" >&2
GOBIN="$BIN" GOFLAGS=-mod=mod go install \
  -ldflags "-X main.Version=$VERSION" "github.com/tsenart/vegeta/v12@$VERSION" >&2
echo "$BIN/vegeta"
