//! Per-feature training distributions (the manifest's `drift_reference`) and the population
//! stability index (PSI) that compares incoming values with them.
//!
//! `turnover train` bins each feature of the training rows at its deciles ([`Bins::fit`]);
//! the service and `turnover drift` bin what they see on the same edges and compare the shares
//! with [`psi`]. Pure functions only: no I/O, no state.

use serde::{Deserialize, Serialize};

/// The most bins a feature gets (deciles).
pub const MAX_BINS: usize = 10;

/// The share given to an empty bin in [`psi`], so that its logarithm stays finite.
pub const PSI_EPSILON: f64 = 1e-4;

/// A feature's distribution: bin `i` holds the values `v` with `edges[i - 1] < v <= edges[i]`
/// (the first bin is open below, the last open above), and `shares[i]` is the fraction of
/// training rows that fell in it. `shares` has one more entry than `edges`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub edges: Vec<f32>,
    pub shares: Vec<f64>,
}

impl Bins {
    /// Quantile bins of `values`: the edges are the distinct `k / max_bins` quantiles (the
    /// smallest value with at least that share of values at or below it), without the maximum,
    /// so no training bin is empty. A 0/1 feature gets two bins, a constant one a single bin.
    pub fn fit(values: &[f32], max_bins: usize) -> Self {
        let mut sorted = values.to_vec();
        sorted.sort_unstable_by(f32::total_cmp);
        let n = sorted.len();
        let mut edges: Vec<f32> = Vec::new();
        if let Some(&max) = sorted.last() {
            for k in 1..max_bins {
                let rank = (k * n).div_ceil(max_bins).max(1);
                let edge = sorted[rank - 1];
                if edge < max && edges.last().is_none_or(|&last| last < edge) {
                    edges.push(edge);
                }
            }
        }
        let shares = shares_on(&edges, values);
        Bins { edges, shares }
    }

    /// The bin of a value.
    pub fn bin_of(&self, value: f32) -> usize {
        self.edges.partition_point(|&edge| edge < value)
    }

    /// Whether the edges increase strictly and the shares, one per bin, are fractions summing
    /// to 1.
    pub fn is_valid(&self) -> bool {
        self.edges.windows(2).all(|w| w[0] < w[1])
            && self.edges.iter().all(|e| e.is_finite())
            && self.shares.len() == self.edges.len() + 1
            && self.shares.iter().all(|s| (0.0..=1.0).contains(s))
            && (self.shares.iter().sum::<f64>() - 1.0).abs() < 1e-6
    }
}

/// The share of `values` in each bin of `edges` (all 0 when there are no values).
fn shares_on(edges: &[f32], values: &[f32]) -> Vec<f64> {
    let mut counts = vec![0u64; edges.len() + 1];
    for &v in values {
        counts[edges.partition_point(|&edge| edge < v)] += 1;
    }
    let n = values.len().max(1) as f64;
    counts.into_iter().map(|c| c as f64 / n).collect()
}

/// The population stability index of `observed` against the training distribution:
/// `Σ (o − r) · ln(o / r)` over the bins, each share floored at [`PSI_EPSILON`]. Near 0 when
/// nothing moved; by the usual reading, above 0.1 is a shift worth a look and above 0.25 a
/// major one. `NaN` when there is nothing observed.
pub fn psi(reference: &Bins, observed: &[f32]) -> f64 {
    if observed.is_empty() {
        return f64::NAN;
    }
    let observed = shares_on(&reference.edges, observed);
    reference
        .shares
        .iter()
        .zip(&observed)
        .map(|(&r, &o)| {
            let (r, o) = (r.max(PSI_EPSILON), o.max(PSI_EPSILON));
            (o - r) * (o / r).ln()
        })
        .sum()
}

/// The PSI above which a shift counts as major: `turnover drift` flags it, and the alert on
/// `turnover_feature_psi` fires past it.
pub const PSI_MAJOR: f64 = 0.25;

/// One feature's population stability index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureDrift {
    pub feature: String,
    pub psi: f64,
}

