-- V4: the model's life in service (docs/contract.md#tables): a registry of every bundle that
-- served, and the scores of the shadow bundle next to the live ones.

-- The registry. `manifest` is the bundle's manifest.json as loaded; `first_served_at` and
-- `last_served_at` bound the time the version was the live model (or the shadow) of some
-- process. `loaded_at` keeps its V1 meaning: the most recent load.
ALTER TABLE model_versions
    ADD COLUMN manifest        jsonb       NULL,
    ADD COLUMN first_served_at timestamptz NULL,
    ADD COLUMN last_served_at  timestamptz NULL;

UPDATE model_versions
   SET first_served_at = loaded_at,
       last_served_at  = loaded_at
 WHERE first_served_at IS NULL;

-- One row per record the shadow bundle scored, written in the same transaction as the live
-- `predictions` row of the same `request_id`. It never changes a reply. Keyed like the live
-- row, so a redelivered message does not make a second shadow row.
CREATE TABLE shadow_predictions (
    request_id    text             NOT NULL,
    model_version text             NOT NULL,
    probability   double precision NOT NULL CHECK (probability >= 0 AND probability <= 1),
    prediction    smallint         NOT NULL CHECK (prediction IN (0, 1)),
    risk_level    text             NOT NULL CHECK (risk_level IN ('Low', 'Medium', 'High')),
    scored_at     timestamptz      NOT NULL,
    PRIMARY KEY (request_id, model_version)
);
