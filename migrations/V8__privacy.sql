-- V8: personal data kept only as long as allowed (issue 19, docs/privacy.md).
--
-- `erasures`: one row per erasure request (`turnover forget`, `DELETE /employees/{id}`). It
-- holds no personal data: the employee id only as a salted hash (the salt is the deployment's
-- secret `privacy.erasure_salt`), who asked as the first 8 hex digits of their API key's
-- sha256 (or `cli`, or `anonymous` when the sidecar has no keys), and how many rows went.
CREATE TABLE erasures (
    id                 bigserial   PRIMARY KEY,
    requested_at       timestamptz NOT NULL DEFAULT now(),
    employee_hash      text        NOT NULL CHECK (employee_hash ~ '^[0-9a-f]{64}$'),
    requested_by       text        NOT NULL
        CHECK (requested_by IN ('cli', 'anonymous') OR requested_by ~ '^[0-9a-f]{8}$'),
    predictions        bigint      NOT NULL CHECK (predictions >= 0),
    shadow_predictions bigint      NOT NULL CHECK (shadow_predictions >= 0),
    outcomes           bigint      NOT NULL CHECK (outcomes >= 0),
    rejected_messages  bigint      NOT NULL CHECK (rejected_messages >= 0)
);

-- Retention deletes the oldest rows in bounded batches, by these times: each batch is an index
-- range, not a scan. `predictions (scored_at)` and `rejected_messages (received_at)` exist
-- since V2.
CREATE INDEX shadow_predictions_scored_at_idx ON shadow_predictions (scored_at);
CREATE INDEX outcomes_recorded_at_idx ON outcomes (recorded_at);
