//! Validating the joined records with [`crate::record::validate`], and tracing each broken rule
//! back to the file, line and column its value came from.

use super::RecordError;
use super::{ExtractError, ExtractFile, ExtractRow, Extracts, FieldLocation, InvalidRecords};
use crate::record::{self, FieldError, Record};

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

/// Where the field(s) of an error come from; a cross-field rule names a comma-joined pair.
pub(super) fn locate(extracts: &Extracts, employee_id: i64, error: FieldError) -> RecordError {
    let locations = error
        .field
        .split(',')
        .map(str::trim)
        .filter_map(|name| {
            let file = ExtractFile::of_field(name)?;
            Some(FieldLocation {
                file,
                line: extracts.line(employee_id, file),
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
