-- V11: the W3C trace each row was written in (docs/operations.md#tracing), so a
-- row can be followed to the caller's trace and a trace to its row. Nullable: rows from
-- before tracing have none. Adding a column without a default rewrites nothing; the CHECKs
-- are NOT VALID so no scan runs under the lock (every existing row holds NULL, which passes),
-- and they hold for every row written from now on.
ALTER TABLE predictions ADD COLUMN trace_id text;
ALTER TABLE predictions ADD CONSTRAINT predictions_trace_id_hex
    CHECK (trace_id ~ '^[0-9a-f]{32}$') NOT VALID;
ALTER TABLE rejected_messages ADD COLUMN trace_id text;
ALTER TABLE rejected_messages ADD CONSTRAINT rejected_messages_trace_id_hex
    CHECK (trace_id ~ '^[0-9a-f]{32}$') NOT VALID;

-- A trace id says nothing about the employee: the dashboards' view gains it. CREATE OR
-- REPLACE may only append columns, so V9's list is kept as it was, and its grants with it.
CREATE OR REPLACE VIEW predictions_public AS
SELECT request_id, batch_id, source, model_version, prediction, probability, risk_level,
       enqueued_at, scored_at, trace_id
  FROM predictions;
