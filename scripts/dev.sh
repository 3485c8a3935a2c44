#!/usr/bin/env bash
# shellcheck disable=SC2317 # stop and cleanup run from the EXIT trap
# make dev: the whole local stack without Docker, on this machine's Postgres
# and Redis: migrations, a pinned nats-server when none answers on NATS_URL,
# the three services, and the Caddy front door on :8000 (deploy/caddy/Caddyfile,
# the file compose uses too). It waits until every /readyz answers, then prints
# a token and a first curl.
#
# Every variable already set in the environment wins; development defaults
# fill in the rest. HTTP_ADDR is per process, so make dev takes COMMAND_ADDR,
# QUERY_ADDR, INVALIDATOR_ADDR and FRONTDOOR_ADDR instead. Logs: this terminal,
# one stream, each line prefixed with [service]; nats-server's in .dev/nats.log.
# Ctrl-C stops what this script started, nothing else.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}
# The toolchain of the Makefile, also when this script runs on its own.
export GOTOOLCHAIN=go1.27.3
NATS_SERVER_VERSION=v2.15.2
CADDY_VERSION=v2.11.9
state="$root/.dev"
bin="$root/.cache/bin"
mkdir -p "$state" "$bin"

export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tickets?sslmode=disable}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
export NATS_URL=${NATS_URL:-nats://127.0.0.1:4222}
# What only a developer's machine may use (the development keys, auth off, a
# random cursor key) is refused unless ENV says development.
export ENV=${ENV:-development}
# One key source only; by default the development key pair of deploy/dev-keys
# (the compose stack's too): the services verify with its public half, and
# ticketctl token signs with the private one.
if [ -z "${AUTH_JWKS_URL:-}${AUTH_JWT_SECRET:-}${AUTH_PUBLIC_KEY_FILE:-}" ] && [ "${AUTH_DISABLED:-}" != true ]; then
  export AUTH_PUBLIC_KEY_FILE=$root/deploy/dev-keys/public.pem
  export AUTH_PRIVATE_KEY_FILE=${AUTH_PRIVATE_KEY_FILE:-$root/deploy/dev-keys/private.pem}
fi
export LOG_FORMAT=${LOG_FORMAT:-text}
export LOG_LEVEL=${LOG_LEVEL:-info}
COMMAND_ADDR=${COMMAND_ADDR:-127.0.0.1:8081}
QUERY_ADDR=${QUERY_ADDR:-127.0.0.1:8082}
INVALIDATOR_ADDR=${INVALIDATOR_ADDR:-127.0.0.1:8083}
FRONTDOOR_ADDR=${FRONTDOOR_ADDR:-127.0.0.1:8000}
FRONTDOOR_LOG_FORMAT=${FRONTDOOR_LOG_FORMAT:-console}

die() { echo "make dev: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is missing: $2"; }
need "$GO" "install Go 1.26 (https://go.dev/dl)"
need psql "install the PostgreSQL client (Debian: apt-get install postgresql-client)"
need curl "install curl (Debian: apt-get install curl)"
need setsid "install util-linux (Debian: apt-get install util-linux)"
need flock "install util-linux (Debian: apt-get install util-linux)"
need ps "install procps (Debian: apt-get install procps)"
[ -z "${HTTP_ADDR:-}" ] || echo "make dev: HTTP_ADDR is ignored (one per process): set COMMAND_ADDR, QUERY_ADDR, INVALIDATOR_ADDR, FRONTDOOR_ADDR" >&2

# host:port of a URL or address, with a default port when it names none.
hostport() {
  local u=${1#*://} port=${2:-}
  u=${u##*@}; u=${u%%/*}; u=${u%%\?*}; u=${u%%,*}
  [[ $u == *:* ]] || u="$u:$port"
  [ -n "${u%:*}" ] || u="127.0.0.1$u"
  echo "$u"
}
# answers URL [default port]: something accepts TCP connections there.
answers() {
  local hp; hp=$(hostport "$1" "${2:-}")
  timeout 2 bash -c "exec 3<>/dev/tcp/${hp%:*}/${hp##*:}" 2>/dev/null
}

# A second run must not start half a stack beside the first: the ports first
# (whoever holds them), then a lock for two runs starting at the same moment.
for addr in "$FRONTDOOR_ADDR" "$COMMAND_ADDR" "$QUERY_ADDR" "$INVALIDATOR_ADDR"; do
  ! answers "$addr" || die "$(hostport "$addr") is already taken (is make dev already running? stop it with Ctrl-C, or set COMMAND_ADDR/QUERY_ADDR/INVALIDATOR_ADDR/FRONTDOOR_ADDR)"
done
exec 9>"$state/dev.lock"
flock -n 9 || die "make dev is already starting in this checkout (.dev/dev.lock is held)"

answers "$DATABASE_URL" 5432 || die "PostgreSQL does not answer at $(hostport "$DATABASE_URL" 5432): start it (Debian: apt-get install postgresql; pg_ctlcluster 15 main start) or set DATABASE_URL"
answers "$REDIS_URL" 6379 || die "Redis does not answer at $(hostport "$REDIS_URL" 6379): install and start it (Debian: apt-get install redis-server; redis-server --daemonize yes) or set REDIS_URL"

# Create the database if it is missing (connect to the server's maintenance db).
dbname=$(basename "${DATABASE_URL%%\?*}")
admin_url=${DATABASE_URL/\/$dbname/\/postgres}
if ! psql "$admin_url" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1; then
  echo "make dev: creating database $dbname"
  psql "$admin_url" -qc "CREATE DATABASE \"$dbname\"" >/dev/null
fi

pids=() names=()
# start NAME COMMAND...: runs it in its own session (so the terminal's Ctrl-C
# reaches only this script, which then stops each child once, in order), its
# output prefixed with [NAME]. $! is the service itself: setsid execs it
# without forking, and the prefixing sed runs in a process substitution. The
# sed ignores SIGINT: it must outlive the service to pass on its last lines
# (and a Go program whose stdout pipe breaks dies of SIGPIPE mid-shutdown).
start() {
  local name=$1; shift
  setsid "$@" 9>&- > >(exec 9>&-; trap '' INT; exec sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!) names+=("$name")
}
# alive PID: running, not a zombie (kill -0 succeeds on a zombie, and bash
# reaps its children only at its next wait).
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $s != Z* ]]; }
# stop PID...: SIGTERM, then up to 30 s (the services' SHUTDOWN_TIMEOUT is
# 20 s) before SIGKILL.
stop() {
  local p deadline=$((SECONDS + 30))
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "$@"; do
    while alive "$p" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
}
nats_pid=
cleanup() {
  local status=$?
  trap - INT TERM HUP EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    echo "make dev: stopping" >&2
    # The front door and the services first, NATS last: the invalidator and
    # the relay finish their work against a NATS that is still there.
    local apps=() i
    for i in "${!pids[@]}"; do [ "${pids[$i]}" = "$nats_pid" ] || apps+=("${pids[$i]}"); done
    [ ${#apps[@]} -eq 0 ] || stop "${apps[@]}"
    [ -z "$nats_pid" ] || stop "$nats_pid"
    wait 2>/dev/null || true
    echo "make dev: stopped" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

nats_note="already running" ctl_line=
declare -A nats_url=()
if ! answers "$NATS_URL" 4222; then
  if [ ! -x "$bin/nats-server" ] || ! "$bin/nats-server" --version | grep -q "${NATS_SERVER_VERSION#v}"; then
    echo "make dev: building nats-server $NATS_SERVER_VERSION (once)"
    GOBIN="$bin" GOWORK=off "$GO" install "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
  fi
  hp=$(hostport "$NATS_URL" 4222)
  # The users and permissions of deploy/nats/auth.conf, as in compose, with
  # passwords made once for this checkout.
  if [ ! -s "$state/nats-passwords" ]; then
    (umask 077; for u in COMMAND INVALIDATOR TICKETCTL ADMIN; do
      echo "NATS_${u}_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    done >"$state/nats-passwords")
  fi
  set -a; . "$state/nats-passwords"; set +a
  cp deploy/nats/auth.conf "$state/nats-auth.conf"
  cat >"$state/nats.conf" <<CONF
listen: $hp
jetstream { store_dir: "$state/nats" }
include ./nats-auth.conf
CONF
  echo "make dev: starting nats-server on $hp (JetStream, store in .dev/nats, log in .dev/nats.log)"
  setsid "$bin/nats-server" -c "$state/nats.conf" 9>&- >"$state/nats.log" 2>&1 &
  nats_pid=$! pids+=($!) names+=(nats-server)
  for _ in $(seq 50); do answers "$NATS_URL" 4222 && break; sleep 0.1; done
  answers "$NATS_URL" 4222 || die "nats-server did not start; see .dev/nats.log"
  nats_url=([command]="nats://command:$NATS_COMMAND_PASSWORD@$hp"
    [cache-invalidator]="nats://cache-invalidator:$NATS_INVALIDATOR_PASSWORD@$hp")
  nats_note="started by make dev with deploy/nats/auth.conf's users (passwords in .dev/nats-passwords), log in .dev/nats.log"
  ctl_line="export NATS_URL=nats://ticketctl:$NATS_TICKETCTL_PASSWORD@$hp   # ticketctl's read-only user"
fi

caddy_built() {
  [ -x "$bin/caddy" ] && "$GO" version -m "$bin/caddy" 2>/dev/null |
    grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/caddyserver/caddy/v2[[:space:]]+${CADDY_VERSION}[[:space:]]"
}
if ! caddy_built; then
  echo "make dev: building caddy $CADDY_VERSION (once; a few minutes)"
  GOBIN="$bin" GOWORK=off "$GO" install "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION"
fi

# A service whose directory has no main package yet is skipped with a
# warning, so make dev works while it is being written.
services=(command)
pkgs=(./services/command ./cmd/ticketctl)
for svc in query cache-invalidator; do
  if [ "$("$GO" list -f '{{.Name}}' "./services/$svc" 2>/dev/null)" = main ]; then
    services+=("$svc") pkgs+=("./services/$svc")
  else
    echo "make dev: WARNING: services/$svc has no main package yet; starting without it" >&2
  fi
done
echo "make dev: building ${services[*]}"
"$GO" build -o "$bin/" "${pkgs[@]}"

"$bin/command" migrate 2>&1 | sed -u 's/^/[migrate] /'

declare -A addr=([command]=$COMMAND_ADDR [query]=$QUERY_ADDR [cache-invalidator]=$INVALIDATOR_ADDR)
for svc in "${services[@]}"; do
  start "$svc" env HTTP_ADDR="${addr[$svc]}" NATS_URL="${nats_url[$svc]:-$NATS_URL}" "$bin/$svc"
done
fd_bind=${FRONTDOOR_ADDR%:*}
start frontdoor env FRONTDOOR_BIND="${fd_bind:-0.0.0.0}" FRONTDOOR_PORT="${FRONTDOOR_ADDR##*:}" \
  QUERY_UPSTREAM="$QUERY_ADDR" COMMAND_UPSTREAM="$COMMAND_ADDR" FRONTDOOR_LOG_FORMAT="$FRONTDOOR_LOG_FORMAT" \
  FRONTDOOR_API_DIR="$PWD/api/openapi" \
  XDG_DATA_HOME="$state/caddy/data" XDG_CONFIG_HOME="$state/caddy/config" \
  "$bin/caddy" run --config deploy/caddy/Caddyfile --adapter caddyfile

# running NAME: the started process of that name is still alive.
running() {
  local i
  for i in "${!names[@]}"; do
    if [ "${names[$i]}" = "$1" ]; then alive "${pids[$i]}"; return; fi
  done
  return 1
}
# wait_ready NAME URL: polls until URL answers 2xx (any status for the front
# door, whose answer depends on what is behind it); 60 s at most.
wait_ready() {
  local name=$1 url=$2 code
  for _ in $(seq 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null) || true
    if [[ $code == 2* ]] || { [ "$name" = frontdoor ] && [ "$code" != 000 ]; }; then return 0; fi
    running "$name" || die "$name exited while starting; its last lines are above"
    sleep 0.1
  done
  die "$name is not ready after 60 s: GET $url answers $code $(curl -s "$url" 2>/dev/null | head -c 300)"
}
for svc in "${services[@]}"; do wait_ready "$svc" "http://$(hostport "${addr[$svc]}")/readyz"; done
front="http://$(hostport "$FRONTDOOR_ADDR")"
wait_ready frontdoor "$front/healthz"

status_of() {
  local s
  for s in "${services[@]}"; do [ "$s" != "$1" ] || { echo "http://$(hostport "${addr[$1]}")   ready"; return; }; done
  echo "not started: services/$1 has no main package yet"
}
# shellcheck disable=SC2016 # $TOKEN is for the reader's shell
auth=' -H "Authorization: Bearer $TOKEN"'
if [ -n "${AUTH_PRIVATE_KEY_FILE:-}${AUTH_JWT_SECRET:-}" ]; then
  token_line="export TOKEN=$("$bin/ticketctl" token --sub dev --scope "tickets:read tickets:write" --ttl 12h)"
elif [ "${AUTH_DISABLED:-}" = true ]; then
  token_line="# AUTH_DISABLED=true: no token needed" auth=
else
  token_line="export TOKEN=<a token from your identity provider, or set AUTH_PRIVATE_KEY_FILE>"
fi
cat <<MSG

  front door         $front   (GET/HEAD -> query, other methods -> command)
  command            $(status_of command)
  query              $(status_of query)
  cache-invalidator  $(status_of cache-invalidator)
  nats               $NATS_URL   ($nats_note)

  $token_line
  ${ctl_line:-# ticketctl reads NATS_URL=$NATS_URL}
  curl -sS -i -X POST $front/tickets$auth \\
    -H 'Content-Type: application/json' -d '{"title":"Printer on floor 3 is jammed","priority":"high"}'
  curl -sS -i "$front/tickets"$auth     # twice: X-Cache MISS, then HIT

  Ctrl-C stops everything make dev started.
MSG
# Until Ctrl-C, or until one of the processes stops by itself: then the
# stack is not what the banner says any more, so stop the rest too.
set +e
wait -n "${pids[@]}"
code=$?
for i in "${!pids[@]}"; do
  alive "${pids[$i]}" || { echo "make dev: ${names[$i]} exited ($code); stopping the rest" >&2; break; }
done
exit 1
