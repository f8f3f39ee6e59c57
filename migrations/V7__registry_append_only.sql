-- V7: the model registry is an audit trail (issue 19, docs/contract.md#model_versions). A row
-- says for good which files a version named: only `last_served_at` may move (forward), and
-- `first_served_at` and `manifest` may be filled once in rows written before V4. Every other
-- change, and any DELETE, is refused here, whatever client attempts it.
CREATE FUNCTION model_versions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'model_versions is append-only: version % cannot be deleted', OLD.version
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.version IS DISTINCT FROM OLD.version
       OR NEW.sha256 IS DISTINCT FROM OLD.sha256
       OR NEW.metrics IS DISTINCT FROM OLD.metrics
       OR NEW.loaded_at IS DISTINCT FROM OLD.loaded_at
       OR (OLD.manifest IS NOT NULL AND NEW.manifest IS DISTINCT FROM OLD.manifest)
       OR (OLD.first_served_at IS NOT NULL
           AND NEW.first_served_at IS DISTINCT FROM OLD.first_served_at)
       OR NEW.last_served_at < OLD.last_served_at THEN
        RAISE EXCEPTION 'model_versions is append-only: version % keeps the files it was first '
                        'registered with; only last_served_at moves', OLD.version
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER model_versions_append_only
    BEFORE UPDATE OR DELETE ON model_versions
    FOR EACH ROW EXECUTE FUNCTION model_versions_append_only();
