-- V9: what dashboards may read without personal data (issue 19, docs/privacy.md). The view
-- leaves out who was scored (`employee_id`), what they are (`input`, `explanation`) and the
-- record's hash; a reader role granted SELECT on it, and not on `predictions`, sees scores,
-- versions and times only.
CREATE VIEW predictions_public AS
SELECT request_id, batch_id, source, model_version, prediction, probability, risk_level,
       enqueued_at, scored_at
  FROM predictions;