/// The PSI of every feature that has a reference, over `rows` rows laid out as
/// [`crate::features::matrix`] builds them, largest first (ties by name). Empty when there are
/// no rows or no reference.
pub fn psi_table(
    reference: &std::collections::BTreeMap<String, Bins>,
    data: &[f32],
    rows: usize,
) -> Vec<FeatureDrift> {
    let count = crate::features::COUNT;
    if rows == 0 || data.len() != rows * count {
        return Vec::new();
    }
    let mut table: Vec<FeatureDrift> = crate::features::names()
        .into_iter()
        .enumerate()
        .filter_map(|(j, feature)| {
            let bins = reference.get(&feature)?;
            let column: Vec<f32> = data.iter().skip(j).step_by(count).copied().collect();
            Some(FeatureDrift {
                psi: psi(bins, &column),
                feature,
            })
        })
        .collect();
    table.sort_by(|a, b| {
        b.psi
            .total_cmp(&a.psi)
            .then_with(|| a.feature.cmp(&b.feature))
    });
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// A skewed continuous sample, like a salary.
    fn sample(rng: &mut Rng, n: usize, shift: f64) -> Vec<f32> {
        (0..n)
            .map(|_| (1000.0 * (-rng.next_f64().max(1e-12).ln()) + shift) as f32)
            .collect()
    }

    #[test]
    fn continuous_features_get_deciles() {
        let values: Vec<f32> = (1..=100).map(|v| v as f32).collect();
        let bins = Bins::fit(&values, MAX_BINS);
        let want: Vec<f32> = (1..10).map(|k| (10 * k) as f32).collect();
        assert_eq!(bins.edges, want);
        assert_eq!(bins.shares, vec![0.1; 10]);
        assert!(bins.is_valid());
        assert_eq!(bins.bin_of(10.0), 0);
        assert_eq!(bins.bin_of(10.5), 1);
        assert_eq!(bins.bin_of(-5.0), 0);
        assert_eq!(bins.bin_of(1e9), 9);
    }

    #[test]
    fn one_hot_and_constant_features_get_few_bins() {
        let one_hot: Vec<f32> = (0..100).map(|i| f32::from(u8::from(i % 5 == 0))).collect();
        let bins = Bins::fit(&one_hot, MAX_BINS);
        assert_eq!(bins.edges, vec![0.0]);
        assert_eq!(bins.shares, vec![0.8, 0.2]);
        let constant = Bins::fit(&[3.0; 50], MAX_BINS);
        assert_eq!(
            (constant.edges.len(), constant.shares.clone()),
            (0, vec![1.0])
        );
        let levels: Vec<f32> = (0..100).map(|i| (i % 4 + 1) as f32).collect();
        let bins = Bins::fit(&levels, MAX_BINS);
        assert_eq!(bins.edges, vec![1.0, 2.0, 3.0]);
        assert_eq!(bins.shares, vec![0.25; 4]);
    }

    #[test]
    fn every_training_bin_holds_rows() {
        let mut rng = Rng::new(3);
        for n in [1, 2, 7, 33, 1176] {
            let bins = Bins::fit(&sample(&mut rng, n, 0.0), MAX_BINS);
            assert!(bins.is_valid(), "{bins:?}");
            assert!(bins.shares.iter().all(|&s| s > 0.0), "{bins:?}");
            assert!(bins.shares.len() <= MAX_BINS);
        }
    }

    #[test]
    fn psi_is_near_zero_on_the_training_distribution_and_large_on_a_shift() {
        let mut rng = Rng::new(42);
        let reference = Bins::fit(&sample(&mut rng, 1176, 0.0), MAX_BINS);
        let same = psi(&reference, &sample(&mut rng, 2000, 0.0));
        assert!(
            same < 0.05,
            "PSI {same} on a sample of the same distribution"
        );
        let shifted = psi(&reference, &sample(&mut rng, 2000, 600.0));
        assert!(shifted > 0.25, "PSI {shifted} on a shifted distribution");
        assert!(psi(&reference, &[]).is_nan());
    }

    #[test]
    fn psi_floors_empty_bins() {
        let reference = Bins {
            edges: vec![0.0],
            shares: vec![1.0, 0.0],
        };
        let all_in_empty_bin = psi(&reference, &[1.0, 2.0]);
        let want = 2.0 * (1.0 - PSI_EPSILON) * (1.0 / PSI_EPSILON).ln();
        assert!((all_in_empty_bin - want).abs() < 1e-9, "{all_in_empty_bin}");
        assert_eq!(psi(&reference, &[-1.0, 0.0]), 0.0);
    }
}
