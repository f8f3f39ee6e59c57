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
#   PUBLISH_TIMEOUT_S  the longest the publisher may run (300)
# and cluster.sh's PG_PAIR_* variables (its port 55432 and 55433 by default).
set -euo pipefail
cd "$(dirname "$0")/../.."

PAIR=tests/postgres/cluster.sh
JOBS=${FAILOVER_JOBS:-20000}
AMQP_URL=${FAILOVER_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
STALL_S=${STALL_S:-90}
# The longest the publisher may run, whatever happens.
PUBLISH_TIMEOUT_S=${PUBLISH_TIMEOUT_S:-300}
export PG_PAIR_DIR=${PG_PAIR_DIR:-/tmp/turnover-pg-failover.$$}

say() { echo "failover: $*"; }
die() {
    echo "failover: error: $*" >&2
    exit 1
}
now() { date +%s; }

work=$(mktemp -d /tmp/turnover-failover.XXXXXX)
# Processes started here (the worker, the publisher), killed at exit whatever happens.
declare -A procs=()
queues=()
failed=0

cleanup() {
    local status=$? pid q
    set +e
    for pid in "${procs[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    "$PAIR" stop >/dev/null 2>&1
    for q in "${queues[@]}"; do
        rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1
    done
    if [ "$status" != 0 ] && [ -d "$work" ]; then
        echo "failover: logs of the last run:" >&2
        for f in "$work"/*.log; do
            [ -f "$f" ] || continue
            echo "--- $f (last 15 lines)" >&2
            tail -n 15 "$f" >&2
        done
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the binary ---------------------------------------------------------------------------------
if [ -z "${FAILOVER_BIN:-}" ]; then
    cargo build --release --quiet
    FAILOVER_BIN="${CARGO_TARGET_DIR:-target}/release/turnover"
fi
[ -x "$FAILOVER_BIN" ] || die "no executable at FAILOVER_BIN=$FAILOVER_BIN"
command -v psql >/dev/null || die "psql is needed"
command -v rabbitmqctl >/dev/null || die "rabbitmqctl is needed (to count the dead-lettered jobs)"

# --- helpers ------------------------------------------------------------------------------------
# jobs FILE PREFIX N: N envelopes with request_ids PREFIX-1..PREFIX-N and employee_ids 1..N.
record='{"nombre_participation_pee":1,"nb_formations_suivies":2,"nombre_employee_sous_responsabilite":1,"distance_domicile_travail":7,"niveau_education":3,"domaine_etude":"Marketing","ayant_enfants":"Y","frequence_deplacement":"Occasionnel","annees_depuis_la_derniere_promotion":0,"annes_sous_responsable_actuel":5,"satisfaction_employee_environnement":2,"note_evaluation_precedente":3,"niveau_hierarchique_poste":2,"satisfaction_employee_nature_travail":4,"satisfaction_employee_equipe":1,"satisfaction_employee_equilibre_pro_perso":1,"note_evaluation_actuelle":3,"heure_supplementaires":"Oui","augementation_salaire_precedente":"13 %","age":41,"genre":"F","revenu_mensuel":REVENU,"statut_marital":"Célibataire","departement":"Commercial","poste":"Cadre Commercial","nombre_experiences_precedentes":6,"nombre_heures_travailless":80,"annee_experience_totale":8,"annees_dans_l_entreprise":6,"annees_dans_le_poste_actuel":4}'
jobs() {
    awk -v prefix="$2" -v n="$3" -v rec="$record" 'BEGIN {
        for (i = 1; i <= n; i++) {
            r = rec
            sub(/REVENU/, 3000 + i % 4000, r)
            printf "{\"request_id\":\"%s-%d\",\"employee_id\":%d,\"employee\":%s}\n", prefix, i, i, r
        }
    }' >"$1"
}

# start TAG CMD...: run in the background, output to $work/TAG.log.
start() {
    local tag=$1
    shift
    "$@" >"$work/$tag.log" 2>&1 &
    procs[$tag]=$!
}
stop_proc() {
    local pid=${procs[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "procs[$1]"
}
wait_consuming() {
    local deadline=$(($(now) + 60))
    until grep -q '"consuming"' "$work/$1.log" 2>/dev/null; do
        kill -0 "${procs[$1]}" 2>/dev/null || die "$1 exited: $(tail -n 5 "$work/$1.log")"
        [ "$(now)" -lt "$deadline" ] || die "$1 is not consuming after 60 s"
        sleep 0.2
    done
}
sql() { psql "$db" -XAtqc "$1"; }
rows() { sql "SELECT count(*) FROM predictions" 2>/dev/null; }
# messages QUEUE: ready and unacknowledged messages of a queue of the machine's broker.
messages() {
    rabbitmqctl -q list_queues name messages --no-table-headers 2>/dev/null |
        awk -v q="$1" '$1 == q { print $2; found = 1 } END { if (!found) print "?" }'
}
# wait_rows_at_least N: until N rows exist on the primary (the moment to break it).
wait_rows_at_least() {
    local deadline=$(($(now) + STALL_S))
    until [ "$(rows || echo 0)" -ge "$1" ]; do
        if [ "$(now)" -ge "$deadline" ]; then
            say "fewer than $1 rows after ${STALL_S}s; going on (the summary will tell)"
            return 0
        fi
        sleep 0.2
    done
}
# publish_wait: the publisher's exit status; one that hangs fails the run, not the script.
publish_wait() {
    local status=0 pid=${procs[pub]} deadline=$(($(now) + PUBLISH_TIMEOUT_S))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(now)" -ge "$deadline" ]; then
            say "the publisher still runs after ${PUBLISH_TIMEOUT_S}s; killed"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.5
    done
    wait "$pid" || status=$?
    unset "procs[pub]"
    [ "$status" = 0 ] || say "the publisher exited with $status: $(tail -n 3 "$work/pub.log" | tr '\n' ' ')"
    return "$status"
}
# wait_drained QUEUE: until the request queue holds nothing (every job acknowledged), failing
# when nothing moves for STALL_S seconds. Rows are not the measure: in the async run some
# acknowledged jobs never become rows.
wait_drained() {
    local left last=-1 since
    since=$(now)
    while :; do
        left=$(messages "$1")
        [ "$left" != 0 ] || return 0
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
    export TURNOVER_AMQP__URL="$AMQP_URL"
    export TURNOVER_AMQP__EXCHANGE="$q"
    export TURNOVER_AMQP__QUEUE="$q.requests"
    export TURNOVER_AMQP__DEAD_LETTER_EXCHANGE="$q.dlx"
    export TURNOVER_AMQP__DEAD_LETTER_QUEUE="$q.dead"
    export TURNOVER_AMQP__RPC_QUEUE="$q.rpc"
    export TURNOVER_POSTGRES__URL="$db"
    export TURNOVER_LOG__FORMAT=json
    export TURNOVER_LOG__LEVEL=info
    unset TURNOVER_AMQP__URL_FILE TURNOVER_POSTGRES__URL_FILE
    "$FAILOVER_BIN" migrate >"$work/migrate.log" 2>&1 || die "migrate failed: $(tail -n 3 "$work/migrate.log")"
    jobs "$work/jobs.jsonl" "$mode" "$JOBS"
    start worker "$FAILOVER_BIN" serve --no-http
    wait_consuming worker
    start pub "$FAILOVER_BIN" enqueue --jsonl "$work/jobs.jsonl"
    wait_rows_at_least $((JOBS / 4))
    say "$mode: kill -9 of the primary at $(rows) rows, its standby $("$PAIR" lag || echo ?) bytes of WAL behind"
    "$PAIR" kill-primary >>"$work/pair.log" 2>&1 || die "kill-primary failed: $(tail -n 3 "$work/pair.log")"
    "$PAIR" promote >>"$work/pair.log" 2>&1 || die "promote failed: $(tail -n 3 "$work/pair.log")"
    say "$mode: standby promoted $(($(now) - t0))s into the run"
    publish_wait || pub_status=$?
    wait_drained "$q.requests" || true
    stop_proc worker
    published=$(grep -E '^[0-9]+ published:' "$work/pub.log" | sed -nE 's/.* ([0-9]+) confirmed.*/\1/p')
    count=$(rows)
    distinct=$(sql "SELECT count(DISTINCT request_id) FROM predictions")
    # A job once in predictions and once more rejected (a replay refused as a conflict) is a
    # duplicate too; the primary key makes two predictions rows impossible by construction.
    dup=$(($(sql "SELECT count(*) FROM rejected_messages r JOIN predictions p USING (request_id)") + count - distinct))
    dead=$(messages "$q.dead")
    missing=$(sql "SELECT count(*) FROM generate_series(1, $JOBS) i WHERE NOT EXISTS (SELECT 1 FROM predictions WHERE request_id = '$mode-' || i)")
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
