-- V12: live model performance from a summary kept up to date incrementally (issue 19,
-- docs/contract.md#tables), instead of judging every score on every read.
--
-- `performance_judged` holds, for each employee with an outcome and each (role, version) that
-- scored them, the one score `model_performance` judges (V5's rule: the latest score strictly
-- before the outcome's `observed_at`, ties broken by the larger `request_id`), or, when that
-- version scored them only at or after the outcome, an unjudged row (`judged` false). It is
-- rebuilt per employee by `turnover`'s refresh (one process at a time, under an advisory lock,
-- every `metrics.performance_refresh_secs`): reading it costs the number of judged employees,
-- not the number of scores.
--
-- What changed since the last refresh is known by employee, not by time: statement triggers on
-- `predictions`, `shadow_predictions` and `outcomes` add the employee ids a statement touched
-- (insert, update or delete) to `performance_dirty`, in the writer's own transaction. A
-- watermark on `scored_at` would miss a transaction that commits after a refresh with earlier
-- times, and a late outcome for an old score touches no new score at all; a mark committed with
-- the row it marks is missed by nobody. A delete (retention, erasure) also removes the summary
-- rows of its employees at once, so an erased employee leaves the summary in the same
-- transaction. TRUNCATE marks the whole summary stale.
--
-- The views are exact at every moment, refreshed or not: they read the summary for clean
-- employees and judge the dirty ones (or everyone, while `performance_refresh.full_needed`)
-- from the tables, with the same function the refresh uses.

CREATE TABLE performance_judged (
    role           text             NOT NULL CHECK (role IN ('live', 'shadow')),
    model_version  text             NOT NULL,
    employee_id    bigint           NOT NULL,
    judged         boolean          NOT NULL,
    request_id     text             NOT NULL,
    probability    double precision NOT NULL,
    prediction     smallint         NOT NULL,
    scored_at      timestamptz      NOT NULL,
    genre          text             NULL,
    statut_marital text             NULL,
    age_band       text             NULL,
    actual         boolean          NOT NULL,
    PRIMARY KEY (employee_id, role, model_version)
);

-- Employee ids touched since the last refresh; duplicates allowed (no index, no conflict
-- between concurrent writers: an append per statement).
CREATE TABLE performance_dirty (
    employee_id bigint NOT NULL
);

-- One row: when the summary was last refreshed, and whether it must be rebuilt whole (after
-- this migration, and after a TRUNCATE of a table it is built from).
CREATE TABLE performance_refresh (
    id           boolean     PRIMARY KEY DEFAULT true CHECK (id),
    full_needed  boolean     NOT NULL,
    refreshed_at timestamptz NULL
);
INSERT INTO performance_refresh (full_needed) VALUES (true);

-- The judging rule, for the employees `ids` (or every employee with an outcome when
-- `everyone`): one row per (role, version, employee). Used by the refresh and by the views.
CREATE FUNCTION performance_judge(ids bigint[], everyone boolean)
RETURNS TABLE (role text, model_version text, employee_id bigint, judged boolean,
               request_id text, probability double precision, prediction smallint,
               scored_at timestamptz, genre text, statut_marital text, age_band text,
               actual boolean)
-- SECURITY DEFINER: the views call it, and a view's reader (the dashboards' role) may read
-- the views but not the tables. No JIT: its plan is generic (the ids are parameters), its
-- estimate is that of every outcome's scores, and compiling that plan costs half a second
-- when the work itself takes milliseconds.
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public SET jit = off AS $$
-- Each employee's scores are read through `predictions (employee_id)` (a LATERAL per
-- outcome), whatever the planner guesses of the ids: the cost is the scores of the employees
-- judged, never a scan of `predictions`.
WITH o AS (
    SELECT o.employee_id, o."left", o.observed_at
      FROM outcomes o
     WHERE everyone OR o.employee_id IN (SELECT unnest(ids))
)
SELECT 'live'::text, l.model_version, o.employee_id, l.scored_at < o.observed_at,
       l.request_id, l.probability, l.prediction, l.scored_at,
       l.genre, l.statut_marital, l.age_band, o."left"
  FROM o CROSS JOIN LATERAL (
       SELECT DISTINCT ON (p.model_version)
              p.model_version, p.request_id, p.probability, p.prediction, p.scored_at,
              p.genre, p.statut_marital, p.age_band
         FROM predictions p
        WHERE p.employee_id = o.employee_id
        ORDER BY p.model_version, p.scored_at < o.observed_at DESC, p.scored_at DESC,
                 p.request_id DESC) l
