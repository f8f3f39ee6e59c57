//! `turnover score`: the three extracts in, one score per employee out, no broker or database.
//!
//! Also the summary counts shared with the HTTP batch results, so both report alike.

use std::io::Write;

use serde::Serialize;

use crate::extracts::{self, ExtractError, Extracts};
use crate::model::{Contribution, Model, ModelError, RiskLevel, Score};

/// One employee's line of output (contract section 5's batch prediction shape).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmployeeScore {
    pub employee_id: i64,
    pub prediction: u8,
    pub probability_stay: f64,
    pub probability_leave: f64,
    pub risk_level: RiskLevel,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Vec<Contribution>>,
}

impl EmployeeScore {
    pub fn new(employee_id: i64, score: &Score, explanation: Option<Vec<Contribution>>) -> Self {
        EmployeeScore {
            employee_id,
            prediction: score.prediction,
            probability_stay: 1.0 - score.probability,
            probability_leave: score.probability,
            risk_level: score.risk_level,
            explanation,
        }
    }
}

/// Counts over a set of scores.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Summary {
    pub total_stay: u64,
    pub total_leave: u64,
    pub high_risk_count: u64,
    pub medium_risk_count: u64,
    pub low_risk_count: u64,
}

impl Summary {
    /// Adds one score given its class and risk band.
    pub fn add(&mut self, prediction: u8, risk: RiskLevel) {
        *if prediction == 1 {
            &mut self.total_leave
        } else {
            &mut self.total_stay
        } += 1;
        *match risk {
            RiskLevel::High => &mut self.high_risk_count,
            RiskLevel::Medium => &mut self.medium_risk_count,
            RiskLevel::Low => &mut self.low_risk_count,
        } += 1;
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} employees: {} predicted to stay, {} to leave; risk high {}, medium {}, low {}",
            self.total_stay + self.total_leave,
            self.total_stay,
            self.total_leave,
            self.high_risk_count,
            self.medium_risk_count,
            self.low_risk_count
        )
    }
}

/// Why offline scoring failed.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot write the output: {0}")]
    Write(#[from] std::io::Error),
    #[error("cannot write the output: {0}")]
    Csv(#[from] csv::Error),
}

/// Scores every employee of the extracts in one libxgboost call (two with `explain`).
///
/// # Errors
/// An invalid record (with its file, line and column) or a libxgboost failure.
pub fn score_extracts(
    model: &Model,
    extracts: &Extracts,
    explain: Option<usize>,
) -> Result<(Vec<EmployeeScore>, Summary), ScoreError> {
    let rows = extracts::validate_rows(extracts)?;
    let records: Vec<_> = rows.iter().map(|(_, r)| r).collect();
    let scores = model.score(&records)?;
    let mut explanations = match explain {
        Some(k) => model.explain(&records, k)?.into_iter().map(Some).collect(),
        None => vec![None; records.len()],
    };
    let mut summary = Summary::default();
    let out = rows
        .iter()
        .zip(&scores)
        .zip(explanations.iter_mut())
        .map(|(((row, _), score), explanation)| {
            summary.add(score.prediction, score.risk_level);
            EmployeeScore::new(row.employee_id, score, explanation.take())
        })
        .collect();
    Ok((out, summary))
}

/// Writes one CSV line per employee; with explanations, a `top_factors` column
/// (`field:+0.123;field:-0.045`).
///
/// # Errors
/// When writing fails.
pub fn write_csv(out: impl Write, scores: &[EmployeeScore]) -> Result<(), ScoreError> {
    let mut w = csv::Writer::from_writer(out);
    let explain = scores.iter().any(|s| s.explanation.is_some());
    let mut header = vec![
        "employee_id",
        "prediction",
        "probability_stay",
        "probability_leave",
        "risk_level",
    ];
    if explain {
        header.push("top_factors");
    }
    w.write_record(&header)?;
    for s in scores {
        let mut line = vec![
            s.employee_id.to_string(),
            s.prediction.to_string(),
            format!("{:.6}", s.probability_stay),
            format!("{:.6}", s.probability_leave),
            s.risk_level.as_str().to_owned(),
        ];
        if explain {
            let factors = s
                .explanation
                .iter()
                .flatten()
                .map(|c| format!("{}:{:+.4}", c.field, c.contribution));
            line.push(factors.collect::<Vec<_>>().join(";"));
        }
        w.write_record(&line)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes one JSON object per line.
///
/// # Errors
/// When writing fails.
pub fn write_jsonl(mut out: impl Write, scores: &[EmployeeScore]) -> Result<(), ScoreError> {
    for s in scores {
        serde_json::to_writer(&mut out, s).map_err(std::io::Error::other)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
