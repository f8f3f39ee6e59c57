//! L2-penalised logistic regression on standardised features: the baseline the boosted model
//! must beat.
//!
//! Fitted by Newton's method (iteratively reweighted least squares) with step halving, which
//! converges in a handful of iterations on 50 features and needs no learning rate: nothing to
//! tune but the penalty, and deterministic to the last bit. The intercept is not penalised.
//! Each fit standardises with the mean and standard deviation of its own training rows, so a
//! held-out fold never leaks into its scaling.

use crate::model::sigmoid;

/// Newton iterations at most; the fit usually stops after 6 to 10.
const MAX_ITERATIONS: usize = 100;

/// A fitted model: the standardisation, then `sigmoid(intercept + weights · z)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogReg {
    mean: Vec<f64>,
    scale: Vec<f64>,
    intercept: f64,
    weights: Vec<f64>,
}

impl LogReg {
    /// Fits on `labels.len()` rows of `cols` features (`x` row-major), with the penalty
    /// `l2 / 2 · |weights|²` added to the negative log-likelihood (`l2 > 0`).
    pub fn fit(x: &[f32], cols: usize, labels: &[bool], l2: f64) -> Self {
        let rows = labels.len();
        assert_eq!(x.len(), rows * cols, "a {rows} x {cols} matrix");
        let (mean, scale) = standardisation(x, rows, cols);
        let z = standardise(x, cols, &mean, &scale);
        let y: Vec<f64> = labels.iter().map(|&l| f64::from(u8::from(l))).collect();
        // beta[0] is the intercept, beta[1..] the weights; z gets a leading 1 in `design`.
        let p = cols + 1;
        let design = |i: usize, j: usize| if j == 0 { 1.0 } else { z[i * cols + j - 1] };
        let objective = |beta: &[f64]| {
            let mut total = 0.5 * l2 * beta[1..].iter().map(|b| b * b).sum::<f64>();
            for (i, &yi) in y.iter().enumerate() {
                let eta: f64 = (0..p).map(|j| beta[j] * design(i, j)).sum();
                // log(1 + e^eta) - y eta, written to stay finite for large |eta|.
                total += eta.max(0.0) + (-eta.abs()).exp().ln_1p() - yi * eta;
            }
            total
        };
        let mut beta = vec![0.0; p];
        let mut current = objective(&beta);
        for _ in 0..MAX_ITERATIONS {
            let mut gradient = vec![0.0; p];
            let mut hessian = vec![0.0; p * p];
            for (i, &yi) in y.iter().enumerate() {
                let row: Vec<f64> = (0..p).map(|j| design(i, j)).collect();
                let mu = sigmoid(row.iter().zip(&beta).map(|(a, b)| a * b).sum());
                let w = (mu * (1.0 - mu)).max(1e-12);
                for j in 0..p {
                    gradient[j] += (mu - yi) * row[j];
                    for k in 0..=j {
                        hessian[j * p + k] += w * row[j] * row[k];
                    }
                }
            }
            for j in 1..p {
                gradient[j] += l2 * beta[j];
                hessian[j * p + j] += l2;
            }
            hessian[0] += 1e-9;
            let Some(step) = solve_cholesky(&mut hessian, p, &gradient) else {
                break;
            };
            // Halve the Newton step until the objective does not rise.
            let mut t = 1.0;
            let (next, value) = loop {
                let next: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b - t * s).collect();
                let value = objective(&next);
                if value <= current || t < 1e-6 {
                    break (next, value);
                }
                t /= 2.0;
            };
            let moved = step.iter().map(|s| (t * s).abs()).fold(0.0, f64::max);
            (beta, current) = (next, value);
            if moved < 1e-9 {
                break;
            }
        }
        LogReg {
            mean,
            scale,
            intercept: beta[0],
            weights: beta[1..].to_vec(),
        }
    }

    /// The probability of each row of `x` (row-major, the columns of the fit).
    pub fn predict(&self, x: &[f32]) -> Vec<f32> {
        let cols = self.weights.len();
        standardise(x, cols, &self.mean, &self.scale)
            .chunks(cols.max(1))
            .map(|z| {
                let eta: f64 = z.iter().zip(&self.weights).map(|(a, b)| a * b).sum();
                sigmoid(self.intercept + eta) as f32
            })
            .collect()
    }

    /// The weight of each standardised feature.
    #[cfg(test)]
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

