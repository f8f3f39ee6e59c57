//! The model registry's writes (`model_versions`): a bundle loaded to serve, and the
//! heartbeat of bundles still serving.

use deadpool_postgres::GenericClient;

use super::StorageError;

/// A bundle as the registry (`model_versions`) records it.
#[derive(Debug, Clone, Copy)]
pub struct RegisteredModel<'a> {
    pub version: &'a str,
    /// sha256 of `model.json`, hex.
    pub sha256: &'a str,
    /// `manifest.json` as loaded.
    pub manifest: &'a serde_json::Value,
    /// The manifest's `metrics`.
    pub metrics: &'a serde_json::Value,
}

// A load: the row is created, or refreshed with what was loaded. `first_served_at` is set
// once; `last_served_at` only moves forward.
const REGISTER_MODEL: &str = "\
INSERT INTO model_versions (version, loaded_at, sha256, metrics, manifest, first_served_at, \
                            last_served_at)
VALUES ($1, now(), $2, $3, $4, now(), now())
ON CONFLICT (version) DO UPDATE
SET loaded_at = now(), sha256 = EXCLUDED.sha256, metrics = EXCLUDED.metrics,
    manifest = EXCLUDED.manifest,
    first_served_at = coalesce(model_versions.first_served_at, now()),
    last_served_at = greatest(model_versions.last_served_at, now())";

// A heartbeat: only `last_served_at` moves. A version missing from the table (its load could
// not be recorded) is inserted in full, so the registry catches up.
const TOUCH_MODEL: &str = "\
INSERT INTO model_versions (version, loaded_at, sha256, metrics, manifest, first_served_at, \
                            last_served_at)
VALUES ($1, now(), $2, $3, $4, now(), now())
ON CONFLICT (version) DO UPDATE
SET first_served_at = coalesce(model_versions.first_served_at, now()),
    last_served_at = greatest(model_versions.last_served_at, now())";

/// Records that a bundle was loaded to serve (live or shadow): inserts its row with the
/// manifest, or refreshes a known version (`loaded_at`, `sha256`, `metrics`, `manifest`).
/// `first_served_at` is set once, `last_served_at` moved to now.
///
/// # Errors
///
/// [`StorageError`] when the statement fails.
pub async fn register_model(
    client: &impl GenericClient,
    model: RegisteredModel<'_>,
) -> Result<(), StorageError> {
    upsert_model(client, REGISTER_MODEL, model).await
}

/// Moves `last_served_at` of bundles still serving to now (a row missing is inserted as by
/// [`register_model`]). One statement per bundle, outside any batch transaction, so the
/// workers' transactions never wait on a registry row lock.
///
/// # Errors
///
/// [`StorageError`] when a statement fails.
pub async fn touch_models(
    client: &impl GenericClient,
    models: &[RegisteredModel<'_>],
) -> Result<(), StorageError> {
    for model in models {
        upsert_model(client, TOUCH_MODEL, *model).await?;
    }
    Ok(())
}

async fn upsert_model(
    client: &impl GenericClient,
    sql: &str,
    model: RegisteredModel<'_>,
) -> Result<(), StorageError> {
    let statement = client.prepare_cached(sql).await?;
    client
        .execute(
            &statement,
            &[&model.version, &model.sha256, model.metrics, model.manifest],
        )
        .await?;
    Ok(())
}
