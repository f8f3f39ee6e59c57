#!/usr/bin/env bash
# POST /predict under wrk, an independent load generator (docs/performance.md).
#
#   benches/wrk/run.sh [RUNS] [SECONDS] [CONNECTIONS...]     defaults: 3 10 1 4 32
#
# Starts the release `turnover serve` on a spare port with its own database and queue names
# (any TURNOVER_* variable set by the caller still applies, e.g. TURNOVER_WORKER__BATCH_WAIT_MS),
# warms it up for 5 s, then runs wrk RUNS times for SECONDS at each number of connections and
# prints one line per run and the medians. At the end it checks that every 200 wrk counted is a
# committed `predictions` row, and prints the service's peak RSS (VmHWM).
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=${1:-3}
seconds=${2:-10}
shift $(( $# > 2 ? 2 : $# )) || true
levels=("$@")
[ ${#levels[@]} -gt 0 ] || levels=(1 4 32)

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
bin=target/release/turnover
[ -x "$bin" ] || { echo "build it first: cargo build --release --all-targets" >&2; exit 1; }

port=${WRK_PORT:-18181}
id="wrk_$$"
db="turnover_$id"
log="target/bench/$id.log"
mkdir -p target/bench
psql() { command psql -h 127.0.0.1 -U postgres -Atq "$@"; }
export TURNOVER_HTTP__ADDR="127.0.0.1:$port"
export TURNOVER_POSTGRES__URL="${TURNOVER_POSTGRES__URL:-postgres://postgres@127.0.0.1:5432/$db}"
export TURNOVER_AMQP__EXCHANGE="$id" TURNOVER_AMQP__QUEUE="$id.requests" TURNOVER_AMQP__RPC_QUEUE="$id.rpc"
export TURNOVER_AMQP__DEAD_LETTER_EXCHANGE="$id.dlx" TURNOVER_AMQP__DEAD_LETTER_QUEUE="$id.dead"
export TURNOVER_LOG__FORMAT=json

"$bin" serve >"$log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for q in "$id.requests" "$id.rpc" "$id.dead"; do
        rabbitmqctl -q delete_queue "$q" >/dev/null 2>&1 || true
    done
    psql -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT

for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
    sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/ready" >/dev/null || { echo "not ready; log: $log" >&2; exit 1; }

url="http://127.0.0.1:$port/predict"
script=benches/wrk/predict.lua
WRK_TAG=warm wrk -t2 -c8 -d5s -s "$script" "$url" >/dev/null   # warm-up: connections, caches, plans

ok_total=0
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for c in "${levels[@]}"; do
    t=$(( c < 2 ? 1 : 2 ))
    rps=() p50=() p99=()
    for r in $(seq 1 "$runs"); do
        line=$(WRK_TAG=run wrk -t"$t" -c"$c" -d"${seconds}s" --latency -s "$script" "$url" | grep '^wrk:')
        echo "c=$c run $r: ${line#wrk: }"
        # wrk: N requests, R req/s, p50 X ms, p99 Y ms, errors E
        read -r n r50 r99 errors < <(echo "$line" | awk '{gsub(",",""); print $2, $7, $10, $13}')
        rps+=("$(echo "$line" | awk '{print $4}')")
        p50+=("$r50") p99+=("$r99")
        ok_total=$(( ok_total + n - errors ))
    done
    printf 'c=%s median of %s: %s req/s, p50 %s ms, p99 %s ms\n' "$c" "$runs" \
        "$(printf '%s\n' "${rps[@]}" | median)" "$(printf '%s\n' "${p50[@]}" | median)" \
        "$(printf '%s\n' "${p99[@]}" | median)"
done

# Every 200 answer is backed by a committed row (the warm-up's ids start with `warm-`).
rows=$(psql -d "$db" -c "SELECT count(*) FROM predictions WHERE request_id LIKE 'run-%'")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "200 answers in the measured runs: $ok_total; their predictions rows: $rows"
echo "serve VmHWM: $(( hwm / 1024 )) MiB; service log: $log"
[ "$rows" -ge "$ok_total" ] || { echo "FAIL: fewer rows than 200 answers" >&2; exit 1; }