/// Column means and standard deviations (1 for a constant column, which becomes all zeros).
fn standardisation(x: &[f32], rows: usize, cols: usize) -> (Vec<f64>, Vec<f64>) {
    let n = rows.max(1) as f64;
    let mut mean = vec![0.0; cols];
    for row in x.chunks(cols) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, &v)| *m += f64::from(v) / n);
    }
    let mut var = vec![0.0; cols];
    for row in x.chunks(cols) {
        for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (f64::from(v) - m).powi(2) / n;
        }
    }
    let scale = var
        .into_iter()
        .map(|v| if v > 1e-24 { v.sqrt() } else { 1.0 })
        .collect();
    (mean, scale)
}

fn standardise(x: &[f32], cols: usize, mean: &[f64], scale: &[f64]) -> Vec<f64> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| (f64::from(v) - mean[i % cols]) / scale[i % cols])
        .collect()
}

/// Solves `A s = b` for a symmetric positive definite `A` given by its lower triangle (row
/// major, `n × n`; overwritten by its Cholesky factor). `None` if `A` is not positive definite.
fn solve_cholesky(a: &mut [f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    for j in 0..n {
        let d = a[j * n + j] - (0..j).map(|k| a[j * n + k].powi(2)).sum::<f64>();
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        a[j * n + j] = d.sqrt();
        for i in j + 1..n {
            let s = a[i * n + j] - (0..j).map(|k| a[i * n + k] * a[j * n + k]).sum::<f64>();
            a[i * n + j] = s / a[j * n + j];
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        y[i] = (b[i] - (0..i).map(|k| a[i * n + k] * y[k]).sum::<f64>()) / a[i * n + i];
    }
    for i in (0..n).rev() {
        y[i] = (y[i] - (i + 1..n).map(|k| a[k * n + i] * y[k]).sum::<f64>()) / a[i * n + i];
    }
    Some(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use crate::train::metrics::roc_auc;

    /// Rows of three features: a signal, noise, and a constant; `y = 2 x0 - 1 + noise > 0`.
    fn learnable(seed: u64, n: usize) -> (Vec<f32>, Vec<bool>) {
        let mut rng = Rng::new(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let (signal, noise) = (rng.uniform(0.0, 100.0), rng.uniform(-5.0, 5.0));
            x.extend([signal as f32, noise as f32, 7.0]);
            y.push(0.02 * signal - 1.0 + 0.5 * (rng.next_f64() - 0.5) > 0.0);
        }
        (x, y)
    }

    #[test]
    fn learns_a_noisy_rule_and_ignores_noise_and_constants() {
        let (x, y) = learnable(1, 600);
        let model = LogReg::fit(&x, 3, &y, 1.0);
        let (test_x, test_y) = learnable(2, 400);
        let auc = roc_auc(&test_y, &model.predict(&test_x));
        assert!(auc > 0.95, "held-out ROC AUC {auc}");
        let w = model.weights();
        assert!(
            w[0] > 2.0 && w[1].abs() < 0.15 * w[0] && w[2].abs() < 1e-9,
            "{w:?}"
        );
        assert_eq!(model, LogReg::fit(&x, 3, &y, 1.0), "deterministic");
    }

    #[test]
    fn separable_data_stays_finite_and_the_penalty_shrinks() {
        let x: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let y: Vec<bool> = (0..40).map(|i| i >= 20).collect();
        let loose = LogReg::fit(&x, 1, &y, 0.01);
        let tight = LogReg::fit(&x, 1, &y, 100.0);
        let (wl, wt) = (loose.weights()[0], tight.weights()[0]);
        assert!(wl.is_finite() && wl > wt && wt > 0.0, "{wl} {wt}");
        assert_eq!(roc_auc(&y, &loose.predict(&x)), 1.0);
        let p = loose.predict(&[0.0, 39.0]);
        assert!(p[0] < 0.01 && p[1] > 0.99, "{p:?}");
    }

    #[test]
    fn the_unpenalised_intercept_matches_the_base_rate() {
        // One constant feature: the fit can only learn the intercept, logit(12 / 40).
        let x = vec![1.0f32; 40];
        let y: Vec<bool> = (0..40).map(|i| i < 12).collect();
        let p = LogReg::fit(&x, 1, &y, 1.0).predict(&[1.0])[0];
        assert!((p - 0.3).abs() < 1e-6, "{p}");
    }

    #[test]
    fn cholesky_solves_a_small_system() {
        // [[4, 2], [2, 3]] s = [2, 5] -> s = [-0.5, 2].
        let mut a = vec![4.0, 0.0, 2.0, 3.0];
        let s = solve_cholesky(&mut a, 2, &[2.0, 5.0]).unwrap();
        assert!(
            (s[0] + 0.5).abs() < 1e-12 && (s[1] - 2.0).abs() < 1e-12,
            "{s:?}"
        );
        assert_eq!(solve_cholesky(&mut [0.0], 1, &[1.0]), None);
    }
}
