# Sourced by tests/cluster/scenarios.sh and tests/postgres/failover.sh: what both do to run
# the real `turnover` binary under failure and count what became of every job. The sourcing
# script sets HARNESS (the prefix of its messages) and `work` (the folder of the processes'
# logs) first, and runs from the repository root.

say() { echo "$HARNESS: $*"; }
die() {
    echo "$HARNESS: error: $*" >&2
    exit 1
}
now() { date +%s; }

# Processes started here (workers, publishers), killed at exit whatever happens.
declare -A procs=()

# kill_procs: kill -9 of every process still running (at exit).
kill_procs() {
    local pid
    for pid in "${procs[@]}"; do
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
}

# show_logs WHAT: the last lines of each log of the last WHAT (at a failed exit).
show_logs() {
    local f
    [ -d "$work" ] || return 0
    echo "$HARNESS: logs of the last $1:" >&2
    for f in "$work"/*.log; do
        [ -f "$f" ] || continue
        echo "--- $f (last 15 lines)" >&2
        tail -n 15 "$f" >&2
    done
}

# binary PATH: PATH when given, else the release build (built now); checks it and psql.
binary() {
    local bin=$1
    if [ -z "$bin" ]; then
        cargo build --release --quiet
        bin="${CARGO_TARGET_DIR:-target}/release/turnover"
    fi
    [ -x "$bin" ] || die "no executable at $bin"
    command -v psql >/dev/null || die "psql is needed"
    echo "$bin"
}

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

# turnover_env PREFIX AMQP_URLS PGURL: the environment of every turnover process of a run, its
# exchanges and queues named after PREFIX.
turnover_env() {
    local q=$1
    export TURNOVER_AMQP__URL="$2"
    export TURNOVER_AMQP__EXCHANGE="$q"
    export TURNOVER_AMQP__QUEUE="$q.requests"
    export TURNOVER_AMQP__DEAD_LETTER_EXCHANGE="$q.dlx"
    export TURNOVER_AMQP__DEAD_LETTER_QUEUE="$q.dead"
    export TURNOVER_AMQP__RPC_QUEUE="$q.rpc"
    export TURNOVER_POSTGRES__URL="$3"
    export TURNOVER_LOG__FORMAT=json
    unset TURNOVER_AMQP__URL_FILE TURNOVER_POSTGRES__URL_FILE
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
# wait_consuming TAG: until the worker says it consumes.
wait_consuming() {
    local deadline=$(($(now) + 60))
    until grep -q '"consuming"' "$work/$1.log" 2>/dev/null; do
        kill -0 "${procs[$1]}" 2>/dev/null || die "$1 exited: $(tail -n 5 "$work/$1.log")"
        [ "$(now)" -lt "$deadline" ] || die "$1 is not consuming after 60 s"
        sleep 0.2
    done
}
sql() { psql "$1" -XAtqc "$2"; }
rows() { sql "$1" "SELECT count(*) FROM predictions"; }
# wait_rows_at_least PGURL N: until N rows exist (the moment to break something).
wait_rows_at_least() {
    local deadline=$(($(now) + STALL_S))
    until [ "$(rows "$1" 2>/dev/null || echo 0)" -ge "$2" ]; do
        if [ "$(now)" -ge "$deadline" ]; then
            say "fewer than $2 rows after ${STALL_S}s; going on (the summary will tell)"
            return 0
        fi
        sleep 0.2
    done
}
# publish_wait TAG: the publisher's exit status, and its tally line (into $tally). One that
# runs longer than PUBLISH_TIMEOUT_S is killed: it fails the run, not the script.
publish_wait() {
    local status=0 pid=${procs[$1]} deadline=$(($(now) + PUBLISH_TIMEOUT_S))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(now)" -ge "$deadline" ]; then
            say "$1 still running after ${PUBLISH_TIMEOUT_S}s; killed"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.5
    done
    wait "$pid" || status=$?
    unset "procs[$1]"
    tally=$(grep -E '^[0-9]+ published:' "$work/$1.log" || true)
    [ "$status" = 0 ] || say "$1 exited with $status: $(tail -n 3 "$work/$1.log" | tr '\n' ' ')"
    return "$status"
}
