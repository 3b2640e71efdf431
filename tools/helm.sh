#!/usr/bin/env bash
# Prints the path of a helm binary, building it first when missing: helm is not in
# Debian, so it is built from the Go module proxy (a couple of minutes on a fresh
# machine) and cached in ~/.cache/vigie/bin.
set -euo pipefail
VERSION=v3.22.0
BIN=${VIGIE_CACHE:-$HOME/.cache/vigie}/bin
if [ -x "$BIN/helm" ] && "$BIN/helm" version --short 2>/dev/null | grep -q "${VERSION%.*}"; then
  echo "$BIN/helm"; exit 0
fi
command -v go >/dev/null 2>&1 || { echo "helm.sh: Go is needed to build helm" >&2; exit 1; }
mkdir -p "$BIN"
echo "building helm $VERSION with go install" >&2
GOBIN="$BIN" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$VERSION" >&2
echo "$BIN/helm"
