-- wrk script for POST /predict: the made-up example record, a fresh request_id per request
-- (so every 200 is a new row, not an idempotent replay).
-- wrk -t2 -c32 -d20s -s benches/wrk/predict.lua http://127.0.0.1:8080/predict
local record = [[{"nombre_participation_pee":1,"nb_formations_suivies":2,"nombre_employee_sous_responsabilite":1,"distance_domicile_travail":7,"niveau_education":3,"domaine_etude":"Marketing","ayant_enfants":"Y","frequence_deplacement":"Occasionnel","annees_depuis_la_derniere_promotion":0,"annes_sous_responsable_actuel":5,"satisfaction_employee_environnement":2,"note_evaluation_precedente":3,"niveau_hierarchique_poste":2,"satisfaction_employee_nature_travail":4,"satisfaction_employee_equipe":1,"satisfaction_employee_equilibre_pro_perso":1,"note_evaluation_actuelle":3,"heure_supplementaires":"Oui","augementation_salaire_precedente":"13 %","age":41,"genre":"F","revenu_mensuel":4850,"statut_marital":"Célibataire","departement":"Commercial","poste":"Cadre Commercial","nombre_experiences_precedentes":6,"nombre_heures_travailless":80,"annee_experience_totale":8,"annees_dans_l_entreprise":6,"annees_dans_le_poste_actuel":4}]]
-- WRK_TAG prefixes the ids, so benches/wrk/run.sh can count the rows of the measured runs.
local tag = os.getenv("WRK_TAG") or "wrk"
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("id", thread_id)
  thread_id = thread_id + 1
end

function request()
  counter = counter + 1
  local body = '{"request_id":"' .. tag .. '-' .. id .. '-' .. counter .. '-' .. os.time() .. '","employee":' .. record .. '}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

local non200 = 0
function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %.0f req/s, p50 %.2f ms, p99 %.2f ms, errors %d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
