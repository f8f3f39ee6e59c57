use super::*;
use crate::rng::Rng;

const T: bool = true;
const F: bool = false;

/// Rows whose true probability of leaving is `sigmoid(z)`, scored by an overconfident and
/// shifted model, `sigmoid(2.5 z + 1)`: what the calibrators must undo.
fn miscalibrated(seed: u64, n: usize) -> (Vec<bool>, Vec<f32>) {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let z = rng.uniform(-3.0, 1.0);
            let left = rng.next_f64() < sigmoid(z);
            (left, sigmoid(2.5 * z + 1.0) as f32)
        })
        .unzip()
}

fn applied(c: &Calibration, raw: &[f32]) -> Vec<f32> {
    raw.iter().map(|&p| c.apply(p)).collect()
}

#[test]
fn pav_pools_violators_by_hand() {
    let Calibration::Isotonic { x, y } = isotonic(&[T, F, T, T], &[0.1, 0.2, 0.3, 0.4]) else {
        panic!("isotonic")
    };
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    assert_eq!(x32, [0.1, 0.2, 0.3, 0.4]);
    assert_eq!(y, [0.5, 0.5, 1.0, 1.0]);
    // Equal raw probabilities are one point.
    let tied = isotonic(&[T, F, F], &[0.5, 0.5, 0.2]);
    assert_eq!(
        tied,
        Calibration::Isotonic {
            x: vec![f64::from(0.2f32), 0.5],
            y: vec![0.0, 0.5]
        }
    );
}

#[test]
fn platt_and_isotonic_are_monotone_and_reduce_brier_on_new_rows() {
    let (fit_y, fit_p) = miscalibrated(1, 3000);
    let (test_y, test_p) = miscalibrated(2, 3000);
    let raw = brier(&test_y, &test_p);
    for calibration in [platt(&fit_y, &fit_p), isotonic(&fit_y, &fit_p)] {
        assert_eq!(calibration.problem(), None, "{calibration:?}");
        let out = applied(&calibration, &test_p);
        let calibrated = brier(&test_y, &out);
        assert!(
            calibrated < raw - 0.01,
            "{}: Brier {calibrated} against {raw} uncalibrated",
            calibration.method()
        );
        let mut grid: Vec<f32> = (0..=1000).map(|i| i as f32 / 1000.0).collect();
        grid.extend(&test_p);
        grid.sort_by(f32::total_cmp);
        let mapped = applied(&calibration, &grid);
        assert!(mapped.windows(2).all(|w| w[0] <= w[1]), "monotone");
    }
    // The truth is sigmoid(0.4 logit(p) - 0.4): Platt recovers it.
    let Calibration::Platt { a, b } = platt(&fit_y, &fit_p) else {
        panic!("platt")
    };
    assert!(
        (a - 0.4).abs() < 0.06 && (b + 0.4).abs() < 0.15,
        "a {a} b {b}"
    );
}

#[test]
fn platt_stays_finite_on_separable_scores() {
    let Calibration::Platt { a, b } = platt(&[F, F, T, T], &[0.1, 0.2, 0.8, 0.9]) else {
        panic!("platt")
    };
    assert!(a.is_finite() && b.is_finite() && a > 0.0, "a {a} b {b}");
}

#[test]
fn cross_validation_refuses_none_when_it_is_miscalibrated() {
    // Two repeats of 800 rows, laid end to end as the search pools them.
    let (labels, first) = miscalibrated(3, 800);
    let mut rng = Rng::new(4);
    let second: Vec<f32> = first
        .iter()
        .map(|&p| (f64::from(p) * rng.uniform(0.95, 1.05)).min(1.0) as f32)
        .collect();
    let raw: Vec<f32> = first.iter().chain(&second).copied().collect();
    let choice = choose(&labels, &raw, 5, 42).expect("folds");
    assert_ne!(choice.method, "none", "{choice:?}");
    assert_eq!(choice.method, choice.calibration.method());
    let pooled: Vec<bool> = labels.iter().chain(&labels).copied().collect();
    assert_eq!(choice.cv_brier.none, brier(&pooled, &raw));
    let chosen = [choice.cv_brier.platt, choice.cv_brier.isotonic];
    assert!(
        chosen.iter().all(|&b| b < choice.cv_brier.none),
        "{choice:?}"
    );
    assert_eq!(choice, choose(&labels, &raw, 5, 42).expect("folds"));
}

#[test]
fn log_loss_hand_worked() {
    let l = log_loss(&[T, F], &[0.8, 0.4]);
    let want = -(0.8f32 as f64).ln() / 2.0 - (1.0 - 0.4f32 as f64).ln() / 2.0;
    assert!((l - want).abs() < 1e-12);
    assert!(log_loss(&[T], &[0.0]).is_finite());
}
