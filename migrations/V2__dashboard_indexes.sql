-- V2: indexes for the dashboards' obvious queries and for batch progress.
--
-- Each index is paid for on every insert, so only the ones a known query needs are here.
-- Plain CREATE INDEX (not CONCURRENTLY): migrations run inside a transaction, and these run on
-- empty or small tables at first deployment.

-- "What was scored in the last hour/day", time-series panels.
CREATE INDEX predictions_scored_at_idx ON predictions (scored_at);

-- "History of this employee".
CREATE INDEX predictions_employee_id_idx ON predictions (employee_id);

-- Batch progress (count by batch_id) and batch results (ordered by employee_id). Partial:
-- most rows come from the queue or /predict and have no batch.
CREATE INDEX predictions_batch_id_idx
    ON predictions (batch_id, employee_id)
    WHERE batch_id IS NOT NULL;

-- "Rejections in the last hour", the alert on a rejection spike.
CREATE INDEX rejected_messages_received_at_idx ON rejected_messages (received_at);
