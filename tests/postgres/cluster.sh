#!/usr/bin/env bash
# A local Postgres primary/standby pair for the failover tests: two clusters of the machine's
# PostgreSQL version on their own ports and data folders, the second a streaming standby of the
# first (`pg_basebackup -R`). The machine's own server (port 5432, /var/lib/postgresql) is never
# touched. As root, every server program runs as the postgres user, on folders it owns.
#
# Usage: tests/postgres/cluster.sh COMMAND
#   start          initdb node a, start it, clone node b from it with pg_basebackup -R, start b
#                  as a streaming standby (a synchronous one when PG_PAIR_SYNC=1), and wait
#                  until a sees it streaming; fails if the base folder already holds a pair
#   stop           stop both nodes (immediate shutdown) and remove the base folder
#   kill-primary   kill -9 of the primary's postmaster and of every process it started: the
#                  machine lost, no shutdown checkpoint, no last WAL sent to the standby
#   promote        promote the standby (pg_ctl promote) and wait until it accepts writes
#   status         one line per node: name, port, running or down, primary or standby
#   lag            bytes of WAL the primary wrote that its standby has not flushed yet: what
#                  an asynchronous standby would lose if the primary died now
#   url [DB]       the multi-host URL of the pair (postgres.url), target_session_attrs=read-write
#
# Environment (default):
#   PG_PAIR_DIR (/tmp/turnover-pg-pair)  base folder: a/ and b/ (data, server.log), sockets
#   PG_PAIR_PORT (55432)                 port of node a; node b listens on this + 1
#   PG_PAIR_SYNC (1)                     1: synchronous_standby_names = 'b' and
#                                        synchronous_commit = on on the primary; 0: asynchronous
#   PG_PAIR_TIMEOUT (60)                 seconds any single wait may last before the command fails
#   PG_BIN                               PostgreSQL's programs (the newest /usr/lib/postgresql/*/bin)
set -euo pipefail

DIR=${PG_PAIR_DIR:-/tmp/turnover-pg-pair}
PORT=${PG_PAIR_PORT:-55432}
SYNC=${PG_PAIR_SYNC:-1}
TIMEOUT=${PG_PAIR_TIMEOUT:-60}
# `stop` deletes the base folder only when it holds this file, which only `start` writes.
MARKER=.turnover-pg-pair

say() { echo "pg-pair: $*"; }
die() {
    echo "pg-pair: error: $*" >&2
    exit 1
}
now() { date +%s; }