UNION ALL
SELECT 'shadow'::text, s.model_version, o.employee_id, s.scored_at < o.observed_at,
       s.request_id, s.probability, s.prediction, s.scored_at,
       s.genre, s.statut_marital, s.age_band, o."left"
  FROM o CROSS JOIN LATERAL (
       SELECT DISTINCT ON (sh.model_version)
              sh.model_version, sh.request_id, sh.probability, sh.prediction, sh.scored_at,
              p.genre, p.statut_marital, p.age_band
         FROM predictions p
         JOIN shadow_predictions sh ON sh.request_id = p.request_id
        WHERE p.employee_id = o.employee_id
        ORDER BY sh.model_version, sh.scored_at < o.observed_at DESC, sh.scored_at DESC,
                 sh.request_id DESC) s
$$;

-- The summary as it is now: clean employees from the table, dirty ones judged afresh.
CREATE VIEW performance_judged_now AS
WITH state AS (SELECT full_needed FROM performance_refresh)
SELECT j.role, j.model_version, j.employee_id, j.judged, j.request_id, j.probability,
       j.prediction, j.scored_at, j.genre, j.statut_marital, j.age_band, j.actual
  FROM performance_judged j
 WHERE NOT (SELECT full_needed FROM state)
   AND NOT EXISTS (SELECT 1 FROM performance_dirty d WHERE d.employee_id = j.employee_id)
UNION ALL
SELECT f.*
  FROM performance_judge(
         (SELECT array_agg(DISTINCT d.employee_id) FROM performance_dirty d),
         (SELECT full_needed FROM performance_refresh)) f;

-- The advisory lock that lets one refresh run at a time, and that deletes wait on: an
-- arbitrary constant ("perfsum" in ASCII), distinct from the migration and retention keys.
CREATE FUNCTION performance_lock_key() RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$ SELECT x'007065726673756d'::bigint $$;

