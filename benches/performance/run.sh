#!/usr/bin/env bash
# The live-performance views on generated rows (docs/performance.md#live-model-performance).
#
#   benches/performance/run.sh PREDICTIONS OUTCOMES UPTO [RUNS]
#
# Creates the database `perfbench_v${UPTO}_${PREDICTIONS}` (dropped first if it exists),
# applies migrations/V1..V${UPTO} with psql, generates the rows with generate_series
# (generate.sql), then times, RUNS times each (default 3), in milliseconds:
#   answer       SELECT * FROM model_performance (the summary refreshed, nothing marked)
#   full         the first full refresh (performance_refresh_summary() after marking it stale)
#   incremental  a batch of new rows (one minute at 700 scores/s: 42,000 scores, 4,200 shadow
#                scores and 100 new or changed outcomes) then the refresh that follows
#   answer_dirty model_performance right after such a batch, before the refresh
# With UPTO < 12 only `answer` exists: the view judged every score on each read.
# Prints one line per run and the medians. Needs psql and a Postgres at PGHOST (default
# 127.0.0.1, user postgres). The database is left for inspection; drop it when done.
set -euo pipefail

predictions=${1:?number of predictions}
outcomes=${2:?number of outcomes}
upto=${3:?last migration to apply}
runs=${4:-3}
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
here=$(cd "$(dirname "$0")" && pwd)
migrations="$here/../../migrations"
db="perfbench_v${upto}_${predictions}"

dropdb --if-exists "$db"
createdb "$db"
for file in $(ls "$migrations"/V*.sql | sort -t V -k2 -n); do
    version=$(basename "$file" | sed -E 's/^V([0-9]+)__.*/\1/')
    [ "$version" -le "$upto" ] || continue
    psql -q -X -v ON_ERROR_STOP=1 -d "$db" -f "$file" >/dev/null
done

# Employees: one per 20 scores (each scored 20 times over the period), at least 5 per outcome.
employees=$(( predictions / 20 > outcomes * 5 ? predictions / 20 : outcomes * 5 ))
started=$(date +%s)
psql -q -X -v ON_ERROR_STOP=1 -d "$db" -v predictions="$predictions" -v outcomes="$outcomes" \
    -v employees="$employees" -f "$here/generate.sql"
echo "generated $predictions predictions of $employees employees, $outcomes outcomes in $(( $(date +%s) - started )) s"

# Milliseconds of one statement, as psql's \timing reports it.
timed() {
    psql -X -v ON_ERROR_STOP=1 -d "$db" -c '\timing on' -c "$1" -o /dev/null \
        | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | tail -1
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
report() { # name, values...
    local name=$1; shift
    echo "$name runs: $* median: $(printf '%s\n' "$@" | median) ms"
}

has_summary=$(psql -X -At -d "$db" -c "SELECT to_regclass('performance_judged') IS NOT NULL")
if [ "$has_summary" = t ]; then
    full=()
    for _ in $(seq "$runs"); do
        psql -q -X -d "$db" -c "UPDATE performance_refresh SET full_needed = true"
        full+=("$(timed 'SELECT * FROM performance_refresh_summary()')")
    done
    report full "${full[@]}"
fi

answer=()
for _ in $(seq "$runs"); do
    answer+=("$(timed 'SELECT * FROM model_performance')")
done
report answer "${answer[@]}"

if [ "$has_summary" = t ]; then
    dirty=() incremental=()
    for run in $(seq "$runs"); do
        psql -q -X -v ON_ERROR_STOP=1 -d "$db" -v run="$run" -v employees="$employees" \
            -f "$here/batch.sql"
        dirty+=("$(timed 'SELECT * FROM model_performance')")
        incremental+=("$(timed 'SELECT * FROM performance_refresh_summary()')")
    done
    report answer_dirty "${dirty[@]}"
    report incremental "${incremental[@]}"
fi
psql -X -d "$db" -c "SELECT role, model_version, count, leavers, round(f1::numeric, 4) AS f1, round(roc_auc::numeric, 4) AS roc_auc FROM model_performance ORDER BY 1, 2"
