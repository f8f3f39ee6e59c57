-- One minute of traffic for run.sh, triggers on: 42,000 new scores by `xgb-bench-new`, 4,200
-- of them also scored in shadow, and 100 outcomes, some new, some changed (a late outcome for
-- employees scored long ago).
CREATE FUNCTION pg_temp.draw(i bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE AS $$ SELECT ((i * 2654435761) % 4294967296) / 4294967296.0 $$;

INSERT INTO predictions (request_id, employee_id, source, model_version, prediction,
                         probability, risk_level, input, scored_at)
SELECT 'batch-' || :run || '-' || i, e, 'queue', 'xgb-bench-new', (p >= 0.5)::int, p,
       CASE WHEN p < 0.3 THEN 'Low' WHEN p < 0.6 THEN 'Medium' ELSE 'High' END,
       jsonb_build_object('age', 20 + e % 45, 'genre', CASE WHEN e % 3 = 0 THEN 'F' ELSE 'M' END,
                          'revenu_mensuel', 1000 + e % 19000, 'satisfaction_employee_environnement', e % 4 + 1),
       now()
  FROM generate_series(1, 42000) AS i,
       LATERAL (SELECT (pg_temp.draw(i * 31 + :run) * :employees)::bigint AS e) AS who,
       LATERAL (SELECT pg_temp.draw(i + :run) AS p) AS score;

INSERT INTO shadow_predictions (request_id, model_version, probability, prediction, risk_level,
                                scored_at)
SELECT request_id, 'xgb-bench-shadow', probability, prediction, risk_level, scored_at
  FROM predictions
 WHERE request_id LIKE 'batch-' || :run || '-%0';

INSERT INTO outcomes (employee_id, "left", observed_at, source)
SELECT (pg_temp.draw(k * 17 + :run) * :employees)::bigint, k % 6 = 0, now(), 'batch'
  FROM generate_series(1, 100) AS k
ON CONFLICT (employee_id) DO UPDATE SET "left" = EXCLUDED."left", observed_at = EXCLUDED.observed_at;
