#!/usr/bin/env bash
# make dev: the local stack without Docker, on this machine's Postgres (and,
# when none answers on NATS_URL, a pinned nats-server that it builds and runs
# itself). Every variable already set in the environment wins; development
# defaults fill in the rest. Ctrl-C stops what this script started, nothing else.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
NATS_SERVER_VERSION=v2.15.2
state="$root/.dev"
bin="$root/.cache/bin"
mkdir -p "$state" "$bin"

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tickets?sslmode=disable}
export NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
export AUTH_JWT_SECRET=${AUTH_JWT_SECRET:-dev-only-secret-change-me-0123456789abcdef}
export LOG_FORMAT=${LOG_FORMAT:-text}
export LOG_LEVEL=${LOG_LEVEL:-info}
export COMMAND_ADDR=${COMMAND_ADDR:-127.0.0.1:8081}

die() { echo "make dev: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing: $2"; }
need "$GO" "install Go 1.26 (https://go.dev/dl)"
need psql "install the PostgreSQL client (Debian: apt-get install postgresql-client)"
need curl "install curl"

# host:port of a URL, for the reachability checks.
hostport() { local u=${1#*://}; u=${u#*@}; u=${u%%/*}; u=${u%%\?*}; echo "$u"; }
answers() { local hp; hp=$(hostport "$1"); timeout 2 bash -c "exec 3<>/dev/tcp/${hp%:*}/${hp##*:}" 2>/dev/null; }

answers "$DATABASE_URL" || die "PostgreSQL does not answer at $(hostport "$DATABASE_URL"): start it (Debian: pg_ctlcluster 15 main start) or set DATABASE_URL"

# Create the database if it is missing (connect to the server's maintenance db).
dbname=$(basename "${DATABASE_URL%%\?*}")
admin_url=${DATABASE_URL/\/$dbname/\/postgres}
if ! psql "$admin_url" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1; then
  echo "make dev: creating database $dbname"
  psql "$admin_url" -qc "CREATE DATABASE \"$dbname\"" >/dev/null
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "make dev: stopped"
}
trap cleanup INT TERM EXIT

if ! answers "$NATS_URL"; then
  if [ ! -x "$bin/nats-server" ] || ! "$bin/nats-server" --version | grep -q "${NATS_SERVER_VERSION#v}"; then
    echo "make dev: building nats-server $NATS_SERVER_VERSION (once)"
    GOBIN="$bin" GOWORK=off "$GO" install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
  fi
  hp=$(hostport "$NATS_URL")
  echo "make dev: starting nats-server on $hp (JetStream, store in .dev/nats)"
  "$bin/nats-server" -a "${hp%:*}" -p "${hp##*:}" -js -sd "$state/nats" >"$state/nats.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do answers "$NATS_URL" && break; sleep 0.1; done
  answers "$NATS_URL" || die "nats-server did not start; see .dev/nats.log"
fi

echo "make dev: building services"
"$GO" build -o "$bin/command" ./services/command
"$GO" build -o "$bin/ticketctl" ./cmd/ticketctl

"$bin/command" migrate
HTTP_ADDR=$COMMAND_ADDR "$bin/command" serve > >(sed -u 's/^/[command] /') 2>&1 &
pids+=($!)

for _ in $(seq 100); do
  curl -fsS "http://$COMMAND_ADDR/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://$COMMAND_ADDR/readyz" >/dev/null || die "the command service did not become ready"

token=$("$bin/ticketctl" token --sub dev --scope "tickets:read tickets:write" --ttl 12h)
cat <<MSG

  command service  http://$COMMAND_ADDR   (ready)

  export TOKEN=$token
  curl -sS -X POST http://$COMMAND_ADDR/tickets \\
    -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
    -d '{"title":"Printer on floor 3 is jammed","priority":"high"}'

  Ctrl-C stops everything this started.
MSG
wait
