-- V13: what an insert into `predictions` costs Postgres, per row, without changing what it
-- accepts or what it stores (docs/performance.md).
--
-- 1. A score's groups come with its row. The service writes `genre`, `statut_marital` and
--    `age_band` itself (src/fairness.rs draws the bands, as V10's turnover_age_band does), so
--    the row trigger of V10 now runs only for a row that arrives without one of them: a writer
--    that leaves them to the database still gets them from the row's `input`, and the
--    service's rows no longer pay a PL/pgSQL call each (1.3 µs a row). Dropped and created
--    again in this migration's transaction, so no insert sees the table without its trigger.
DROP TRIGGER predictions_groups ON predictions;

CREATE TRIGGER predictions_groups
    BEFORE INSERT ON predictions
    FOR EACH ROW
    WHEN (NEW.genre IS NULL OR NEW.statut_marital IS NULL OR NEW.age_band IS NULL)
    EXECUTE FUNCTION turnover_prediction_groups();

-- 2. The `trace_id` rule of V11, 32 lower-case hex digits, written as a length and a class:
--    the same strings pass, but Postgres's regular expressions run a bounded repeat (`{32}`)
--    seven times slower than an unbounded one (1.7 against 0.25 µs a row). NOT VALID, as in
--    V11: no scan under the lock; every row written since V11 met the same rule.
ALTER TABLE predictions DROP CONSTRAINT predictions_trace_id_hex;
ALTER TABLE predictions ADD CONSTRAINT predictions_trace_id_hex
    CHECK (octet_length(trace_id) = 32 AND trace_id ~ '^[0-9a-f]+$') NOT VALID;
ALTER TABLE rejected_messages DROP CONSTRAINT rejected_messages_trace_id_hex;
ALTER TABLE rejected_messages ADD CONSTRAINT rejected_messages_trace_id_hex
    CHECK (octet_length(trace_id) = 32 AND trace_id ~ '^[0-9a-f]+$') NOT VALID;
