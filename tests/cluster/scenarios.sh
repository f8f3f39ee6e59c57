#!/usr/bin/env bash
# The delivery guarantee under failure (docs/reliability.md), proven against the three-node
# RabbitMQ cluster of rabbitmq-cluster.sh with the real `turnover` binary:
#
#   leader-loss   20,000 jobs through `turnover enqueue`; kill -9 of the node that leads the
#                 request queue while they are published and consumed; the node restarted
#   worker-kill   two `turnover serve --no-http` consume together; one is kill -9ed, twice
#   pg-restart    a real restart (pg_ctl restart -m fast) of the worker's Postgres under load;
#                 a throwaway Postgres server of its own on PG_PORT, never the machine's 5432
#   rolling       rolling restart of the three broker nodes under load
#
# Each prints one line: published, rows, rejected, dead, duplicates (and re-sends, duration),
# and the script exits non-zero when any job is lost, duplicated, rejected or dead-lettered.
#
# Usage: tests/cluster/scenarios.sh [SCENARIO...]   (default: all four, in the order above)
#
# Environment (default):
#   SCENARIOS_BIN      the binary to test (built with `cargo build --release` when unset)
#   LEADER_JOBS       jobs of leader-loss (20000), published at LEADER_RATE (2500) per second
#   JOBS              jobs of worker-kill and pg-restart (10000)
#   ROLLING_JOBS      jobs of rolling (6000), published at ROLLING_RATE (80) per second so
#                     that they span the three restarts
#   PG_PORT           port of the throwaway Postgres (5439)
#   PG_BIN            PostgreSQL's programs (the newest /usr/lib/postgresql/*/bin)
#   MAIN_PG           the machine's Postgres, for the scenarios' own databases
#                     (postgres://postgres@127.0.0.1:5432)
#   KEEP_CLUSTER=1    leave a cluster this script started running at the end
# and rabbitmq-cluster.sh's RMQ_CLUSTER_* variables.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER=tests/cluster/rabbitmq-cluster.sh
LEADER_JOBS=${LEADER_JOBS:-20000}
JOBS=${JOBS:-10000}
ROLLING_JOBS=${ROLLING_JOBS:-6000}
PG_PORT=${PG_PORT:-5439}
MAIN_PG=${MAIN_PG:-postgres://postgres@127.0.0.1:5432}
# A scenario that makes no progress for this long has failed.
STALL_S=${STALL_S:-90}
# The longest a publisher may run, whatever happens.
PUBLISH_TIMEOUT_S=${PUBLISH_TIMEOUT_S:-400}

HARNESS=scenarios
work=$(mktemp -d /tmp/turnover-scenarios.XXXXXX)
# shellcheck source=tests/cluster/harness.sh
. tests/cluster/harness.sh
databases=()
pg_dir=""
cluster_started=0
failed=0

cleanup() {
    local status=$?
    set +e
    kill_procs
    if [ -n "$pg_dir" ] && [ -f "$pg_dir/data/postmaster.pid" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" stop -m immediate -w >/dev/null 2>&1
    fi
    [ -z "$pg_dir" ] || rm -rf "$pg_dir"
    for db in "${databases[@]}"; do
        psql "$MAIN_PG/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1
    done
    if [ "$cluster_started" = 1 ] && [ "${KEEP_CLUSTER:-0}" != 1 ]; then
        "$CLUSTER" stop >/dev/null 2>&1
    fi
    [ "$status" = 0 ] || show_logs scenario
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the binary ---------------------------------------------------------------------------------
SCENARIOS_BIN=$(binary "${SCENARIOS_BIN:-}")

# --- the throwaway Postgres ---------------------------------------------------------------------
if [ -z "${PG_BIN:-}" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
fi
# initdb and postgres refuse to run as root: as root, they run as the postgres user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
pg_start_own() {
    [ -x "$PG_BIN/initdb" ] || die "no initdb in PG_BIN=$PG_BIN"
    if (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; then
        die "port $PG_PORT is taken; set PG_PORT to a free port"
    fi
    pg_dir=$(mktemp -d /tmp/turnover-scenarios-pg.XXXXXX)
    [ "$(id -u)" != 0 ] || chown postgres "$pg_dir"
    as_pg "$PG_BIN/initdb" -D "$pg_dir/data" -U postgres -A trust >/dev/null
    as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $pg_dir" start >/dev/null
}

# --- helpers (and those of harness.sh) ---------------------------------------------------------
# Names of this run's own, so that a cluster kept from an earlier run (KEEP_CLUSTER) cannot
# lend a scenario its leftover messages.
queue_prefix() { echo "scen.$$.$1"; }
# env_for NAME PGURL: the environment of every turnover process of scenario NAME.
env_for() {
    turnover_env "$(queue_prefix "$1")" "$urls" "$2"
    # Debug for the batch module only: it logs each copy that the keyed write turned into a
    # replay ("stored result replayed"), which the summary counts as absorbed duplicates.
    export TURNOVER_LOG__FILTER="info,turnover::worker::batch=debug"
}

# wait_rows PGURL N [TAG...]: until N rows, failing when nothing moves for STALL_S seconds.
wait_rows() {
    local url=$1 n=$2 count last=-1 since
    since=$(now)
    while :; do
        count=$(rows "$url" 2>/dev/null || echo "$last")
        [ "$count" -ge "$n" ] && return 0
        if [ "$count" != "$last" ]; then
            last=$count
            since=$(now)
        elif [ $(($(now) - since)) -ge "$STALL_S" ]; then
            say "no progress for ${STALL_S}s at $count of $n rows"
            return 1
        fi
        sleep 0.5
    done
}
# publish TAG FILE [ARGS...]: turnover enqueue in the background.
publish() {
    local tag=$1 file=$2
    shift 2
    start "$tag" "$SCENARIOS_BIN" enqueue --jsonl "$file" "$@"
}
# new_database NAME: sets $db to the URL of a database of this run's own, dropped at exit (not
# in a command substitution: the list must survive in this shell).
new_database() {
    local name="turnover_scen_${1//-/_}_$$"
    databases+=("$name")
    db="$MAIN_PG/$name"
}

# summary NAME PGURL EXPECTED T0 PUBLISH_STATUS: the one line, and the verdict.
summary() {
    local name=$1 url=$2 expected=$3 t0=$4 pub_status=$5 published resent count distinct rejected dead missing verdict=ok
    published=$(echo "$tally" | sed -nE 's/.* ([0-9]+) confirmed.*/\1/p')
    resent=$(echo "$tally" | sed -nE 's/.*; ([0-9]+) re-sent after ([0-9]+) reconnection\(s\), ([0-9]+) after a nack.*/\1 (\2 reconnections, \3 more after nacks)/p')
    count=$(rows "$url")
    distinct=$(sql "$url" "SELECT count(DISTINCT request_id) FROM predictions")
    rejected=$(sql "$url" "SELECT count(*) FROM rejected_messages")
    # A job once in predictions, once more rejected (a replay refused as a conflict) is a
    # duplicate too; the primary key makes two predictions rows impossible by construction.
    dup=$(($(sql "$url" "SELECT count(*) FROM rejected_messages r JOIN predictions p USING (request_id)") + count - distinct))
    dead=$("$CLUSTER" messages "$(queue_prefix "$name").dead")
    missing=$(sql "$url" "SELECT count(*) FROM generate_series(1, $expected) i WHERE NOT EXISTS (SELECT 1 FROM predictions WHERE request_id = '$name-' || i)")
    if [ "$pub_status" != 0 ] || [ "${published:-0}" != "$expected" ] || [ "$count" != "$expected" ] ||
        [ "$missing" != 0 ] || [ "$rejected" != 0 ] || [ "$dead" != 0 ] || [ "$dup" != 0 ]; then
        verdict=FAILED
        failed=1
    fi
    # Copies that reached the database again (a re-send the dead node had stored, a redelivery
    # of a batch committed before its worker died) and were answered from the stored row.
    absorbed=$(cat "$work"/worker*.log 2>/dev/null | grep -c 'stored result replayed' || true)
    echo "scenario $name: published=${published:-?} rows=$count missing=$missing rejected=$rejected dead=$dead duplicates=$dup re-sent=${resent:-?} absorbed=$absorbed duration=$(($(now) - t0))s $verdict"
}

# --- the scenarios ------------------------------------------------------------------------------
# Each scenario starts with no worker log of the previous one.
clear_logs() { rm -f "$work"/worker*.log; }

scenario_leader_loss() {
    local name=leader-loss db t0 leader idx first rest pub_status=0 u
    clear_logs
    new_database "$name"
    t0=$(now)
    env_for "$name" "$db"
    "$SCENARIOS_BIN" migrate >/dev/null
    # Declare the queue first, to know its leader, then list the leader's URL first: the worker
    # and the publisher both connect to it, so its death forces both to move.
    : >"$work/empty.jsonl"
    "$SCENARIOS_BIN" enqueue --jsonl "$work/empty.jsonl" >/dev/null
    leader=$("$CLUSTER" leader "$(queue_prefix "$name").requests")
    idx=${leader#"${RMQ_CLUSTER_NAME:-turnover-c}"}
    idx=${idx%%@*}
    first=$(echo "$urls" | tr ',' '\n' | sed -n "${idx}p")
    rest=$(echo "$urls" | tr ',' '\n' | grep -vxF "$first" | paste -sd, -)
    export TURNOVER_AMQP__URL="$first,$rest"
    jobs "$work/$name.jsonl" "$name" "$LEADER_JOBS"
    start worker "$SCENARIOS_BIN" serve --no-http
    wait_consuming worker
    publish pub "$work/$name.jsonl" --rate "${LEADER_RATE:-2500}"
    wait_rows_at_least "$db" $((LEADER_JOBS / 10))
    say "$name: killing the leader $leader (at $(rows "$db") rows)"
    "$CLUSTER" kill "$leader"
    "$CLUSTER" restart "$idx" >"$work/restart.log" 2>&1 || die "the killed node did not come back: $(tail -n 3 "$work/restart.log")"
    publish_wait pub || pub_status=$?
    wait_rows "$db" "$LEADER_JOBS" || true
    "$CLUSTER" wait-members 3 >/dev/null
    stop_proc worker
    summary "$name" "$db" "$LEADER_JOBS" "$t0" "$pub_status"
    u=$(grep -c '"connected to RabbitMQ"' "$work/worker.log" || true)
    say "$name: the worker connected $u time(s): $(grep -o '"amqp.server":"[^"]*"' "$work/worker.log" | cut -d'"' -f4 | paste -sd' ' -)"
}

scenario_worker_kill() {
    local name=worker-kill db t0 pub_status=0 k
    clear_logs
    new_database "$name"
    t0=$(now)
    env_for "$name" "$db"
    "$SCENARIOS_BIN" migrate >/dev/null
    jobs "$work/$name.jsonl" "$name" "$JOBS"
    start worker-a "$SCENARIOS_BIN" serve --no-http
    start worker-b "$SCENARIOS_BIN" serve --no-http
    wait_consuming worker-a
    wait_consuming worker-b
    publish pub "$work/$name.jsonl"
    for k in 1 2; do
        wait_rows_at_least "$db" $((JOBS * k / 3))
        say "$name: kill -9 of worker a (${procs[worker-a]}) at $(rows "$db") rows"
        kill -KILL "${procs[worker-a]}"
        wait "${procs[worker-a]}" 2>/dev/null || true
        mv "$work/worker-a.log" "$work/worker-a.$k.log"
        start worker-a "$SCENARIOS_BIN" serve --no-http
    done
    publish_wait pub || pub_status=$?
    wait_rows "$db" "$JOBS" || true
    stop_proc worker-a
    stop_proc worker-b
    summary "$name" "$db" "$JOBS" "$t0" "$pub_status"
}

scenario_pg_restart() {
    local name=pg-restart db t0 pub_status=0 t
    clear_logs
    pg_start_own
    db="postgres://postgres@127.0.0.1:$PG_PORT/turnover"
    t0=$(now)
    env_for "$name" "$db"
    "$SCENARIOS_BIN" migrate >/dev/null
    jobs "$work/$name.jsonl" "$name" "$JOBS"
    start worker "$SCENARIOS_BIN" serve --no-http
    wait_consuming worker
    publish pub "$work/$name.jsonl"
    wait_rows_at_least "$db" $((JOBS / 4))
    say "$name: restarting Postgres on $PG_PORT (at $(rows "$db") rows)"
    t=$(now)
    as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -w -m fast restart >>"$pg_dir/ctl.log" 2>&1 ||
        die "pg_ctl restart failed: $(tail -n 3 "$pg_dir/server.log")"
    say "$name: Postgres back after $(($(now) - t))s"
    publish_wait pub || pub_status=$?
    wait_rows "$db" "$JOBS" || true
    stop_proc worker
    summary "$name" "$db" "$JOBS" "$t0" "$pub_status"
    say "$name: worker storage retries logged: $(grep -c 'cannot store the batch; retrying' "$work/worker.log" || true)"
    as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -w -m fast stop >/dev/null
    rm -rf "$pg_dir"
    pg_dir=""
}

scenario_rolling() {
    local name=rolling db t0 pub_status=0
    clear_logs
    new_database "$name"
    t0=$(now)
    env_for "$name" "$db"
    "$SCENARIOS_BIN" migrate >/dev/null
    jobs "$work/$name.jsonl" "$name" "$ROLLING_JOBS"
    start worker "$SCENARIOS_BIN" serve --no-http
    wait_consuming worker
    # Paced so that the load lasts through the three restarts (about a minute, more on a
    # busy machine).
    publish pub "$work/$name.jsonl" --rate "${ROLLING_RATE:-80}"
    wait_rows_at_least "$db" 1
    say "$name: rolling restart under load"
    "$CLUSTER" rolling-restart >"$work/rolling.log" 2>&1 || die "rolling restart failed: $(tail -n 3 "$work/rolling.log")"
    say "$name: $(tail -n 1 "$work/rolling.log" | sed 's/^rabbitmq-cluster: //') at $(rows "$db") rows"
    publish_wait pub || pub_status=$?
    wait_rows "$db" "$ROLLING_JOBS" || true
    stop_proc worker
    summary "$name" "$db" "$ROLLING_JOBS" "$t0" "$pub_status"
}

# --- main ---------------------------------------------------------------------------------------
scenarios=("$@")
[ "${#scenarios[@]}" != 0 ] || scenarios=(leader-loss worker-kill pg-restart rolling)
for s in "${scenarios[@]}"; do
    case "$s" in
    leader-loss | worker-kill | pg-restart | rolling) ;;
    *) die "unknown scenario '$s' (leader-loss, worker-kill, pg-restart, rolling)" ;;
    esac
done

t_all=$(now)
if ! "$CLUSTER" status >/dev/null 2>&1; then
    cluster_started=1
    "$CLUSTER" start >"$work/cluster.log" 2>&1 || die "the cluster did not start: $(tail -n 5 "$work/cluster.log")"
fi
urls=$("$CLUSTER" urls)
say "cluster up in $(($(now) - t_all))s; binary $SCENARIOS_BIN"

for s in "${scenarios[@]}"; do
    "scenario_${s//-/_}"
done
say "all done in $(($(now) - t_all))s"
exit "$failed"
