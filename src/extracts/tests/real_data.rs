//! The 1,470-employee HR reference extract. It is not part of the repository, so these tests
//! are ignored by default and run only when asked, with the folder named:
//!
//! ```sh
//! TURNOVER_REFERENCE_DATA=DIR cargo test --lib -- --ignored real_data
//! ```

use std::path::PathBuf;

use serde_json::json;

use super::*;

const NEEDS: &str = "needs the reference extract: TURNOVER_REFERENCE_DATA=DIR";

fn reference_dir() -> PathBuf {
    let dir = std::env::var_os("TURNOVER_REFERENCE_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{NEEDS}"));
    assert!(
        dir.join("extrait_sondage.csv").is_file(),
        "the reference extract is missing: expected the three files in {}",
        dir.display()
    );
    dir
}

#[test]
#[ignore = "needs the reference extract: TURNOVER_REFERENCE_DATA=DIR"]
fn the_reference_extract_joins_into_1470_employees() {
    let extracts = read_dir(&reference_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(extracts.rows.len(), 1_470);
    assert!(extracts.orphans.is_empty(), "{}", extracts.orphans);
    assert!(extracts.has_labels());
    let leavers = extracts
        .rows
        .iter()
        .filter(|r| r.label == Some(true))
        .count();
    assert_eq!(leavers, 237);
    assert!(extracts.rows.iter().all(|r| r.record.len() == 30));
    assert!(extracts
        .rows
        .windows(2)
        .all(|w| w[0].employee_id < w[1].employee_id));
    let first = &extracts.rows[0];
    assert_eq!(first.employee_id, 1);
    assert_eq!(first.label, Some(true));
    let last = extracts.rows.last().map(|r| r.employee_id);
    assert_eq!(last, Some(2068));
    assert_eq!(
        extracts.rows[2].record["statut_marital"],
        json!("Célibataire")
    );
}

#[test]
#[ignore = "needs the reference extract: TURNOVER_REFERENCE_DATA=DIR"]
fn every_reference_record_is_valid() {
    let extracts = read_dir(&reference_dir()).unwrap_or_else(|e| panic!("{e}"));
    let valid = validate_rows(&extracts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(valid.len(), 1_470);
}
