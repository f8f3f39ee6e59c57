//! Validating the joined records with [`crate::record::validate`], and tracing each broken rule
//! back to the file, line and column its value came from.

use std::io::Read;

use super::Orphans;
use super::RecordError;
use super::{join, read};
use super::{ExtractError, ExtractFile, ExtractRow, Extracts, FieldLocation, InvalidRecords};
use crate::record::{self, FieldError, Record};

/// The most record errors [`read_records`] keeps; the others are counted. An upload of bad
/// values would otherwise hold an error per cell.
const KEPT_ERRORS: usize = 100;

/// Validates every row of `extracts` against the rules of the employee record.
///
/// All-or-nothing: an extract with one bad value is more likely a bad export than one bad
/// employee, so the operator fixes the file rather than get a partial scoring.
///
/// # Errors
/// [`ExtractError::InvalidRecords`] listing every broken rule of every row, each with the
/// employee, the file, line and column of the value, the rule's message and the value.
pub fn validate_rows(extracts: &Extracts) -> Result<Vec<(&ExtractRow, Record)>, ExtractError> {
    let mut valid = Vec::with_capacity(extracts.rows.len());
    let mut invalid = InvalidRecords {
        employees: 0,
        errors: Vec::new(),
        unlisted: 0,
    };
    for row in &extracts.rows {
        match record::validate(&row.record) {
            Ok(record) => valid.push((row, record)),
            Err(errors) => {
                invalid.employees += 1;
                let id = row.employee_id;
                invalid
                    .errors
                    .extend(errors.into_iter().map(|e| locate(extracts, id, e)));
            }
        }
    }
    if invalid.employees > 0 {
        return Err(invalid.into());
    }
    Ok(valid)
}

/// Reads, joins and validates the three extracts of at most `max_rows` data lines each, one
/// employee at a time, keeping only the validated records: the way to read an upload, whose
/// size a client chooses. The rules are [`validate_rows`]'s, all or nothing.
///
/// # Errors
/// [`ExtractError::TooManyRows`] for a file past `max_rows`, every error of
/// [`super::read_readers`], and [`ExtractError::InvalidRecords`] listing the first broken
/// rules and counting the others.
pub fn read_records(
    sondage: impl Read,
    eval: impl Read,
    sirh: impl Read,
    max_rows: usize,
) -> Result<(Vec<(i64, Record)>, Orphans), ExtractError> {
    let tables = read::read_tables(sondage, eval, sirh, Some(max_rows))?;
    let mut valid = Vec::new();
    let mut invalid = InvalidRecords {
        employees: 0,
        errors: Vec::new(),
        unlisted: 0,
    };
    let orphans = join::join_each(tables, |row, at| match record::validate(&row.record) {
        Ok(record) => valid.push((row.employee_id, record)),
        Err(errors) => {
            invalid.employees += 1;
            for error in errors {
                if invalid.errors.len() < KEPT_ERRORS {
                    let lines = |file: ExtractFile| Some(at[file.index()]);
                    invalid
                        .errors
                        .push(locate_with(row.employee_id, error, lines));
                } else {
                    invalid.unlisted += 1;
                }
            }
        }
    });
    if invalid.employees > 0 {
        return Err(invalid.into());
    }
    Ok((valid, orphans))
}

/// Where the field(s) of an error come from; a cross-field rule names a comma-joined pair.
pub(super) fn locate(extracts: &Extracts, employee_id: i64, error: FieldError) -> RecordError {
    locate_with(employee_id, error, |file| extracts.line(employee_id, file))
}

fn locate_with(
    employee_id: i64,
    error: FieldError,
    line: impl Fn(ExtractFile) -> Option<u64>,
) -> RecordError {
    let locations = error
        .field
        .split(',')
        .map(str::trim)
        .filter_map(|name| {
            let file = ExtractFile::of_field(name)?;
            Some(FieldLocation {
                file,
                line: line(file),
                column: name.to_owned(),
            })
        })
        .collect();
    RecordError {
        employee_id,
        field: error.field,
        locations,
        message: error.message,
        value: error.value,
    }
}
