//! The model registry's writes (`model_versions`): a bundle loaded to serve, and the
//! heartbeat of bundles still serving. The registry is append-only for what identifies a
//! bundle (version, sha256, manifest): a load only ever adds a row or moves `last_served_at`.

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

/// A version the registry already holds with other files: loading it is refused, since the
/// registry says what that version was, for good.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(
        "model_versions already holds version {version} with model.json sha256 {registered} \
         and another manifest; the bundle loaded has sha256 {loaded}: a version names one \
         bundle for good, so a changed bundle needs a new version"
    )]
    Conflict {
        version: String,
        registered: String,
        loaded: String,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

// A load or a heartbeat: the row is created, or, when the known row holds the same files, only
// `last_served_at` moves (and `first_served_at` once, for rows older than V4). What identifies
// a bundle never changes: the WHERE leaves a row with other files alone (no row returned),
// and a trigger (V7) refuses any other update. A row written before V4 has no manifest yet;
// it is filled in once.
const REGISTER_MODEL: &str = "\
INSERT INTO model_versions (version, loaded_at, sha256, metrics, manifest, first_served_at, \
                            last_served_at)
VALUES ($1, now(), $2, $3, $4, now(), now())
ON CONFLICT (version) DO UPDATE
SET manifest = coalesce(model_versions.manifest, EXCLUDED.manifest),
    first_served_at = coalesce(model_versions.first_served_at, now()),
    last_served_at = greatest(model_versions.last_served_at, now())
WHERE model_versions.sha256 IS NOT DISTINCT FROM EXCLUDED.sha256
  AND (model_versions.manifest IS NULL OR model_versions.manifest = EXCLUDED.manifest)
RETURNING version";

const REGISTERED_SHA256: &str = "SELECT sha256 FROM model_versions WHERE version = $1";

/// Records that a bundle was loaded to serve (live or shadow): inserts its row with the
/// manifest, or moves `last_served_at` of the known version to now. `first_served_at` is set
/// once.
///
/// # Errors
///
/// [`RegistryError::Conflict`] when the version is registered with other files (sha256 or
/// manifest); [`RegistryError::Storage`] when a statement fails.
pub async fn register_model(
    client: &impl GenericClient,
    model: RegisteredModel<'_>,
) -> Result<(), RegistryError> {
    if upsert_model(client, model).await? {
        return Ok(());
    }
    let registered: Option<String> = client
        .query_opt(REGISTERED_SHA256, &[&model.version])
        .await
        .map_err(StorageError::from)?
        .and_then(|row| row.get(0));
    Err(RegistryError::Conflict {
        version: model.version.to_owned(),
        registered: registered.unwrap_or_else(|| "absent".into()),
        loaded: model.sha256.to_owned(),
    })
}

/// Moves `last_served_at` of bundles still serving to now (a row missing is inserted as by
/// [`register_model`]). One statement per bundle, outside any batch transaction, so the
/// workers' transactions never wait on a registry row lock. A bundle whose version the
/// registry holds with other files is left alone (its load was refused, or it was recorded
/// while the database was away, and [`register_model`] reports it).
///
/// # Errors
///
/// [`StorageError`] when a statement fails.
pub async fn touch_models(
    client: &impl GenericClient,
    models: &[RegisteredModel<'_>],
) -> Result<(), StorageError> {
    for model in models {
        upsert_model(client, *model).await?;
    }
    Ok(())
}

/// Whether the row now holds these files (inserted, or already there and touched).
async fn upsert_model(
    client: &impl GenericClient,
    model: RegisteredModel<'_>,
) -> Result<bool, StorageError> {
    let statement = client.prepare_cached(REGISTER_MODEL).await?;
    let rows = client
        .query(
            &statement,
            &[&model.version, &model.sha256, model.metrics, model.manifest],
        )
        .await?;
    Ok(!rows.is_empty())
}
