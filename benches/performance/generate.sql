-- Generated rows for run.sh: :predictions scores of :employees employees over the last 30
-- days (each employee scored about 20 times), the first 60% by `xgb-bench-old` with every
-- tenth request also scored by `xgb-bench-new` in shadow, the rest by `xgb-bench-new`; and
-- :outcomes outcomes observed 3 days ago, so each version has judged and unjudged employees.
-- Leavers (one employee in six) get higher probabilities. Triggers are off while loading (as
-- for a restore), so the summary starts stale and the first refresh is a full one.
SET session_replication_role = replica;
SET synchronous_commit = off;

-- A deterministic draw in [0, 1) from an integer.
CREATE FUNCTION pg_temp.draw(i bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$ SELECT ((i * 2654435761) % 4294967296) / 4294967296.0 $$;

INSERT INTO predictions (request_id, employee_id, source, model_version, prediction,
                         probability, risk_level, input, scored_at, genre, statut_marital,
                         age_band)
SELECT 'gen-' || i, e, 'queue',
       CASE WHEN i <= :predictions * 0.6 THEN 'xgb-bench-old' ELSE 'xgb-bench-new' END,
       (p >= 0.5)::int, p,
       CASE WHEN p < 0.3 THEN 'Low' WHEN p < 0.6 THEN 'Medium' ELSE 'High' END,
       jsonb_build_object('age', 20 + e % 45, 'genre', CASE WHEN e % 3 = 0 THEN 'F' ELSE 'M' END,
                          'revenu_mensuel', 1000 + e % 19000, 'satisfaction_employee_environnement', e % 4 + 1),
       now() - interval '30 days' + (i * (interval '30 days' / :predictions)),
       CASE WHEN e % 3 = 0 THEN 'F' ELSE 'M' END,
       (ARRAY['Célibataire', 'Marié(e)', 'Divorcé(e)'])[e % 3 + 1],
       turnover_age_band(20 + e % 45)
  FROM generate_series(1, :predictions) AS i,
       LATERAL (SELECT (pg_temp.draw(i) * :employees)::bigint AS e) AS who,
       LATERAL (SELECT least(0.999, 0.7 * pg_temp.draw(i + 7)
                        + CASE WHEN pg_temp.draw(e + 13) < 1.0 / 6 THEN 0.3 ELSE 0 END) AS p) AS score;

INSERT INTO shadow_predictions (request_id, model_version, probability, prediction, risk_level,
                                scored_at)
SELECT request_id, 'xgb-bench-new', least(0.999, probability * 0.9 + 0.05),
       (probability * 0.9 + 0.05 >= 0.5)::int, risk_level, scored_at
  FROM predictions
 WHERE model_version = 'xgb-bench-old' AND right(request_id, 1) = '0';

INSERT INTO outcomes (employee_id, "left", observed_at, source)
SELECT k * (:employees / :outcomes), pg_temp.draw(k * (:employees / :outcomes) + 13) < 1.0 / 6,
       now() - interval '3 days', 'generated'
  FROM generate_series(0, :outcomes - 1) AS k;

RESET session_replication_role;
ANALYZE predictions;
ANALYZE shadow_predictions;
ANALYZE outcomes;
