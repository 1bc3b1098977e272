#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server: `scripts/pg.sh python -m pytest ...`.
#
# Debian's PostgreSQL (apt-get install postgresql; scripts/test.sh installs it when missing) gets a
# fresh cluster in a temp dir, listening only on a unix socket in that dir (no TCP) under a free
# port number. The command sees COOKBOOK_TEST_PG_URL (a SQLAlchemy URL of the `postgres` database,
# user `postgres`, no password); tests create and drop their own databases there. The server is
# stopped and its dir removed when the script exits, whether the command passed, failed or was
# interrupted. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
#
# If COOKBOOK_TEST_PG_URL is already set, that server is used and none is started.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi

if [ -n "${COOKBOOK_TEST_PG_URL:-}" ]; then
  echo "== PostgreSQL: using COOKBOOK_TEST_PG_URL from the environment"
  exec "$@"
fi

PG_BIN=""
for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  if [ -x "$dir/pg_ctl" ]; then PG_BIN=$dir; break; fi
done
if [ -z "$PG_BIN" ]; then
  echo "scripts/pg.sh: no /usr/lib/postgresql/*/bin/pg_ctl (apt-get install postgresql)" >&2
  exit 1
fi

AS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "scripts/pg.sh: no postgres user to run the server as" >&2; exit 1; }
  AS=(runuser -u postgres --)
fi

# Under /tmp, not $TMPDIR: the postgres user must reach it, and a socket path has at most 107 bytes.
PG_DIR=$(mktemp -d /tmp/cookbook-pg.XXXXXX)
PG_DATA=$PG_DIR/data
PG_LOG=$PG_DIR/server.log
PG_STARTED=""
[ "${#AS[@]}" -eq 0 ] || chown postgres: "$PG_DIR"

pg_stop() {
  local rc=${PG_RC:-$?}
  trap - EXIT INT TERM
  if [ -n "$PG_STARTED" ]; then
    if ! (cd "$PG_DIR" && "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null); then
      echo "scripts/pg.sh: fast shutdown failed; stopping immediately" >&2
      (cd "$PG_DIR" && "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null) || rc=1
    fi
    echo "== PostgreSQL stopped"
  fi
  rm -rf "$PG_DIR"
  exit "$rc"
}
trap pg_stop EXIT
trap 'PG_RC=130; exit 130' INT
trap 'PG_RC=143; exit 143' TERM

# A free port number; with no TCP listener it only names the socket, but stays unique anyway.
PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# cd into the temp dir: the postgres user may not be allowed into the caller's directory.
(cd "$PG_DIR" && "${AS[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 --locale=C \
  --no-sync >"$PG_DIR/initdb.log" 2>&1) || { cat "$PG_DIR/initdb.log" >&2; exit 1; }
# Durability is pointless for a throwaway server: fsync off keeps CREATE DATABASE per test cheap.
PG_OPTS="-p $PG_PORT -k $PG_DIR -c listen_addresses='' -c fsync=off -c synchronous_commit=off"
PG_OPTS="$PG_OPTS -c full_page_writes=off -c max_connections=200"
PG_STARTED=1
if ! (cd "$PG_DIR" && "${AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "$PG_OPTS" -w -t 60 start \
  >/dev/null); then
  echo "scripts/pg.sh: PostgreSQL did not start; its log:" >&2
  cat "$PG_LOG" >&2 || true
  exit 1
fi
echo "== PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on $PG_DIR/.s.PGSQL.$PG_PORT"

export COOKBOOK_TEST_PG_URL="postgresql+psycopg://postgres@/postgres?host=$PG_DIR&port=$PG_PORT"
# In the background, so that a signal to this script (a CI timeout) stops the command and then the
# server at once instead of after the command; stdin stays the command's (pytest --pdb).
"$@" <&0 &
CHILD=$!
trap 'PG_RC=130; kill -TERM "$CHILD" 2>/dev/null; wait "$CHILD"; exit 130' INT
trap 'PG_RC=143; kill -TERM "$CHILD" 2>/dev/null; wait "$CHILD"; exit 143' TERM
rc=0
wait "$CHILD" || rc=$?
exit "$rc"
