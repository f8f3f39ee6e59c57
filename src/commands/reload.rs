//! `turnover reload --url URL`: asks a running `serve` to reload its bundles
//! (`POST /admin/reload`), for an instance that cannot be signalled: on Kubernetes,
//! `kubectl exec <pod> -- turnover reload` needs no `kill` binary in the image. Prints the
//! answer (the versions served); exit 1 when the bundles were refused or the call failed.
//! Reads no configuration: everything it needs is on its command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

#[derive(Debug, Args)]
pub struct ReloadArgs {
    /// Base URL of the instance's HTTP sidecar (http only).
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The X-API-Key to send, when the instance requires one.
    #[arg(long, value_name = "KEY", conflicts_with = "api_key_file")]
    pub api_key: Option<String>,
    /// A file whose first key (one per line or comma-separated, as `auth.api_keys_file`) is
    /// sent: inside a pod, the mounted secret.
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Seconds to wait for the answer (a reload loads and checks the bundles first).
    #[arg(long, value_name = "SECONDS", default_value_t = 120)]
    pub timeout: u64,
}

/// Calls `POST {url}/admin/reload` and prints the JSON answer on stdout.
///
/// # Errors
/// An unreadable key file, an unreachable instance, an answer that is not JSON.
pub fn reload(args: ReloadArgs) -> anyhow::Result<ExitCode> {
    let key = match (&args.api_key, &args.api_key_file) {
        (Some(key), _) => Some(key.clone()),
        (None, Some(file)) => Some(first_key(file)?),
        (None, None) => None,
    };
    let endpoint = format!("{}/admin/reload", args.url.trim_end_matches('/'));
    super::runtime()?.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(args.timeout))
            .build()
            .context("cannot build the HTTP client")?;
        let mut request = client.post(&endpoint);
        if let Some(key) = key {
            request = request.header(crate::wire::API_KEY_HEADER, key);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot call {endpoint}"))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.with_context(|| {
            format!("{endpoint} answered {status} with a body that is not JSON")
        })?;
        println!("{body}");
        if status.is_success() {
            Ok(ExitCode::SUCCESS)
        } else {
            eprintln!("{endpoint}: {status}");
            Ok(ExitCode::FAILURE)
        }
    })
}

/// The first key of a keys file.
fn first_key(file: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the API key file {}", file.display()))?;
    text.split([',', '\n'])
        .map(str::trim)
        .find(|k| !k.is_empty())
        .map(str::to_owned)
        .with_context(|| format!("the API key file {} holds no key", file.display()))
}
