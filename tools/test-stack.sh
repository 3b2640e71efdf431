#!/usr/bin/env bash
# Runs the test suite against real services (tools/with-services.sh): PostgreSQL and a
# dedicated broker on port 19092.
set -euo pipefail
cd "$(dirname "$0")/.."
exec tools/with-services.sh "${VIGIE_TEST_KAFKA_PORT:-19092}" \
  "${VIGIE_TEST_STATE_DIR:-$PWD/.vigie/test}" "${VENV:-.venv}/bin/python" -m pytest "$@"
