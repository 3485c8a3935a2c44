#!/usr/bin/env bash
# The login users of the compose stack, each with least privilege, made once
# when the postgres container initialises its volume
# (/docker-entrypoint-initdb.d). The group roles are the ones migration 00004
# grants to; they are created here first (as NOLOGIN, as the migration would)
# so the logins can join them before the migration runs. The migration itself
# runs as the owner, POSTGRES_USER.
#   command  -> tickets_writer: insert/update tickets, the outbox, idempotency keys
#   query    -> tickets_reader: select tickets
# Idempotent; tests/e2e runs it against a scratch database.
set -euo pipefail
: "${COMMAND_DB_USER:=ticketsys_command}" "${QUERY_DB_USER:=ticketsys_query}"
: "${COMMAND_DB_PASSWORD:?}" "${QUERY_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-tickets}" \
  -v cmd_user="$COMMAND_DB_USER" -v cmd_pw="$COMMAND_DB_PASSWORD" \
  -v q_user="$QUERY_DB_USER" -v q_pw="$QUERY_DB_PASSWORD" <<'SQL'
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tickets_writer') AS make_writer,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tickets_reader') AS make_reader,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'cmd_user') AS make_cmd,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'q_user') AS make_q \gset
\if :make_writer
CREATE ROLE tickets_writer NOLOGIN;
\endif
\if :make_reader
CREATE ROLE tickets_reader NOLOGIN;
\endif
\if :make_cmd
CREATE ROLE :"cmd_user" LOGIN;
\endif
\if :make_q
CREATE ROLE :"q_user" LOGIN;
\endif
ALTER ROLE :"cmd_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'cmd_pw';
ALTER ROLE :"q_user" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'q_pw';
GRANT tickets_writer TO :"cmd_user";
GRANT tickets_reader TO :"q_user";
SQL
