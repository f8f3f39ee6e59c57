-- V3: idempotency keys with their usual semantics (docs/contract.md#idempotency).
--
-- `record_sha256` is the sha256 of the canonical record (every field, defaults filled in, the
-- raise as a number) that was scored. A request that reuses a `request_id` is answered from
-- the stored row when its record hashes the same, and refused (`request_id_conflict`) when it
-- does not. Rows written before this migration have no hash: they are compared on `input`.
ALTER TABLE predictions ADD COLUMN record_sha256 text NULL;
