#!/usr/bin/env bash
# Installs the console's front-end packages from npm, pinned by tools/console/
# package-lock.json: the French State's design system (DSFR), served by the console from
# .vigie/tools/npm/node_modules/@gouvfr/dsfr/dist, and axe-core, which the browser tests
# inject to check accessibility. Once per lock file.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${VIGIE_TOOLS_DIR:-$PWD/.vigie/tools}/npm
if [ -f "$DIR/.installed" ] && cmp -s tools/console/package-lock.json "$DIR/package-lock.json"; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm is needed for the console's assets" >&2; exit 1; }
mkdir -p "$DIR"
cp tools/console/package.json tools/console/package-lock.json "$DIR/"
(cd "$DIR" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
touch "$DIR/.installed"
