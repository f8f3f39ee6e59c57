#!/usr/bin/env bash
# A Postgres primary failover under load (docs/reliability.md#postgres-primary-failover), with
# the real `turnover` binary against the primary/standby pair of cluster.sh and the machine's
# RabbitMQ:
#
#   20,000 jobs through `turnover enqueue`; while one `turnover serve --no-http` consumes them,
#   kill -9 of the primary (cluster.sh kill-primary) and promotion of the standby; the worker,
#   given the pair's multi-host URL with target_session_attrs=read-write, moves to the new
#   primary by itself.
#
# It runs twice, on a fresh pair each time:
#   sync    synchronous_standby_names = 'b', synchronous_commit = on: every published job ends
#           as exactly one row on the new primary, none dead-lettered
#   async   asynchronous streaming: the jobs acknowledged whose rows never reached the standby
#           are counted as missing; the figure is reported, not judged
#
# Each run prints one line: published=… rows=… missing=… duplicates=… dead=… mode=sync|async,
# and the script exits non-zero when the sync run has a missing, duplicated or dead-lettered job.
#
# Usage: tests/postgres/failover.sh [sync|async ...]   (default: sync async)
#
# Environment (default):
#   FAILOVER_BIN       the binary to test (built with `cargo build --release` when unset)
#   FAILOVER_JOBS      jobs per run (20000)
#   FAILOVER_AMQP_URL  the broker (amqp://guest:guest@127.0.0.1:5672/%2f), read with rabbitmqctl
#   STALL_S            a run that makes no progress for this long has failed (90)
#   SETTLE_S           how long the request queue must show 0 messages to count as drained (6)
#   PUBLISH_TIMEOUT_S  the longest the publisher may run (300)
# and cluster.sh's PG_PAIR_* variables (its port 55432 and 55433 by default).
set -euo pipefail
cd "$(dirname "$0")/../.."

