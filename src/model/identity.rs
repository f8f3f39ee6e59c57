//! What names a bundle: its `version` is a digest of every byte that can change a score, so a
//! version seen in a row or in `model_versions` proves which files scored (docs/contract.md
//! #model-bundle). [`version`] computes it; [`verify`] is the loader's check that a bundle's
//! files give the version its manifest claims.
//!
//! The digest covers `model.json` and `model.ubj` (through their sha256), the threshold, the
//! risk cut points and the calibration: the manifest's other keys (metrics, drift reference,
//! dates) describe the model and never change a score. This module only hashes; it reads no
//! file.

use super::{Calibration, ModelError};
use crate::digest::sha256_hex;
use std::path::Path;

/// What a score depends on, as it is hashed into the version.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// sha256 of `model.json`, hex.
    pub model_json_sha256: &'a str,
    /// sha256 of `model.ubj`, hex, when the bundle has one.
    pub model_ubj_sha256: Option<&'a str>,
    pub threshold: f64,
    pub risk_cuts: [f64; 2],
    pub calibration: &'a Calibration,
}

/// JSON's shortest round-trip form of a number, so a value read back from `manifest.json`
/// hashes as it was written.
fn number(x: f64) -> String {
    serde_json::to_string(&x).unwrap_or_else(|_| x.to_string())
}

impl Identity<'_> {
    /// The text hashed into the version, one `name value` line each (docs/contract.md).
    pub fn text(&self) -> String {
        let calibration = serde_json::to_string(self.calibration).unwrap_or_default();
        format!(
            "turnover-bundle-v1\nmodel.json {}\nmodel.ubj {}\nthreshold {}\nrisk_cuts {} {}\n\
             calibration {calibration}\n",
            self.model_json_sha256,
            self.model_ubj_sha256.unwrap_or("-"),
            number(self.threshold),
            number(self.risk_cuts[0]),
            number(self.risk_cuts[1]),
        )
    }

    /// `xgb-` and the first 12 hex digits of the sha256 of [`Identity::text`].
    pub fn version(&self) -> String {
        format!("xgb-{}", &sha256_hex(self.text().as_bytes())[..12])
    }
}

/// Refuses files that do not give the manifest's version. `claimed_json_sha256` is the
/// manifest's `model_json_sha256` when it has one: with it, a changed `model.json` is named as
/// such; without it (bundles made before it existed) the version alone catches the change.
///
/// # Errors
/// [`ModelError::Invalid`], one line naming the file and both digests.
pub fn verify(
    dir: &Path,
    claimed_version: &str,
    claimed_json_sha256: Option<&str>,
    identity: &Identity<'_>,
) -> Result<(), ModelError> {
    let invalid = |detail: String| {
        Err(ModelError::Invalid {
            path: dir.to_owned(),
            detail,
        })
    };
    if let Some(claimed) = claimed_json_sha256 {
        if claimed != identity.model_json_sha256 {
            return invalid(format!(
                "model.json has sha256 {} but manifest.json's model_json_sha256 is {claimed}: \
                 the model file is not the one this bundle was made with",
                identity.model_json_sha256
            ));
        }
    }
    let computed = identity.version();
    if computed != claimed_version {
        return invalid(format!(
            "manifest.json says version {claimed_version} but its files give {computed} \
             (model.json, model.ubj, threshold, risk_cuts and calibration): a file was changed \
             after the bundle was made"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(calibration: &Calibration) -> Identity<'_> {
        Identity {
            model_json_sha256: "aa",
            model_ubj_sha256: None,
            threshold: 0.3,
            risk_cuts: [0.3, 0.7],
            calibration,
        }
    }

    #[test]
    fn every_part_that_changes_a_score_changes_the_version() {
        let none = Calibration::None;
        let platt = Calibration::Platt { a: 1.0, b: 0.5 };
        let v = base(&none).version();
        assert!(v.starts_with("xgb-") && v.len() == 16, "{v}");
        assert_eq!(
            v,
            base(&none).version(),
            "the same parts give the same name"
        );
        let variants = [
            Identity {
                model_json_sha256: "ab",
                ..base(&none)
            },
            Identity {
                model_ubj_sha256: Some("cc"),
                ..base(&none)
            },
            Identity {
                threshold: 0.31,
                ..base(&none)
            },
            Identity {
                risk_cuts: [0.3, 0.8],
                ..base(&none)
            },
            base(&platt),
        ];
        for other in variants {
            assert_ne!(other.version(), v, "{}", other.text());
        }
    }

    #[test]
    fn the_hashed_text_is_the_documented_one() {
        let none = Calibration::None;
        assert_eq!(
            base(&none).text(),
            "turnover-bundle-v1\nmodel.json aa\nmodel.ubj -\nthreshold 0.3\n\
             risk_cuts 0.3 0.7\ncalibration {\"method\":\"none\"}\n"
        );
    }

    #[test]
    fn a_mismatch_names_the_file_and_both_digests() {
        let none = Calibration::None;
        let id = base(&none);
        let err = verify(Path::new("b"), &id.version(), Some("ff"), &id).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("model.json has sha256 aa") && text.contains("is ff"),
            "{text}"
        );
        let err = verify(Path::new("b"), "xgb-000000000000", None, &id).expect_err("refused");
        let text = err.to_string();
        assert!(
            text.contains("xgb-000000000000") && text.contains(&id.version()),
            "{text}"
        );
        assert!(!text.contains('\n'), "one line: {text}");
        verify(Path::new("b"), &id.version(), Some("aa"), &id).expect("the files match");
    }
}
