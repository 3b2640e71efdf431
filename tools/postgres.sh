#!/usr/bin/env bash
# Local PostgreSQL for tests and `make run` with VIGIE_DATABASE_URL: installs Debian's
# server if missing, starts the default cluster as the postgres user, and creates the
# `vigie` role with a password generated here (never committed).
#   tools/postgres.sh start   -> prints the admin URL the tests use
#   tools/postgres.sh stop
#   tools/postgres.sh crash-restart   (the fault suite: immediate shutdown, WAL recovery)
#   tools/postgres.sh url
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=.vigie
PW_FILE=$STATE/postgres-password
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
  mkdir -p "$STATE"
  if [ ! -s "$PW_FILE" ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$PW_FILE")
  fi
  cat "$PW_FILE"
}

url() { echo "postgresql+psycopg://vigie:$(password)@127.0.0.1:${PORT}/postgres"; }

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
  su postgres -c "psql -p $PORT -v ON_ERROR_STOP=1 -q" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vigie') THEN
    CREATE ROLE vigie LOGIN CREATEDB PASSWORD '$pw';
  ELSE
    ALTER ROLE vigie LOGIN CREATEDB PASSWORD '$pw';
  END IF;
END \$\$;
SQL
  url
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
  *) echo "usage: $0 start|stop|url|crash-restart" >&2; exit 2 ;;
esac
