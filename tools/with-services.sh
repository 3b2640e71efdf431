#!/usr/bin/env bash
# Runs a command with the services it needs started: PostgreSQL (Debian's, a generated
# password) and a dedicated Kafka broker on its own ports and state directory, so that a
# running `make run` is untouched. Stops what it started, whatever the outcome.
#   tools/with-services.sh KAFKA_PORT STATE_DIR COMMAND...
# The command gets VIGIE_SERVICES_POSTGRES_URL (an admin URL) and VIGIE_SERVICES_KAFKA_PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export VIGIE_SERVICES_KAFKA_PORT=$1 VIGIE_SERVICES_STATE_DIR=$2
shift 2

broker() {
  VIGIE_STATE_DIR=$VIGIE_SERVICES_STATE_DIR VIGIE_KAFKA_PORT=$VIGIE_SERVICES_KAFKA_PORT \
    "$VENV/bin/vigie" kafka "$1"
}

cleanup() {
  broker stop >/dev/null || true
  tools/postgres.sh stop || true
}
trap cleanup EXIT

VIGIE_SERVICES_POSTGRES_URL=$(tools/postgres.sh start)
VIGIE_SERVICES_POSTGRES_HUB_URL=$(tools/postgres.sh hub-url)
export VIGIE_SERVICES_POSTGRES_URL VIGIE_SERVICES_POSTGRES_HUB_URL
broker start
"$@"
