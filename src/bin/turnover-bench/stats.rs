//! Small statistics: medians of runs, percentiles of latencies, and the table printed at the end.

/// The median of `values` (the mean of the middle two for an even count); `NaN` when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

/// The `q` quantile (0..=1) of already sorted values, nearest rank; `NaN` when empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One line of the final table: a measure, its median over the runs, the runs themselves.
pub struct Row {
    pub measure: String,
    pub median: f64,
    pub runs: Vec<f64>,
    pub unit: &'static str,
}

impl Row {
    pub fn new(measure: impl Into<String>, unit: &'static str, runs: Vec<f64>) -> Self {
        Row {
            measure: measure.into(),
            median: median(&runs),
            runs,
            unit,
        }
    }
}

/// Prints the rows as a Markdown table (pasteable into docs/performance.md).
pub fn print_table(rows: &[Row]) {
    let width = rows
        .iter()
        .map(|r| r.measure.len())
        .max()
        .unwrap_or(10)
        .max(10);
    println!(
        "| {:width$} | {:>12} | {:<6} | runs",
        "measure", "median", "unit"
    );
    println!("| {:-<width$} | {:->12} | {:-<6} | ----", "", "", "");
    for r in rows {
        let runs: Vec<String> = r.runs.iter().map(|x| fmt(*x)).collect();
        println!(
            "| {:width$} | {:>12} | {:<6} | {}",
            r.measure,
            fmt(r.median),
            r.unit,
            runs.join(", ")
        );
    }
}

fn fmt(x: f64) -> String {
    if !x.is_finite() {
        "n/a".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_quantiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let sorted: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(quantile(&sorted, 0.5), 500.0);
        assert_eq!(quantile(&sorted, 0.99), 990.0);
        assert_eq!(quantile(&sorted, 0.999), 999.0);
        assert_eq!(quantile(&sorted, 1.0), 1000.0);
    }
}
