//! The bundle's calibration: a monotone map from the booster's raw probability to the
//! probability that is served, thresholded and banded.
//!
//! `turnover train` fits it on out-of-fold predictions of the training part (see
//! `src/train/calibrate.rs`) and stores it in the manifest as `calibration`. A bundle without
//! the field is served uncalibrated ([`Calibration::None`]), so older bundles keep working.
//! Only applying and checking live here: the fitting belongs to training.

use serde::{Deserialize, Serialize};

/// Raw probabilities are clamped to `[EPS, 1 - EPS]` before the logit, so 0 and 1 stay finite.
const EPS: f64 = 1e-6;

/// How the raw probability is mapped before it is served.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "lowercase")]
pub enum Calibration {
    /// The raw probability is served as it is.
    #[default]
    None,
    /// Platt scaling on the logit: `sigmoid(a * logit(p) + b)`.
    Platt { a: f64, b: f64 },
    /// Isotonic regression: linear interpolation through the points `(x[i], y[i])` (`x`
    /// increasing, `y` non-decreasing), flat beyond the first and last point.
    Isotonic { x: Vec<f64>, y: Vec<f64> },
}

/// The logit of a probability, clamped away from 0 and 1.
pub(crate) fn logit(p: f64) -> f64 {
    let p = p.clamp(EPS, 1.0 - EPS);
    (p / (1.0 - p)).ln()
}

/// The logistic function.
pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Calibration {
    /// The calibrated probability of a raw one. Computed in `f64` and rounded to `f32`, the
    /// booster's precision, so training (which picks the threshold on these values) and serving
    /// compare exactly the same numbers with the threshold.
    pub fn apply(&self, raw: f32) -> f32 {
        let p = f64::from(raw);
        let calibrated = match self {
            Calibration::None => return raw,
            Calibration::Platt { a, b } => sigmoid(a * logit(p) + b),
            Calibration::Isotonic { x, y } => interpolate(x, y, p),
        };
        calibrated as f32
    }

    /// `"none"`, `"platt"` or `"isotonic"`, as in the manifest.
    pub fn method(&self) -> &'static str {
        match self {
            Calibration::None => "none",
            Calibration::Platt { .. } => "platt",
            Calibration::Isotonic { .. } => "isotonic",
        }
    }

    /// Why this calibration cannot be served, if it cannot: a non-finite Platt coefficient, a
    /// decreasing Platt slope, or isotonic points that are not a monotone map into [0, 1].
    pub fn problem(&self) -> Option<String> {
        match self {
            Calibration::None => None,
            Calibration::Platt { a, b } if !(a.is_finite() && b.is_finite()) => {
                Some(format!("platt calibration a={a} b={b} is not finite"))
            }
            Calibration::Platt { a, .. } if *a <= 0.0 => Some(format!(
                "platt calibration slope a={a} must be positive (it would reverse the ranking)"
            )),
            Calibration::Platt { .. } => None,
            Calibration::Isotonic { x, y } => {
                if x.is_empty() || x.len() != y.len() {
                    Some(format!(
                        "isotonic calibration needs as many x as y, at least one ({} and {})",
                        x.len(),
                        y.len()
                    ))
                } else if !x.windows(2).all(|w| w[0] < w[1]) {
                    Some("isotonic calibration x must be strictly increasing".to_owned())
                } else if !y.windows(2).all(|w| w[0] <= w[1]) {
                    Some("isotonic calibration y must be non-decreasing".to_owned())
                } else if !y.iter().all(|v| (0.0..=1.0).contains(v)) {
                    Some("isotonic calibration y must be probabilities".to_owned())
                } else {
                    None
                }
            }
        }
    }
}

