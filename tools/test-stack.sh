#!/usr/bin/env bash
# Runs the test suite against real services (tools/with-services.sh): PostgreSQL, a
# dedicated broker on port 19092, and SeaweedFS's S3 gateway (started by the tests).
set -euo pipefail
cd "$(dirname "$0")/.."
# The S3-compatible server the documents' S3 store is tested against (built once).
VIGIE_SERVICES_WEED=$(tools/seaweedfs.sh)
export VIGIE_SERVICES_WEED
# The console's DSFR and the accessibility checker its browser tests inject (npm).
tools/console-assets.sh
exec tools/with-services.sh "${VIGIE_TEST_KAFKA_PORT:-19092}" \
  "${VIGIE_TEST_STATE_DIR:-$PWD/.vigie/test}" "${VENV:-.venv}/bin/python" -m pytest "$@"
