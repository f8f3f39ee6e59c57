//! Outcomes (docs/contract.md#outcomes): who actually left, and when it was observed. They are
//! what the `model_performance` view judges the scores against.
//!
//! This module owns the rules of one outcome and its two wire forms: the CSV file of
//! `turnover outcomes --csv` ([`read_csv_file`], errors with file, line and column) and the JSON
//! body of `POST /outcomes` ([`from_slice`], errors as [validation lists](crate::record::FieldError)).
//! It must not write anything: storage upserts what it returns, all or nothing.
//!
//! The rules, the same in both forms:
//! - `employee_id`: a whole number ≥ 0 (the `employee_id` of the scoring requests);
//! - `left`: whether the employee left. In a CSV cell `true`/`false`, `1`/`0`, `yes`/`no` or
//!   `oui`/`non`, in any case; in JSON a boolean;
//! - `observed_at`: when the outcome was known, RFC 3339 (`2026-09-30T17:00:00Z`, an offset is
//!   required) or a date (`2026-09-30`, read as midnight UTC at the start of that day); not in
//!   the future;
//! - `source`: optional, 1 to 200 characters (no control character) naming where the outcome
//!   comes from; default the file's name for the CSV, `http` for the API;
//! - one outcome per employee in one file or request.

mod csv;
mod json;

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, Time};

pub use self::csv::{read_csv_file, COLUMNS};
pub use json::{from_slice, BodyError, MAX_LISTED_ERRORS};

/// The most characters of a `source`.
pub const MAX_SOURCE_CHARS: usize = 200;

/// One employee's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub employee_id: i64,
    /// The employee left (the positive class of the model).
    pub left: bool,
    pub observed_at: OffsetDateTime,
    pub source: String,
}

/// A CSV cell for `left`.
///
/// # Errors
/// The rule, for the error message.
pub fn parse_left(cell: &str) -> Result<bool, String> {
    match cell.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "oui" => Ok(true),
        "false" | "0" | "no" | "non" => Ok(false),
        _ => Err("expected true or false (also 1/0, yes/no, oui/non)".to_owned()),
    }
}

/// An employee id written as text: digits only.
///
/// # Errors
/// The rule, for the error message.
pub fn parse_employee_id(cell: &str) -> Result<i64, String> {
    if cell.is_empty() || !cell.bytes().all(|b| b.is_ascii_digit()) {
        return Err("expected a whole number ≥ 0, like 42".to_owned());
    }
    cell.parse::<i64>()
        .map_err(|_| "the number is too large for an employee id".to_owned())
}

/// `observed_at` as RFC 3339 or a `YYYY-MM-DD` date (midnight UTC), not later than `now`.
///
/// # Errors
/// The rule, for the error message.
pub fn parse_observed_at(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    let at = match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(at) => at,
        Err(_) => parse_date(text).ok_or_else(|| {
            "expected an RFC 3339 time with its offset (2026-09-30T17:00:00Z) or a date \
             (2026-09-30)"
                .to_owned()
        })?,
    };
    if at > now {
        return Err("is in the future; an outcome is what has been observed".to_owned());
    }
    Ok(at)
}

fn parse_date(text: &str) -> Option<OffsetDateTime> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let date = Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()?;
    Some(date.with_time(Time::MIDNIGHT).assume_utc())
}

/// What a `source` may hold, as a regular expression for the OpenAPI document: no control
/// characters (a NUL cannot even be stored in a Postgres `text`).
pub const SOURCE_PATTERN: &str = "^[^\\x00-\\x1f\\x7f]*$";

/// A `source` value: 1 to [`MAX_SOURCE_CHARS`] characters, none of them a control character.
///
/// # Errors
/// The rule, for the error message.
pub fn check_source(source: &str) -> Result<(), String> {
    let n = source.chars().count();
    if n == 0 || n > MAX_SOURCE_CHARS {
        return Err(format!("must be 1 to {MAX_SOURCE_CHARS} characters"));
    }
    if source.chars().any(|c| c.is_ascii_control()) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// The "now" of the CSV and JSON readers' tests: 2026-12-03, midnight UTC.
#[cfg(test)]
fn fixed_now() -> OffsetDateTime {
    Date::from_calendar_date(2026, Month::December, 3)
        .expect("date")
        .midnight()
        .assume_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u8, d: u8, h: u8) -> OffsetDateTime {
        let month = Month::try_from(m).expect("month");
        Date::from_calendar_date(y, month, d)
            .expect("date")
            .with_hms(h, 0, 0)
            .expect("time")
            .assume_utc()
    }

    fn now() -> OffsetDateTime {
        utc(2026, 12, 3, 8)
    }

    #[test]
    fn left_reads_the_documented_spellings_only() {
        for yes in ["true", "TRUE", "1", "yes", "Yes", "oui", "Oui"] {
            assert_eq!(parse_left(yes), Ok(true), "{yes}");
        }
        for no in ["false", "False", "0", "no", "NO", "non"] {
            assert_eq!(parse_left(no), Ok(false), "{no}");
        }
        for bad in ["", "y", "2", "vrai", "left"] {
            assert!(parse_left(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn observed_at_takes_rfc3339_or_a_date_and_refuses_the_future() {
        assert_eq!(
            parse_observed_at("2026-09-30T17:00:00+02:00", now()),
            Ok(utc(2026, 9, 30, 15))
        );
        assert_eq!(
            parse_observed_at("2026-09-30", now()),
            Ok(utc(2026, 9, 30, 0))
        );
        for bad in [
            "2026-09-30T17:00:00",
            "30/09/2026",
            "2026-9-30",
            "2026-02-30",
            "",
        ] {
            let err = parse_observed_at(bad, now()).expect_err(bad);
            assert!(err.contains("RFC 3339"), "{bad}: {err}");
        }
        let err = parse_observed_at("2027-01-01", now()).expect_err("future");
        assert!(err.contains("future"), "{err}");
    }

    #[test]
    fn employee_ids_are_digits_and_sources_bounded() {
        assert_eq!(parse_employee_id("000042"), Ok(42));
        for bad in ["", "-1", "E_1", "4.0", "99999999999999999999"] {
            assert!(parse_employee_id(bad).is_err(), "{bad}");
        }
        assert!(check_source("hr-export").is_ok());
        assert!(check_source("").is_err());
        assert!(check_source(&"é".repeat(200)).is_ok());
        assert!(check_source(&"é".repeat(201)).is_err());
        assert_eq!(
            check_source("hr\u{0}export"),
            Err("must not contain control characters".to_owned())
        );
        assert!(check_source("hr\texport").is_err());
    }
}
