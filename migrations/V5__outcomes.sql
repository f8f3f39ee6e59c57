-- V5: who actually left, and how well each model version predicted it
-- (docs/contract.md#tables, issue 13).

-- The latest known outcome of each employee: one row per employee, so loading the same file
-- again changes nothing, and a later observation (a leaver who had been seen staying) replaces
-- the earlier one. `left` is quoted everywhere: LEFT is an SQL keyword. `recorded_at` is when
-- the row was last written, for operators; the view does not read it.
CREATE TABLE outcomes (
    employee_id bigint      PRIMARY KEY CHECK (employee_id >= 0),
    "left"      boolean     NOT NULL,
    observed_at timestamptz NOT NULL,
    source      text        NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Per model version and role (`live`: the rows of `predictions`; `shadow`: the rows of
-- `shadow_predictions`, whose employee is the live row's of the same request), the scores
-- judged against outcomes. Which score counts: for each employee with an outcome and each
-- (role, version), the latest score of that employee by that version made strictly before the
-- outcome's `observed_at` (ties on `scored_at` broken by the larger `request_id`). Scores of
-- requests without an `employee_id`, and scores made at or after the observation, are left
-- out. A leaver (`left` true) is the positive class; `prediction` 1 predicts leaving.
--
-- precision = TP / (TP + FP), recall = TP / (TP + FN), NULL when their denominator is 0;
-- f1 = 2 TP / (2 TP + FP + FN), NULL when no employee left and none was predicted to;
-- roc_auc = the Mann-Whitney statistic on `probability`, with tied probabilities given their
-- average rank (a tie between a leaver and a stayer counts one half), NULL unless the version
-- has both leavers and stayers.
CREATE VIEW model_performance AS
WITH scored AS (
    SELECT 'live'::text AS role, p.model_version, p.employee_id, p.request_id,
           p.probability, p.prediction, p.scored_at
      FROM predictions p
     WHERE p.employee_id IS NOT NULL
    UNION ALL
    SELECT 'shadow'::text, s.model_version, p.employee_id, s.request_id,
           s.probability, s.prediction, s.scored_at
      FROM shadow_predictions s
      JOIN predictions p ON p.request_id = s.request_id
     WHERE p.employee_id IS NOT NULL
),
judged AS (
    SELECT DISTINCT ON (sc.role, sc.model_version, sc.employee_id)
           sc.role, sc.model_version, sc.employee_id, sc.probability, sc.prediction,
           o."left" AS actual
      FROM scored sc
      JOIN outcomes o ON o.employee_id = sc.employee_id AND sc.scored_at < o.observed_at
     ORDER BY sc.role, sc.model_version, sc.employee_id, sc.scored_at DESC, sc.request_id DESC
),
ranked AS (
    SELECT j.*,
           rank() OVER (PARTITION BY j.role, j.model_version ORDER BY j.probability)
             + (count(*) OVER (PARTITION BY j.role, j.model_version, j.probability) - 1) / 2.0
             AS probability_rank
      FROM judged j
),
counted AS (
    SELECT role, model_version,
           count(*)                                                 AS n,
           count(*) FILTER (WHERE actual)                           AS leavers,
           count(*) FILTER (WHERE actual AND prediction = 1)        AS tp,
           count(*) FILTER (WHERE NOT actual AND prediction = 1)    AS fp,
           count(*) FILTER (WHERE actual AND prediction = 0)        AS fn,
           count(*) FILTER (WHERE NOT actual AND prediction = 0)    AS tn,
           sum(probability_rank) FILTER (WHERE actual)              AS leaver_rank_sum
      FROM ranked
     GROUP BY role, model_version
)
SELECT role,
       model_version,
       n       AS count,
       leavers,
       tp      AS true_positives,
       fp      AS false_positives,
       fn      AS false_negatives,
       tn      AS true_negatives,
       tp::double precision / nullif(tp + fp, 0)         AS precision,
       tp::double precision / nullif(tp + fn, 0)         AS recall,
       2.0 * tp::double precision / nullif(2 * tp + fp + fn, 0) AS f1,
       ((leaver_rank_sum - leavers * (leavers + 1) / 2.0)
          / nullif(leavers * (n - leavers), 0))::double precision AS roc_auc
  FROM counted;
