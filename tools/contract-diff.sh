#!/usr/bin/env bash
# Reports the contract's breaking changes since the last release (the newest file of
# openapi/releases/) with oasdiff, built from the Go module proxy once (cached in
# ~/.cache/vigie/bin); fails on any that openapi/releases/acknowledged.txt does not
# list with its reason. An argument names another contract to compare (tests). A release copies openapi/vigie.yaml to openapi/releases/<version>.yaml.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=v1.39.0
BIN=${VIGIE_CACHE:-$HOME/.cache/vigie}/bin
if ! { [ -x "$BIN/oasdiff" ] && "$BIN/oasdiff" --version 2>/dev/null | grep -q "${VERSION#v}"; }; then
  command -v go >/dev/null 2>&1 || PATH=$PATH:/usr/local/go/bin
  command -v go >/dev/null 2>&1 || { echo "contract-diff.sh: Go is needed to build oasdiff" >&2; exit 1; }
  mkdir -p "$BIN"
  echo "building oasdiff $VERSION with go install" >&2
  GOBIN="$BIN" GOFLAGS=-mod=mod go install "github.com/oasdiff/oasdiff@$VERSION" >&2
fi
LAST=$(ls openapi/releases/*.yaml | sort -V | tail -1)
CURRENT=${1:-openapi/vigie.yaml}
echo "breaking changes since $(basename "$LAST" .yaml):"
"$BIN/oasdiff" breaking "$LAST" "$CURRENT" --fail-on ERR \
  --err-ignore openapi/releases/acknowledged.txt