-- One refresh: if no other process holds the lock, rebuilds the summary rows of the employees
-- marked since the last refresh (or all of them when `full_needed`) and returns whether it was
-- a full rebuild and how many summary rows it wrote; returns no row when another process is
-- refreshing. Each statement reads what was committed when it started, so a mark committed
-- after the marks are taken stays for the next refresh, and none is lost. SECURITY DEFINER:
-- the service's role needs no privilege on the summary tables.
CREATE FUNCTION performance_refresh_summary()
RETURNS TABLE (full_rebuild boolean, summary_rows bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET jit = off AS $$
DECLARE
    rebuild boolean;
    ids bigint[];
    written bigint;
BEGIN
    IF NOT pg_try_advisory_xact_lock(performance_lock_key()) THEN
        RETURN;
    END IF;
    SELECT r.full_needed INTO rebuild FROM performance_refresh r FOR UPDATE;
    IF rebuild THEN
        DELETE FROM performance_dirty;
        DELETE FROM performance_judged;
        INSERT INTO performance_judged SELECT * FROM performance_judge(NULL, true);
    ELSE
        WITH taken AS (DELETE FROM performance_dirty RETURNING employee_id)
        SELECT array_agg(DISTINCT t.employee_id) INTO ids FROM taken t;
        DELETE FROM performance_judged j WHERE j.employee_id = ANY(ids);
        INSERT INTO performance_judged SELECT * FROM performance_judge(ids, false);
    END IF;
    GET DIAGNOSTICS written = ROW_COUNT;
    UPDATE performance_refresh SET full_needed = false, refreshed_at = now();
    full_rebuild := rebuild;
    summary_rows := written;
    RETURN NEXT;
END
$$;

-- Marks: one function per table and event, since a trigger with transition tables has one
-- event. SECURITY DEFINER: the service's role writes predictions, and needs no privilege on
-- the summary tables for the marks to follow.
CREATE FUNCTION performance_mark_predictions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO performance_dirty
        SELECT n.employee_id FROM new_rows n WHERE n.employee_id IS NOT NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO performance_dirty
        SELECT o.employee_id FROM old_rows o WHERE o.employee_id IS NOT NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        -- Waits for a running refresh, so that it cannot write these rows back after us.
        PERFORM pg_advisory_xact_lock(performance_lock_key());
        DELETE FROM performance_judged j
         WHERE j.employee_id IN (SELECT o.employee_id FROM old_rows o);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION performance_mark_shadow() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    -- A shadow row is about the employee of the live row of its request; one whose live row
    -- is gone is judged by nobody and needs no mark.
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO performance_dirty
        SELECT p.employee_id FROM new_rows n JOIN predictions p ON p.request_id = n.request_id
         WHERE p.employee_id IS NOT NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO performance_dirty
        SELECT p.employee_id FROM old_rows o JOIN predictions p ON p.request_id = o.request_id
         WHERE p.employee_id IS NOT NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_advisory_xact_lock(performance_lock_key());
        DELETE FROM performance_judged j
         WHERE j.role = 'shadow' AND j.request_id IN (SELECT o.request_id FROM old_rows o);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION performance_mark_outcomes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO performance_dirty SELECT n.employee_id FROM new_rows n;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO performance_dirty SELECT o.employee_id FROM old_rows o;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_advisory_xact_lock(performance_lock_key());
        DELETE FROM performance_judged j
         WHERE j.employee_id IN (SELECT o.employee_id FROM old_rows o);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION performance_mark_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(performance_lock_key());
    UPDATE performance_refresh SET full_needed = true;
    DELETE FROM performance_judged;
    RETURN NULL;
END
$$;

CREATE TRIGGER performance_mark_insert AFTER INSERT ON predictions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_predictions();
CREATE TRIGGER performance_mark_update AFTER UPDATE ON predictions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_predictions();
CREATE TRIGGER performance_mark_delete AFTER DELETE ON predictions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_predictions();

CREATE TRIGGER performance_mark_insert AFTER INSERT ON shadow_predictions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_shadow();
CREATE TRIGGER performance_mark_update AFTER UPDATE ON shadow_predictions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_shadow();
CREATE TRIGGER performance_mark_delete AFTER DELETE ON shadow_predictions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_shadow();

CREATE TRIGGER performance_mark_insert AFTER INSERT ON outcomes
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_outcomes();
CREATE TRIGGER performance_mark_update AFTER UPDATE ON outcomes
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_outcomes();
CREATE TRIGGER performance_mark_delete AFTER DELETE ON outcomes
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_outcomes();

CREATE TRIGGER performance_mark_truncate AFTER TRUNCATE ON predictions
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_truncated();
CREATE TRIGGER performance_mark_truncate AFTER TRUNCATE ON shadow_predictions
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_truncated();
CREATE TRIGGER performance_mark_truncate AFTER TRUNCATE ON outcomes
    FOR EACH STATEMENT EXECUTE FUNCTION performance_mark_truncated();

-- The V5 and V10 views, same names and columns, now read through the summary.
CREATE OR REPLACE VIEW model_judged AS
SELECT j.role, j.model_version, j.employee_id, j.probability, j.prediction,
       j.genre, j.statut_marital, j.age_band, j.actual,
       CASE WHEN mv.manifest -> 'training_employees' IS NULL THEN NULL
            ELSE (mv.manifest -> 'training_employees' -> 'hashes') ? left(encode(sha256(convert_to(
                     (mv.manifest -> 'training_employees' ->> 'salt') || ':' || j.employee_id,
                     'UTF8')), 'hex'), 16)
       END AS seen_in_training
  FROM performance_judged_now j
  LEFT JOIN model_versions mv ON mv.version = j.model_version
 WHERE j.judged;

CREATE OR REPLACE VIEW model_performance AS
WITH judged AS (
    SELECT role, model_version, probability, prediction, actual
      FROM performance_judged_now
     WHERE judged
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

CREATE OR REPLACE VIEW model_performance_unjudged AS
SELECT role, model_version, count(*) AS unjudged
  FROM performance_judged_now
 WHERE NOT judged
 GROUP BY role, model_version;

-- What a dashboard may read besides `predictions_public` (V9) and the views above, without
-- personal columns: rejected messages without their body or the values their errors quote
-- (only the fields in error), outcomes without the employee, the registry without the
-- manifest (whose `training_employees` are hashes of employee ids).
CREATE VIEW rejected_messages_public AS
SELECT id, reason, received_at, trace_id,
       ARRAY(SELECT DISTINCT e ->> 'field' FROM jsonb_array_elements(
                 CASE WHEN jsonb_typeof(errors) = 'array' THEN errors ELSE '[]' END) AS e
             ORDER BY 1) AS fields
  FROM rejected_messages;

CREATE VIEW outcomes_public AS
SELECT "left", observed_at, source, recorded_at
  FROM outcomes;

CREATE VIEW model_versions_public AS
SELECT version, loaded_at, sha256, metrics, first_served_at, last_served_at
  FROM model_versions;

-- The reader role, where the deployment has one (compose creates it; docs/operations.md
-- #dashboards-role): SELECT on these views only. A view reads its tables with its owner's
-- rights, so the role needs no grant on any table.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'turnover_reader') THEN
        GRANT SELECT ON predictions_public, rejected_messages_public, outcomes_public,
                        model_versions_public, batches, model_performance,
                        model_performance_by_group, model_performance_unjudged,
                        model_performance_unseen
           TO turnover_reader;
    END IF;
END
$$;
