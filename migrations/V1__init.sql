-- V1: the tables of contract section 4.
--
-- Applied by src/storage/migrate.rs, in one transaction, under an advisory lock. Never edit this
-- file once it has been applied anywhere: the runner refuses a migration whose checksum changed.
-- Add a V<n+1>__<name>.sql instead (and list it in migrate.rs).

-- One row per scored request. `request_id` is the idempotency key: the worker inserts with
-- ON CONFLICT (request_id) DO NOTHING, so a redelivered message never makes a second row.
-- `batch_id` deliberately has no foreign key to `batches`: the write path must not depend on
-- the order in which the HTTP side and the worker commit, and a lookup per row costs throughput.
-- The CHECKs only catch programming errors; they never fire on valid scores.
CREATE TABLE predictions (
    request_id    text             PRIMARY KEY,
    employee_id   bigint           NULL,
    batch_id      uuid             NULL,
    source        text             NOT NULL CHECK (source IN ('queue', 'http', 'batch')),
    model_version text             NOT NULL,
    prediction    smallint         NOT NULL CHECK (prediction IN (0, 1)),
    probability   double precision NOT NULL CHECK (probability >= 0 AND probability <= 1),
    risk_level    text             NOT NULL CHECK (risk_level IN ('Low', 'Medium', 'High')),
    input         jsonb            NOT NULL,
    explanation   jsonb            NULL,
    enqueued_at   timestamptz      NULL,
    scored_at     timestamptz      NOT NULL
);

-- One row per message that could not be scored for a permanent reason, with the original bytes
-- (bytea, so bodies that are not UTF-8 survive unchanged) and every reason.
CREATE TABLE rejected_messages (
    id          bigserial   PRIMARY KEY,
    request_id  text        NULL,
    reason      text        NOT NULL,
    errors      jsonb       NOT NULL,
    payload     bytea       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- A rejected message is acked only after its row commits, so a crash in between redelivers it.
-- This partial unique index lets the insert use ON CONFLICT (request_id) WHERE request_id IS
-- NOT NULL DO NOTHING, so the redelivery does not make a second row. Rows without a request_id
-- cannot be deduplicated and are all kept (the worker derives a request_id for every message,
-- so these should not occur in practice).
CREATE UNIQUE INDEX rejected_messages_request_id_key
    ON rejected_messages (request_id)
    WHERE request_id IS NOT NULL;

-- One row per model bundle ever loaded. `loaded_at` is the most recent load (a restart with the
-- same bundle moves it forward).
CREATE TABLE model_versions (
    version   text        PRIMARY KEY,
    loaded_at timestamptz NOT NULL DEFAULT now(),
    sha256    text        NULL,
    metrics   jsonb       NULL
);

-- One row per batch submitted over HTTP; its progress is the count of `predictions` rows that
-- carry its batch_id.
CREATE TABLE batches (
    batch_id     uuid        PRIMARY KEY,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    total        integer     NOT NULL CHECK (total >= 0)
);
