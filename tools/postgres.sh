#!/usr/bin/env bash
# Local PostgreSQL for tests and `make run` with VIGIE_DATABASE_URL: installs Debian's
# server if missing, starts the default cluster as the postgres user, and creates the
# `vigie` role (owns the schema, runs migrations) and the `vigie_hub` role the hub runs as
# (no ownership: it cannot alter or drop the log's tables or triggers), each with a
# password generated here (never committed).
#   tools/postgres.sh start   -> prints the admin URL the tests use
#   tools/postgres.sh hub-url -> the hub role's URL (same server, database postgres)
#   tools/postgres.sh stop
#   tools/postgres.sh crash-restart   (the fault suite: immediate shutdown, WAL recovery)
#   tools/postgres.sh url
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=.vigie
PW_FILE=$STATE/postgres-password
HUB_PW_FILE=$STATE/postgres-hub-password
PORT=${VIGIE_PG_PORT:-5432}
mkdir -p "$STATE"

ensure_installed() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "installing PostgreSQL from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
  fi
}

version() { ls /usr/lib/postgresql | sort -V | tail -1; }

password() {
  local file=${1:-$PW_FILE}
  mkdir -p "$STATE"
  if [ ! -s "$file" ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$file")
  fi
  cat "$file"
}

url() { echo "postgresql+psycopg://vigie:$(password)@127.0.0.1:${PORT}/postgres"; }
hub_url() { echo "postgresql+psycopg://vigie_hub:$(password "$HUB_PW_FILE")@127.0.0.1:${PORT}/postgres"; }

running() { pg_lsclusters -h 2>/dev/null | awk -v v="$(version)" '$1==v && $2=="main" {print $4}' | grep -q online; }

start() {
  ensure_installed
  local ver; ver=$(version)
  if ! pg_lsclusters -h | awk '{print $1"/"$2}' | grep -qx "$ver/main"; then
    pg_createcluster "$ver" main -p "$PORT" >&2
  fi
  if running; then
    echo "already" > "$STATE/postgres-was-running"
  else
    rm -f "$STATE/postgres-was-running"
    pg_ctlcluster "$ver" main start >&2
  fi
  for _ in $(seq 1 50); do
    su postgres -c "psql -p $PORT -tAc 'select 1'" >/dev/null 2>&1 && break
    sleep 0.2
  done
  local pw; pw=$(password)
  local hub_pw; hub_pw=$(password "$HUB_PW_FILE")
  su postgres -c "psql -p $PORT -v ON_ERROR_STOP=1 -q" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vigie') THEN
    CREATE ROLE vigie LOGIN CREATEDB PASSWORD '$pw';
  ELSE
    ALTER ROLE vigie LOGIN CREATEDB PASSWORD '$pw';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vigie_hub') THEN
    CREATE ROLE vigie_hub LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$hub_pw';
  ELSE
    ALTER ROLE vigie_hub LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$hub_pw';
  END IF;
END \$\$;
SET client_min_messages = warning;
-- The tests drop their databases WITH (FORCE), ending the hub role's sessions too.
GRANT pg_signal_backend TO vigie;
SQL
  settings
  url
}

settings() {
  # WAL and checkpoints as a production server for the hub is set (README, "PostgreSQL"):
  # with Debian's defaults (max_wal_size 1 GB, checkpoints every 5 min) the hub's WAL at
  # its maximum rate forced a checkpoint every minute or so, and while one runs (its
  # first change of every hot page logged as a full image, its writes beside the WAL's)
  # the API's p99 at half rate went from about 60 ms to 160 ms (measured with checkpoints
  # every 30 s). Reloaded, not restarted: nothing here needs a restart.
  local compression=lz4
  su postgres -c "psql -p $PORT -qAtc \"ALTER SYSTEM SET wal_compression = 'lz4'\"" >/dev/null 2>&1 \
    || compression=on
  su postgres -c "psql -p $PORT -v ON_ERROR_STOP=1 -q" >/dev/null <<SQL
ALTER SYSTEM SET wal_compression = '$compression';
ALTER SYSTEM SET max_wal_size = '8GB';
ALTER SYSTEM SET checkpoint_timeout = '15min';
SELECT pg_reload_conf();
SQL
}

stop() {
  # Stop only a server this script started.
  if [ -f "$STATE/postgres-was-running" ]; then
    rm -f "$STATE/postgres-was-running"
    return 0
  fi
  running && pg_ctlcluster "$(version)" main stop >&2 || true
}

crash_restart() {
  # Immediate mode: no checkpoint, connections cut, recovery from the WAL at start.
  pg_ctlcluster "$(version)" main restart -m immediate >&2
}

case "${1:-}" in
  start) start ;;
  crash-restart) crash_restart ;;
  stop) stop ;;
  url) url ;;
  hub-url) hub_url ;;
  *) echo "usage: $0 start|stop|url|hub-url|crash-restart" >&2; exit 2 ;;
esac
