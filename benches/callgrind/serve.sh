#!/bin/bash
# Instructions per unit of work of `turnover serve`, independent of the machine's load
# (docs/performance.md, "One pass per batch").
#
# usage: benches/callgrind/serve.sh BIN OUTDIR MODE [N]
#   MODE queue:   `BIN enqueue --data $TURNOVER_REFERENCE_DATA` (1,470 jobs), until every row is in
#   MODE predict: N sequential POST /predict (default 300)
#   MODE idle:    start, 5 s, stop (subtract it from the others: start-up cancels out)
# Runs `BIN serve` under callgrind with its own database and queue names against the local
# RabbitMQ and Postgres, stops it with SIGTERM, drops its database and prints the total Ir.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${TURNOVER_REFERENCE_DATA:-$ROOT/../shared/data}
BIN=$1; OUT=$2; MODE=$3; N=${4:-300}
ID=cg$RANDOM$RANDOM
PORT=$((20000 + RANDOM % 20000))
mkdir -p "$OUT"
export TURNOVER_AMQP__EXCHANGE=cg.$ID TURNOVER_AMQP__QUEUE=cg.$ID.requests \
  TURNOVER_AMQP__DEAD_LETTER_EXCHANGE=cg.$ID.dlx TURNOVER_AMQP__DEAD_LETTER_QUEUE=cg.$ID.dead \
  TURNOVER_AMQP__RPC_QUEUE=cg.$ID.rpc \
  TURNOVER_POSTGRES__URL=postgres://postgres@127.0.0.1:5432/turnover_$ID \
  TURNOVER_HTTP__ADDR=127.0.0.1:$PORT TURNOVER_MODEL__PATH=$ROOT/models/turnover \
  TURNOVER_LOG__LEVEL=warn TURNOVER_LOG__FORMAT=json
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$MODE.out" "$BIN" serve 2>"$OUT/serve.$MODE.log" &
VPID=$!
# Ready: /ready answers 200 (worker consuming, sidecar linked).
for i in $(seq 1 600); do
  code=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/ready || true)
  [ "$code" = 200 ] && break
  sleep 0.5
done
echo "ready after ~$((i/2)) s" >&2
count() { psql -qAt -h 127.0.0.1 -U postgres -d turnover_$ID -c "select count(*) from predictions"; }
case $MODE in
  queue)
    "$BIN" enqueue --data "$DATA" >/dev/null 2>&1
    for i in $(seq 1 1200); do [ "$(count)" -ge 1470 ] && break; sleep 0.5; done
    echo "rows: $(count)" >&2 ;;
  predict)
    python3 - "$PORT" "$N" <<'PY'
import http.client, json, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
rec = {"nombre_participation_pee": 1, "nb_formations_suivies": 2, "distance_domicile_travail": 7, "niveau_education": 3, "domaine_etude": "Marketing", "ayant_enfants": "Y", "frequence_deplacement": "Occasionnel", "annees_depuis_la_derniere_promotion": 0, "annes_sous_responsable_actuel": 3, "satisfaction_employee_environnement": 2, "note_evaluation_precedente": 3, "niveau_hierarchique_poste": 2, "satisfaction_employee_nature_travail": 2, "satisfaction_employee_equipe": 2, "satisfaction_employee_equilibre_pro_perso": 2, "note_evaluation_actuelle": 3, "heure_supplementaires": "Oui", "augementation_salaire_precedente": "13 %", "age": 41, "genre": "M", "revenu_mensuel": 4850, "statut_marital": "Célibataire", "departement": "Commercial", "poste": "Cadre Commercial", "nombre_experiences_precedentes": 7, "annee_experience_totale": 8, "annees_dans_l_entreprise": 6, "annees_dans_le_poste_actuel": 4}
c = http.client.HTTPConnection("127.0.0.1", port)
ok = 0
for i in range(n):
    r = dict(rec); r["age"] = 30 + i % 30
    c.request("POST", "/predict", json.dumps(r), {"content-type": "application/json"})
    a = c.getresponse(); a.read(); ok += a.status == 200
print(f"{ok} of {n} answered 200", file=sys.stderr)
PY
    ;;
  idle) sleep 5 ;;
esac
kill -TERM $VPID; wait $VPID
psql -q -h 127.0.0.1 -U postgres -d postgres -c "drop database if exists turnover_$ID with (force)" >/dev/null 2>&1
# Its queues too, when this machine's broker is local (rabbitmqctl needs its node's cookie).
for q in requests dead rpc; do rabbitmqctl delete_queue "cg.$ID.$q" >/dev/null 2>&1; done
for x in "cg.$ID" "cg.$ID.dlx"; do
  rabbitmqctl eval "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$x\">>), false, <<\"cleanup\">>)." >/dev/null 2>&1
done
callgrind_annotate "$OUT/callgrind.$MODE.out" 2>/dev/null | grep -m1 "PROGRAM TOTALS"
