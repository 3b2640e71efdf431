#!/usr/bin/env bash
# `make bench` against real services (tools/with-services.sh): PostgreSQL and a dedicated
# broker on port 29092; vegeta (tools/vegeta.sh) as the load generator.
set -euo pipefail
cd "$(dirname "$0")/.."
VIGIE_VEGETA=$(tools/vegeta.sh)
export VIGIE_VEGETA
exec tools/with-services.sh "${VIGIE_BENCH_KAFKA_PORT:-29092}" "$PWD/.vigie/bench" \
  "${VENV:-.venv}/bin/python" -m bench.run "$@"
