use super::*;
use proptest::prelude::*;

const T: bool = true;
const F: bool = false;

#[test]
fn roc_auc_hand_worked() {
    let y = [F, F, T, T];
    assert_eq!(roc_auc(&y, &[0.1, 0.2, 0.3, 0.4]), 1.0);
    assert_eq!(roc_auc(&y, &[0.4, 0.3, 0.2, 0.1]), 0.0);
    assert_eq!(roc_auc(&y, &[0.5; 4]), 0.5);
    assert_eq!(roc_auc(&y, &[0.1, 0.4, 0.35, 0.8]), 0.75);
    // Pairs (pos, neg): (.5,.5)=1/2, (.5,.2)=1, (.8,.5)=1, (.8,.2)=1 -> 3.5 / 4.
    assert_eq!(roc_auc(&[T, F, T, F], &[0.5, 0.5, 0.8, 0.2]), 0.875);
    assert_eq!(roc_auc(&[T, F], &[0.0, -0.0]), 0.5);
    assert!(roc_auc(&[T, T], &[0.1, 0.2]).is_nan() && roc_auc(&[], &[]).is_nan());
    assert!(roc_auc(&[T, F], &[f32::NAN, 0.2]).is_nan());
}

#[test]
fn average_precision_hand_worked() {
    // Descending: .8 T (P=1, R=1/2), .4 F, .35 T (P=2/3, R=1) -> 1/2 + 1/2 * 2/3 = 5/6.
    assert!((pr_auc(&[F, F, T, T], &[0.1, 0.4, 0.35, 0.8]) - 5.0 / 6.0).abs() < 1e-15);
    // Ties grouped: .8 {T} -> 1/2 * 1; .5 {T, F} -> 1/2 * 2/3.
    assert!((pr_auc(&[T, F, T, F], &[0.5, 0.5, 0.8, 0.2]) - 5.0 / 6.0).abs() < 1e-15);
    assert_eq!(pr_auc(&[T, F, F, F], &[0.2; 4]), 0.25);
    assert_eq!(pr_auc(&[F, T], &[0.1, 0.9]), 1.0);
    assert!(pr_auc(&[F, F], &[0.1, 0.9]).is_nan());
}

const Y7: [bool; 7] = [T, T, T, F, F, F, F];
const S7: [f32; 7] = [0.9, 0.6, 0.2, 0.7, 0.3, 0.1, 0.05];

#[test]
fn confusion_and_ratios() {
    let c = Confusion::from_scores(&Y7, &S7, 0.5);
    assert_eq!((c.tp, c.fp, c.tn, c.fn_), (2, 1, 3, 1));
    assert_eq!([c.precision(), c.recall(), c.f1()], [2.0 / 3.0; 3]);
    assert_eq!(c.accuracy(), 5.0 / 7.0);
    assert_eq!(Confusion::from_scores(&Y7, &S7, 0.6).tp, 2); // `>=`
    let z = Confusion::default();
    assert_eq!([z.precision(), z.recall(), z.f1(), z.accuracy()], [0.0; 4]);
}

#[test]
fn best_f1_threshold_hand_worked() {
    // F1 = 2tp/(tp+fp+3) at .9 .7 .6 .3 .2 ...: 2/4, 2/5, 4/6, 4/7, 6/8, 6/9, 6/10.
    assert_eq!(best_f1_threshold(&Y7, &S7), Some((0.2, 0.75)));
    // 2/3 at .9 and at .6: the higher threshold wins.
    let best = best_f1_threshold(&[T, F, F, T], &[0.9, 0.8, 0.7, 0.6]);
    assert_eq!(best, Some((0.9, 2.0 / 3.0)));
    assert_eq!(best_f1_threshold(&[], &[]), None);
    assert_eq!(best_f1_threshold(&[F, F], &[0.3, 0.1]), Some((0.3, 0.0)));
}

#[test]
fn mean_sd_hand_worked() {
    let (m, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
    assert_eq!((m, sd), (5.0, (32.0f64 / 7.0).sqrt()));
    assert!(mean_sd(&[]).0.is_nan() && mean_sd(&[]).1.is_nan());
    assert!(mean_sd(&[3.0]).0 == 3.0 && mean_sd(&[3.0]).1.is_nan());
}

#[test]
fn metrics_serialise_with_contract_names() {
    let m = serde_json::to_value(Evaluation::compute(&Y7, &S7, 0.5)).unwrap();
    assert_eq!(m["confusion_matrix"], serde_json::json!([[3, 1], [1, 2]]));
    assert_eq!(m["accuracy"], 5.0 / 7.0);
    let keys = [
        "f1",
        "precision",
        "recall",
        "roc_auc",
        "pr_auc",
        "accuracy",
        "brier",
    ];
    assert!(keys.iter().all(|k| m[k].is_f64()) && m.as_object().unwrap().len() == 8);
    // Brier: (0.1² + 0.4² + 0.8² + 0.7² + 0.3² + 0.1² + 0.05²) / 7.
    assert!((m["brier"].as_f64().unwrap() - 1.4025 / 7.0).abs() < 1e-7);
    let undefined = serde_json::to_value(Evaluation::compute(&[F], &[0.1], 0.5)).unwrap();
    assert!(undefined["roc_auc"].is_null());
}

fn rows() -> impl Strategy<Value = (Vec<bool>, Vec<f32>)> {
    let row = (any::<bool>(), -20i16..20);
    prop::collection::vec(row, 0..60)
        .prop_map(|r| r.into_iter().map(|(y, s)| (y, f32::from(s))).unzip())
}

proptest! {
    #[test]
    fn roc_auc_is_pairwise_and_rank_invariant((y, s) in rows()) {
        let auc = roc_auc(&y, &s);
        let pos: Vec<f32> = s.iter().zip(&y).filter(|r| *r.1).map(|r| *r.0).collect();
        let neg: Vec<f32> = s.iter().zip(&y).filter(|r| !*r.1).map(|r| *r.0).collect();
        prop_assume!(!pos.is_empty() && !neg.is_empty());
        let half_wins = |p: f32| neg.iter().map(|&n| u32::from(p > n) * 2 + u32::from(p == n)).sum::<u32>();
        let twice_u: u32 = pos.iter().map(|&p| half_wins(p)).sum();
        prop_assert!((0.0..=1.0).contains(&auc));
        prop_assert_eq!(auc, f64::from(twice_u) / (2 * pos.len() * neg.len()) as f64);
        // x -> x^3 / 8 - 5 is strictly increasing and exact in f32 on these integers.
        let t: Vec<f32> = s.iter().map(|x| x * x * x / 8.0 - 5.0).collect();
        prop_assert_eq!(roc_auc(&y, &t), auc);
    }

    #[test]
    fn best_f1_matches_brute_force((y, s) in rows()) {
        let f1_at = |t: f32| Confusion::from_scores(&y, &s, t).f1();
        let best = best_f1_threshold(&y, &s);
        prop_assert_eq!(best.map(|b| b.1), s.iter().map(|&t| f1_at(t)).reduce(f64::max));
        if let Some((t, f1)) = best {
            prop_assert_eq!(f1_at(t), f1);
            prop_assert!(s.iter().all(|&u| u <= t || f1_at(u) < f1));
        }
    }
}
