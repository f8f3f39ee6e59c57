-- V10: the model judged per group of employees (docs/contract.md#tables, issue 20), and the
-- outcomes `model_performance` used to leave out silently.

-- Each score keeps its employee's groups as plain bands: gender, marital status and an age
-- band (<30, 30-39, 40-49, 50+, as src/fairness.rs draws them). They are columns of their
-- own, not read from `input`, so they survive where the full record is not stored. A row
-- written without them gets them from its `input` (the validated record) by the trigger below;
-- a writer that stores no input sets them itself.
ALTER TABLE predictions
    ADD COLUMN genre          text NULL CHECK (genre IN ('M', 'F')),
    ADD COLUMN statut_marital text NULL CHECK (statut_marital IN ('Célibataire', 'Marié(e)', 'Divorcé(e)')),
    ADD COLUMN age_band       text NULL CHECK (age_band IN ('<30', '30-39', '40-49', '50+'));

CREATE FUNCTION turnover_age_band(age numeric) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN age IS NULL THEN NULL
                WHEN age < 30 THEN '<30'
                WHEN age < 40 THEN '30-39'
                WHEN age < 50 THEN '40-49'
                ELSE '50+' END
$$;

CREATE FUNCTION turnover_prediction_groups() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.input IS NOT NULL AND jsonb_typeof(NEW.input) = 'object' THEN
        -- A row stored without its full input (storage.store_inputs = false) carries its
        -- groups, already banded, under _groups.
        NEW.genre := coalesce(NEW.genre, NEW.input ->> 'genre', NEW.input #>> '{_groups,genre}');
        NEW.statut_marital := coalesce(NEW.statut_marital, NEW.input ->> 'statut_marital',
                                       NEW.input #>> '{_groups,statut_marital}');
        IF NEW.age_band IS NULL AND jsonb_typeof(NEW.input -> 'age') = 'number' THEN
            NEW.age_band := turnover_age_band((NEW.input ->> 'age')::numeric);
        END IF;
        NEW.age_band := coalesce(NEW.age_band, NEW.input #>> '{_groups,age_band}');
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER predictions_groups
    BEFORE INSERT ON predictions
    FOR EACH ROW EXECUTE FUNCTION turnover_prediction_groups();

UPDATE predictions
   SET genre = input ->> 'genre',
       statut_marital = input ->> 'statut_marital',
       age_band = turnover_age_band((input ->> 'age')::numeric)
 WHERE jsonb_typeof(input) = 'object' AND jsonb_typeof(input -> 'age') = 'number';

-- The judged rows of `model_performance` (V5), one per (role, version, employee): the latest
-- score of that employee by that version made strictly before the outcome, with the row's
-- groups, and whether the employee was one of the version's training employees (the salted
-- hashes of its manifest's `training_employees`; NULL when the manifest has none).
CREATE VIEW model_judged AS
WITH scored AS (
    SELECT 'live'::text AS role, p.model_version, p.employee_id, p.request_id,
           p.probability, p.prediction, p.scored_at, p.genre, p.statut_marital, p.age_band
      FROM predictions p
     WHERE p.employee_id IS NOT NULL
    UNION ALL
    SELECT 'shadow'::text, s.model_version, p.employee_id, s.request_id,
           s.probability, s.prediction, s.scored_at, p.genre, p.statut_marital, p.age_band
      FROM shadow_predictions s
      JOIN predictions p ON p.request_id = s.request_id
     WHERE p.employee_id IS NOT NULL
),
judged AS (
    SELECT DISTINCT ON (sc.role, sc.model_version, sc.employee_id)
           sc.role, sc.model_version, sc.employee_id, sc.probability, sc.prediction,
           sc.genre, sc.statut_marital, sc.age_band, o."left" AS actual
      FROM scored sc
      JOIN outcomes o ON o.employee_id = sc.employee_id AND sc.scored_at < o.observed_at
     ORDER BY sc.role, sc.model_version, sc.employee_id, sc.scored_at DESC, sc.request_id DESC
)
SELECT j.*,
       CASE WHEN mv.manifest -> 'training_employees' IS NULL THEN NULL
            ELSE (mv.manifest -> 'training_employees' -> 'hashes') ? left(encode(sha256(convert_to(
                     (mv.manifest -> 'training_employees' ->> 'salt') || ':' || j.employee_id,
                     'UTF8')), 'hex'), 16)
       END AS seen_in_training
  FROM judged j
  LEFT JOIN model_versions mv ON mv.version = j.model_version;

-- Per (role, version, attribute, group value): the judged rows of that group. selection_rate
-- = share predicted to leave; tpr = TP / leavers, fpr = FP / stayers, precision = TP / (TP +
-- FP), each NULL when its denominator is 0. Rows without the group (scored before V10 from an
-- input without it) are left out of that attribute.
CREATE VIEW model_performance_by_group AS
WITH grouped AS (
    SELECT role, model_version, 'genre'::text AS attribute, genre AS group_value, actual, prediction
      FROM model_judged WHERE genre IS NOT NULL
    UNION ALL
    SELECT role, model_version, 'statut_marital', statut_marital, actual, prediction
      FROM model_judged WHERE statut_marital IS NOT NULL
    UNION ALL
    SELECT role, model_version, 'age_band', age_band, actual, prediction
      FROM model_judged WHERE age_band IS NOT NULL
),
counted AS (
    SELECT role, model_version, attribute, group_value,
           count(*)                                              AS n,
           count(*) FILTER (WHERE actual)                        AS leavers,
           count(*) FILTER (WHERE prediction = 1)                AS flagged,
           count(*) FILTER (WHERE actual AND prediction = 1)     AS tp,
           count(*) FILTER (WHERE NOT actual AND prediction = 1) AS fp
      FROM grouped
     GROUP BY role, model_version, attribute, group_value
)
SELECT role, model_version, attribute, group_value,
       n                                              AS count,
       leavers,
       flagged::double precision / n                  AS selection_rate,
       tp::double precision / nullif(leavers, 0)      AS tpr,
       fp::double precision / nullif(n - leavers, 0)  AS fpr,
       tp::double precision / nullif(tp + fp, 0)      AS precision
  FROM counted;

-- Per (role, version): the employees with an outcome that this version scored, but only at or
-- after the outcome's date, so `model_performance` cannot judge them (an outcome dated before
-- any score, like a back-dated load).
CREATE VIEW model_performance_unjudged AS
WITH scored AS (
    SELECT 'live'::text AS role, p.model_version, p.employee_id, p.scored_at
      FROM predictions p WHERE p.employee_id IS NOT NULL
    UNION ALL
    SELECT 'shadow'::text, s.model_version, p.employee_id, s.scored_at
      FROM shadow_predictions s JOIN predictions p ON p.request_id = s.request_id
     WHERE p.employee_id IS NOT NULL
)
SELECT sc.role, sc.model_version, count(DISTINCT sc.employee_id) AS unjudged
  FROM scored sc
  JOIN outcomes o ON o.employee_id = sc.employee_id
 WHERE NOT EXISTS (
       SELECT 1 FROM scored b
        WHERE b.role = sc.role AND b.model_version = sc.model_version
          AND b.employee_id = sc.employee_id AND b.scored_at < o.observed_at)
 GROUP BY sc.role, sc.model_version;

-- Per (role, version), the judged employees never seen in training apart (a model scores its
-- own training rows better than new ones): their count, leavers, precision, recall and F1,
-- NULL when the version's manifest has no training hashes or a denominator is 0.
CREATE VIEW model_performance_unseen AS
WITH counted AS (
    SELECT role, model_version,
           count(*)                                              AS n,
           count(*) FILTER (WHERE actual)                        AS leavers,
           count(*) FILTER (WHERE actual AND prediction = 1)     AS tp,
           count(*) FILTER (WHERE NOT actual AND prediction = 1) AS fp,
           count(*) FILTER (WHERE actual AND prediction = 0)     AS fn
      FROM model_judged
     WHERE seen_in_training = false
     GROUP BY role, model_version
)
SELECT role, model_version, n AS count, leavers,
       tp::double precision / nullif(tp + fp, 0)               AS precision,
       tp::double precision / nullif(tp + fn, 0)               AS recall,
       2.0 * tp::double precision / nullif(2 * tp + fp + fn, 0) AS f1
  FROM counted;