PAIR=tests/postgres/cluster.sh
JOBS=${FAILOVER_JOBS:-20000}
AMQP_URL=${FAILOVER_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
STALL_S=${STALL_S:-90}
SETTLE_S=${SETTLE_S:-6}
# The longest the publisher may run, whatever happens.
PUBLISH_TIMEOUT_S=${PUBLISH_TIMEOUT_S:-300}
export PG_PAIR_DIR=${PG_PAIR_DIR:-/tmp/turnover-pg-failover.$$}

HARNESS=failover
work=$(mktemp -d /tmp/turnover-failover.XXXXXX)
# shellcheck source=tests/cluster/harness.sh
. tests/cluster/harness.sh
queues=()
failed=0

cleanup() {
    local status=$? q
    set +e
    kill_procs
    "$PAIR" stop >/dev/null 2>&1
    for q in "${queues[@]}"; do
        rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1
    done
    [ "$status" = 0 ] || show_logs run
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the binary ---------------------------------------------------------------------------------
FAILOVER_BIN=$(binary "${FAILOVER_BIN:-}")
command -v rabbitmqctl >/dev/null || die "rabbitmqctl is needed (to count the dead-lettered jobs)"

# --- helpers (and those of harness.sh) ---------------------------------------------------------
# messages QUEUE: ready and unacknowledged messages of a queue of the machine's broker.
messages() {
    rabbitmqctl -q list_queues name messages --no-table-headers 2>/dev/null |
        awk -v q="$1" '$1 == q { print $2; found = 1 } END { if (!found) print "?" }'
}
# wait_drained QUEUE: until the request queue holds nothing (every job acknowledged), failing
# when nothing moves for STALL_S seconds. Rows are not the measure: in the async run some
# acknowledged jobs never become rows. The count `rabbitmqctl list_queues` gives can lag
# behind the queue by the broker's statistics interval (5 s): a run that drains fast showed
# 0 while a few hundred jobs were still unacknowledged. So 0 must hold for SETTLE_S.
wait_drained() {
    local left last=-1 since zero_since=
    since=$(now)
    while :; do
        left=$(messages "$1")
        if [ "$left" = 0 ]; then
            zero_since=${zero_since:-$(now)}
            [ $(($(now) - zero_since)) -lt "$SETTLE_S" ] || return 0
            sleep 0.5
            continue
        fi
        zero_since=
        if [ "$left" != "$last" ]; then
            last=$left
            since=$(now)
        elif [ $(($(now) - since)) -ge "$STALL_S" ]; then
            say "no progress for ${STALL_S}s with $left messages in $1"
            return 1
        fi
        sleep 0.5
    done
}

# --- one run ------------------------------------------------------------------------------------
run() {
    local mode=$1 q t0 pub_status=0 published count distinct dup dead missing verdict=ok
    t0=$(now)
    rm -f "$work"/*.log
    PG_PAIR_SYNC=$([ "$mode" = sync ] && echo 1 || echo 0) "$PAIR" start >"$work/pair.log" 2>&1 ||
        die "the pair did not start: $(tail -n 5 "$work/pair.log")"
    db=$("$PAIR" url turnover)
    q="pgfail.$$.$mode"
    queues+=("$q.requests" "$q.dead" "$q.rpc")
    turnover_env "$q" "$AMQP_URL" "$db"
    export TURNOVER_LOG__LEVEL=info
    "$FAILOVER_BIN" migrate >"$work/migrate.log" 2>&1 || die "migrate failed: $(tail -n 3 "$work/migrate.log")"
    jobs "$work/jobs.jsonl" "$mode" "$JOBS"
    start worker "$FAILOVER_BIN" serve --no-http
    wait_consuming worker
    start pub "$FAILOVER_BIN" enqueue --jsonl "$work/jobs.jsonl"
    wait_rows_at_least "$db" $((JOBS / 4))
    say "$mode: kill -9 of the primary at $(rows "$db" 2>/dev/null) rows, its standby $("$PAIR" lag || echo ?) bytes of WAL behind"
    "$PAIR" kill-primary >>"$work/pair.log" 2>&1 || die "kill-primary failed: $(tail -n 3 "$work/pair.log")"
    "$PAIR" promote >>"$work/pair.log" 2>&1 || die "promote failed: $(tail -n 3 "$work/pair.log")"
    say "$mode: standby promoted $(($(now) - t0))s into the run"
    publish_wait pub || pub_status=$?
    wait_drained "$q.requests" || true
    stop_proc worker
    published=$(echo "$tally" | sed -nE 's/.* ([0-9]+) confirmed.*/\1/p')
    count=$(rows "$db" 2>/dev/null)
    distinct=$(sql "$db" "SELECT count(DISTINCT request_id) FROM predictions")
    # A job once in predictions and once more rejected (a replay refused as a conflict) is a
    # duplicate too; the primary key makes two predictions rows impossible by construction.
    dup=$(($(sql "$db" "SELECT count(*) FROM rejected_messages r JOIN predictions p USING (request_id)") + count - distinct))
    dead=$(messages "$q.dead")
    missing=$(sql "$db" "SELECT count(*) FROM generate_series(1, $JOBS) i WHERE NOT EXISTS (SELECT 1 FROM predictions WHERE request_id = '$mode-' || i)")
    if [ "$mode" = sync ]; then
        if [ "$pub_status" != 0 ] || [ "${published:-0}" != "$JOBS" ] || [ "$missing" != 0 ] ||
            [ "$dup" != 0 ] || [ "$dead" != 0 ]; then
            verdict=FAILED
            failed=1
        fi
    else
        # The window is shown, not judged: how many acknowledged jobs the promoted standby
        # never received depends on its lag at the kill.
        verdict=reported
    fi
    echo "published=${published:-?} rows=$count missing=$missing duplicates=$dup dead=$dead mode=$mode duration=$(($(now) - t0))s $verdict"
    say "$mode: the worker's servers: $(grep '"connected to Postgres"' "$work/worker.log" | grep -o '"postgres.server":"[^"]*"' | cut -d'"' -f4 | paste -sd' ' -); storage retries logged: $(grep -c 'cannot store the batch; retrying' "$work/worker.log" || true)"
    "$PAIR" stop >/dev/null
}

# --- main ---------------------------------------------------------------------------------------
modes=("$@")
[ "${#modes[@]}" != 0 ] || modes=(sync async)
for m in "${modes[@]}"; do
    case "$m" in
    sync | async) ;;
    *) die "unknown mode '$m' (sync, async)" ;;
    esac
done
t_all=$(now)
say "binary $FAILOVER_BIN, $JOBS jobs per run"
for m in "${modes[@]}"; do
    run "$m"
done
say "all done in $(($(now) - t_all))s"
exit "$failed"
