#!/usr/bin/env bash
# Lints the contract with each format's own tools, pinned by tools/contract-lint/
# package-lock.json and installed from npm once per lock file: Redocly CLI
# (openapi/vigie.yaml, rules in openapi/redocly.yaml) and the AsyncAPI CLI
# (openapi/asyncapi.yaml, which reuses the OpenAPI schemas). Warnings fail too.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${VIGIE_TOOLS_DIR:-$PWD/.vigie/tools}/contract-lint
if ! { [ -f "$DIR/.installed" ] && cmp -s tools/contract-lint/package-lock.json "$DIR/package-lock.json"; }; then
  command -v npm >/dev/null || { echo "npm is needed to lint the contract" >&2; exit 1; }
  mkdir -p "$DIR"
  cp tools/contract-lint/package.json tools/contract-lint/package-lock.json "$DIR/"
  (cd "$DIR" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  touch "$DIR/.installed"
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true SUPPRESS_NO_CONFIG_WARNING=1
"$DIR/node_modules/.bin/redocly" lint --config openapi/redocly.yaml openapi/vigie.yaml
"$DIR/node_modules/.bin/asyncapi" config analytics --disable >/dev/null 2>&1 || true
"$DIR/node_modules/.bin/asyncapi" validate openapi/asyncapi.yaml --fail-severity warn
