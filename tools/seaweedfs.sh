#!/usr/bin/env bash
# Prints the path of a SeaweedFS `weed` binary (an S3-compatible object store, Apache-2.0),
# built once from the Go module proxy into the state directory: the tests run the
# documents' S3 storage against it. `go install` refuses the module (its go.mod has
# replace directives), so the module is downloaded and built in a copy of its directory.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
DIR=${VIGIE_TOOLS_DIR:-$PWD/.vigie/tools}
BIN=$DIR/seaweedfs-$VERSION/weed
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || { echo "Go is needed to build SeaweedFS" >&2; exit 1; }
mkdir -p "$DIR"
export GOFLAGS=-mod=mod GOPATH=${GOPATH:-$DIR/gopath} GOMODCACHE=${GOMODCACHE:-$DIR/gopath/pkg/mod}
src=$(cd "$DIR" && go mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
work=$(mktemp -d "$DIR/build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src/." "$work/"
chmod -R u+w "$work"
echo "building SeaweedFS $VERSION (a few minutes, once)" >&2
(cd "$work" && go build -trimpath -ldflags "-s -w" -o "$work/weed.bin" ./weed)
mkdir -p "$(dirname "$BIN")"
mv "$work/weed.bin" "$BIN"
echo "$BIN"
