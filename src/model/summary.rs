//! What a set of scores comes to: one line per employee (offline scoring and HTTP batches) and
//! the counts over them, so `turnover score` and `GET /batches/{id}` report alike.

use serde::{Deserialize, Serialize};

use super::{Contribution, RiskLevel, Score};

/// One employee's line of output (the shape of a batch prediction, docs/contract.md#http).
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
