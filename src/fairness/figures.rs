//! The shape of the manifest's `fairness`: per group the count, leavers, selection rate (share
//! predicted to leave), true- and false-positive rates, precision and the mean predicted
//! against the observed leave rate, each with its bootstrap interval; per attribute the ratio
//! of the lowest to the highest selection rate (the four-fifths rule reads it) and the largest
//! gap between true-positive rates. Training computes it (`train::fairness`); the report, the
//! model card and its figures read it. A rate with no denominator is `null`, never a made-up 0.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Figures of one group, each rate with its `_ci` interval (`null` when undefined).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub count: usize,
    pub leavers: usize,
    pub selection_rate: Option<f64>,
    pub selection_rate_ci: Option<[f64; 2]>,
    pub tpr: Option<f64>,
    pub tpr_ci: Option<[f64; 2]>,
    pub fpr: Option<f64>,
    pub fpr_ci: Option<[f64; 2]>,
    pub precision: Option<f64>,
    pub precision_ci: Option<[f64; 2]>,
    pub mean_predicted: Option<f64>,
    pub mean_predicted_ci: Option<[f64; 2]>,
    pub observed_rate: Option<f64>,
    pub observed_rate_ci: Option<[f64; 2]>,
}

/// One attribute: its groups and how far apart they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    pub groups: BTreeMap<String, Group>,
    /// Lowest selection rate over the highest (1 = equal; below 0.8 fails the four-fifths rule).
    pub selection_rate_ratio: Option<f64>,
    /// Highest TPR minus the lowest, over groups with leavers.
    pub tpr_gap: Option<f64>,
}

/// The manifest's `fairness`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fairness {
    pub attributes: BTreeMap<String, Attribute>,
    /// Resamples per group and interval coverage.
    pub resamples: usize,
    pub level: f64,
}
