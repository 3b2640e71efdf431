#!/usr/bin/env bash
# Runs the test suite against real services: PostgreSQL (Debian) and a dedicated Kafka
# broker on its own ports and state directory, so a running `make run` is untouched.
# Stops what it started, whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export VIGIE_TEST_KAFKA_PORT=${VIGIE_TEST_KAFKA_PORT:-19092}
export VIGIE_TEST_STATE_DIR=${VIGIE_TEST_STATE_DIR:-$PWD/.vigie/test}

broker() {
  VIGIE_STATE_DIR=$VIGIE_TEST_STATE_DIR VIGIE_KAFKA_PORT=$VIGIE_TEST_KAFKA_PORT \
    "$VENV/bin/vigie" kafka "$1"
}

cleanup() {
  broker stop >/dev/null || true
  tools/postgres.sh stop || true
}
trap cleanup EXIT

VIGIE_TEST_POSTGRES_URL=$(tools/postgres.sh start)
export VIGIE_TEST_POSTGRES_URL
broker start
"$VENV/bin/python" -m pytest "$@"
