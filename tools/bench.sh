#!/usr/bin/env bash
# `make bench`: starts PostgreSQL and a dedicated broker (its own ports and state, so a
# running `make run` is untouched), runs bench/run.py, stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export VIGIE_BENCH_KAFKA_PORT=${VIGIE_BENCH_KAFKA_PORT:-29092}
STATE=$PWD/.vigie/bench

broker() {
  VIGIE_STATE_DIR=$STATE VIGIE_KAFKA_PORT=$VIGIE_BENCH_KAFKA_PORT "$VENV/bin/vigie" kafka "$1"
}
cleanup() {
  broker stop >/dev/null || true
  tools/postgres.sh stop || true
}
trap cleanup EXIT

VIGIE_BENCH_POSTGRES_URL=$(tools/postgres.sh start)
export VIGIE_BENCH_POSTGRES_URL
broker start >/dev/null
"$VENV/bin/python" -m bench.run "$@"