case "$DIR" in
/ | "" | /tmp | /tmp/) die "PG_PAIR_DIR=$DIR is not a folder of its own" ;;
esac
if [ -z "${PG_BIN:-}" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
fi
[ -x "$PG_BIN/initdb" ] || die "no initdb in PG_BIN=$PG_BIN"
command -v psql >/dev/null || die "psql is needed"

# initdb and postgres refuse to run as root: as root, they run as the postgres user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
port_of() { if [ "$1" = a ]; then echo "$PORT"; else echo $((PORT + 1)); fi; }
data_of() { echo "$DIR/$1/data"; }
# pid_of NODE: the postmaster's pid when it runs.
pid_of() {
    local pid
    pid=$(head -n1 "$(data_of "$1")/postmaster.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}
q() { psql "host=127.0.0.1 port=$(port_of "$1") user=postgres dbname=postgres connect_timeout=2" -XAtqc "$2" 2>/dev/null; }
# role NODE: primary, standby or down.
role() {
    case "$(q "$1" "SELECT pg_is_in_recovery()" || echo down)" in
    f) echo primary ;;
    t) echo standby ;;
    *) echo down ;;
    esac
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# wait_for WHAT COMMAND...: until COMMAND succeeds, at most TIMEOUT seconds.
wait_for() {
    local what=$1 deadline=$(($(now) + TIMEOUT))
    shift
    until "$@"; do
        [ "$(now)" -lt "$deadline" ] || die "$what: not after ${TIMEOUT}s"
        sleep 0.2
    done
}
start_node() {
    as_pg "$PG_BIN/pg_ctl" -D "$(data_of "$1")" -l "$DIR/$1/server.log" -w -t "$TIMEOUT" start >/dev/null ||
        die "node $1 did not start: $(tail -n 5 "$DIR/$1/server.log")"
}

cmd_start() {
    [ ! -e "$DIR/$MARKER" ] || die "$DIR already holds a pair; run '$0 stop' first"
    port_free "$PORT" || die "port $PORT is taken; set PG_PAIR_PORT to a free port"
    port_free $((PORT + 1)) || die "port $((PORT + 1)) is taken; set PG_PAIR_PORT to a free port"
    mkdir -p "$DIR/a" "$DIR/b"
    touch "$DIR/$MARKER"
    [ "$(id -u)" != 0 ] || chown -R postgres "$DIR"
    as_pg "$PG_BIN/initdb" -D "$(data_of a)" -U postgres -A trust >/dev/null
    # Settings both nodes share (b inherits them through the base backup). No replication
    # slot: wal_keep_size keeps enough WAL for a standby that falls behind under load.
    as_pg tee -a "$(data_of a)/postgresql.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
wal_level = replica
max_wal_senders = 4
wal_keep_size = '256MB'
hot_standby = on
EOF
    as_pg tee -a "$(data_of a)/postgresql.conf" >/dev/null <<<"port = $PORT"
    start_node a
    as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U postgres -D "$(data_of b)" -R -X stream \
        >/dev/null || die "pg_basebackup failed"
    # The standby names itself, so that the primary can wait for it by name; the
    # synchronous settings go to the primary only, after the copy: a standby promoted with
    # synchronous_standby_names naming itself would wait forever on every commit.
    as_pg tee -a "$(data_of b)/postgresql.auto.conf" >/dev/null <<EOF
port = $((PORT + 1))
primary_conninfo = 'host=127.0.0.1 port=$PORT user=postgres application_name=b'
EOF
    start_node b
    if [ "$SYNC" = 1 ]; then
        q a "ALTER SYSTEM SET synchronous_standby_names = 'b'" >/dev/null
        q a "ALTER SYSTEM SET synchronous_commit = 'on'" >/dev/null
    else
        q a "ALTER SYSTEM SET synchronous_standby_names = ''" >/dev/null
    fi
    q a "SELECT pg_reload_conf()" >/dev/null
    local want=async
    [ "$SYNC" != 1 ] || want=sync
    wait_for "node b streaming ($want) from a" \
        test "$(q a "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'b' AND state = 'streaming'")" = "$want"
    say "pair up: a primary on $PORT, b $want standby on $((PORT + 1))"
}

cmd_stop() {
    local n
    for n in a b; do
        [ -z "$(pid_of "$n" || true)" ] ||
            as_pg "$PG_BIN/pg_ctl" -D "$(data_of "$n")" -m immediate -w stop >/dev/null 2>&1 || true
    done
    if [ -e "$DIR/$MARKER" ]; then
        rm -rf "$DIR"
    elif [ -e "$DIR" ]; then
        die "$DIR was not made by '$0 start'; left as it is"
    fi
    say "stopped"
}

# The primary's name (a or b), or failure.
primary() {
    local n
    for n in a b; do
        [ "$(role "$n")" != primary ] || {
            echo "$n"
            return 0
        }
    done
    return 1
}

cmd_kill_primary() {
    local n pid
    n=$(primary) || die "no node is primary"
    pid=$(pid_of "$n") || die "node $n has no postmaster"
    # The postmaster's children (backends, walsender, checkpointer) first would let them
    # answer one more time; all at once, as when the machine dies.
    kill -KILL "$pid" $(pgrep -P "$pid") 2>/dev/null || true
    wait_for "node $n gone" port_free "$(port_of "$n")"
    say "killed the primary, node $n (postmaster $pid)"
}

cmd_promote() {
    local n
    for n in a b; do
        [ "$(role "$n")" = standby ] || continue
        as_pg "$PG_BIN/pg_ctl" -D "$(data_of "$n")" -w -t "$TIMEOUT" promote >/dev/null ||
            die "pg_ctl promote of node $n failed"
        wait_for "node $n accepting writes" test "$(role "$n")" = primary
        say "promoted node $n on $(port_of "$n")"
        return 0
    done
    die "no standby to promote"
}

cmd_status() {
    local n pid all=0
    for n in a b; do
        pid=$(pid_of "$n" || echo -)
        echo "$n port=$(port_of "$n") pid=$pid $(role "$n")"
        [ "$(role "$n")" != down ] || all=1
    done
    return "$all"
}

cmd_lag() {
    local n
    n=$(primary) || die "no node is primary"
    q "$n" "SELECT coalesce(max(pg_current_wal_lsn() - flush_lsn), 0) FROM pg_stat_replication" ||
        die "node $n did not answer"
}

cmd_url() {
    echo "postgres://postgres@127.0.0.1:$PORT,127.0.0.1:$((PORT + 1))/${1:-turnover}?target_session_attrs=read-write"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
kill-primary) cmd_kill_primary ;;
promote) cmd_promote ;;
status) cmd_status ;;
lag) cmd_lag ;;
url) cmd_url "${2:-}" ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
