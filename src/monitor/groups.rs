//! `turnover_model_group_metric{model_version, role, attribute, group, metric}`: the
//! `model_performance_by_group` view as gauges, rebuilt on each refresh like the live figures
//! (a group that leaves the view leaves the gauges; a NULL rate is not exported as 0).
//! `TurnoverFairnessGap` compares the groups of an attribute with them.

use crate::metrics::Metrics;
use crate::storage::GroupPerformance;

/// Replaces the gauges with `rows`.
pub fn set(metrics: &Metrics, rows: &[GroupPerformance]) {
    let gauge = &metrics.model_group_metric;
    gauge.reset();
    for row in rows {
        let figures = [
            ("count", Some(row.count as f64)),
            ("leavers", Some(row.leavers as f64)),
            ("selection_rate", row.selection_rate),
            ("tpr", row.tpr),
            ("fpr", row.fpr),
            ("precision", row.precision),
        ];
        for (metric, value) in figures {
            if let Some(value) = value {
                gauge
                    .with_label_values(&[
                        &row.model_version,
                        &row.role,
                        &row.attribute,
                        &row.group_value,
                        metric,
                    ])
                    .set(value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_without_leavers_exports_no_tpr() {
        let m = Metrics::new();
        let row = GroupPerformance {
            role: "live".into(),
            model_version: "xgb-1".into(),
            attribute: "genre".into(),
            group_value: "F".into(),
            count: 60,
            leavers: 0,
            selection_rate: Some(0.1),
            tpr: None,
            fpr: Some(0.1),
            precision: Some(0.0),
        };
        set(&m, &[row]);
        let text = m.render();
        let series = |metric: &str| {
            format!(
                "turnover_model_group_metric{{attribute=\"genre\",group=\"F\",metric=\"{metric}\",\
                 model_version=\"xgb-1\",role=\"live\"}}"
            )
        };
        assert!(text.contains(&format!("{} 60", series("count"))), "{text}");
        assert!(
            text.contains(&format!("{} 0.1", series("selection_rate"))),
            "{text}"
        );
        assert!(!text.contains(&series("tpr")), "{text}");
        set(&m, &[]);
        assert!(
            !m.render().contains("turnover_model_group_metric{"),
            "old groups dropped"
        );
    }
}