/// Piecewise-linear interpolation through `(x, y)`, flat outside `[x[0], x[last]]`.
/// `x` is strictly increasing and as long as `y` (checked when the bundle loads).
fn interpolate(x: &[f64], y: &[f64], p: f64) -> f64 {
    let i = x.partition_point(|&v| v <= p);
    match i {
        0 => y.first().copied().unwrap_or(p),
        i if i >= x.len() => y.last().copied().unwrap_or(p),
        i => {
            let (x0, x1, y0, y1) = (x[i - 1], x[i], y[i - 1], y[i]);
            y0 + (y1 - y0) * (p - x0) / (x1 - x0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_is_the_identity_and_the_default() {
        assert_eq!(Calibration::default(), Calibration::None);
        for p in [0.0f32, 1e-9, 0.3, 0.999, 1.0] {
            assert_eq!(Calibration::None.apply(p), p);
        }
    }

    #[test]
    fn platt_is_a_sigmoid_of_the_logit() {
        let identity = Calibration::Platt { a: 1.0, b: 0.0 };
        for p in [0.01f32, 0.3, 0.5, 0.9] {
            assert!((identity.apply(p) - p).abs() < 1e-6);
        }
        let shifted = Calibration::Platt { a: 0.5, b: -1.0 };
        let want = sigmoid(0.5 * logit(0.8) - 1.0) as f32;
        assert_eq!(shifted.apply(0.8), want);
        assert!(shifted.apply(0.0) > 0.0 && shifted.apply(1.0) < 1.0);
    }

    #[test]
    fn isotonic_interpolates_and_is_flat_outside() {
        // Points exact in f32, as training writes them (raw probabilities are f32).
        let iso = Calibration::Isotonic {
            x: vec![0.125, 0.25, 0.75],
            y: vec![0.0, 0.25, 0.5],
        };
        assert_eq!(iso.apply(0.0), 0.0);
        assert_eq!(iso.apply(0.125), 0.0);
        assert_eq!(iso.apply(0.1875), 0.125);
        assert_eq!(iso.apply(0.5), 0.375);
        assert_eq!(iso.apply(0.75), 0.5);
        assert_eq!(iso.apply(0.95), 0.5);
        assert_eq!(iso.problem(), None);
    }

    #[test]
    fn the_manifest_form_reads_back() {
        for (c, text) in [
            (Calibration::None, r#"{"method":"none"}"#),
            (
                Calibration::Platt { a: 1.5, b: -0.25 },
                r#"{"method":"platt","a":1.5,"b":-0.25}"#,
            ),
            (
                Calibration::Isotonic {
                    x: vec![0.1, 0.2],
                    y: vec![0.0, 0.5],
                },
                r#"{"method":"isotonic","x":[0.1,0.2],"y":[0.0,0.5]}"#,
            ),
        ] {
            assert_eq!(serde_json::to_string(&c).unwrap(), text);
            assert_eq!(serde_json::from_str::<Calibration>(text).unwrap(), c);
        }
        assert!(serde_json::from_str::<Calibration>(r#"{"method":"beta"}"#).is_err());
    }

    #[test]
    fn unservable_calibrations_are_named() {
        let bad = [
            Calibration::Platt {
                a: f64::NAN,
                b: 0.0,
            },
            Calibration::Platt { a: -1.0, b: 0.0 },
            Calibration::Isotonic {
                x: vec![],
                y: vec![],
            },
            Calibration::Isotonic {
                x: vec![0.2, 0.1],
                y: vec![0.0, 0.1],
            },
            Calibration::Isotonic {
                x: vec![0.1, 0.2],
                y: vec![0.5, 0.1],
            },
            Calibration::Isotonic {
                x: vec![0.1, 0.2],
                y: vec![0.5, 1.5],
            },
            Calibration::Isotonic {
                x: vec![0.1],
                y: vec![0.5, 0.6],
            },
        ];
        for c in bad {
            assert!(c.problem().is_some(), "{c:?} passes");
        }
        assert_eq!(Calibration::Platt { a: 0.8, b: 0.1 }.problem(), None);
    }
}
