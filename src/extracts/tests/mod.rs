//! Tests of the extracts, on small extracts written by [`write_extracts`] and edited as text
//! where a test needs a broken file.

mod errors;
mod example;
mod join;
mod keys;
mod real_data;
mod round_trip;

use std::path::Path;

use serde_json::{Map, Value};

use super::*;

/// A made-up record inside every rule of the record.
pub(super) fn record() -> Map<String, Value> {
    crate::record::sample::example()
}

pub(super) fn row(employee_id: i64, label: Option<bool>) -> ExtractRow {
    ExtractRow {
        employee_id,
        record: record(),
        label,
    }
}

/// Employees 1..=n, labelled `Oui` for even ids.
pub(super) fn rows(n: i64, labelled: bool) -> Vec<ExtractRow> {
    (1..=n)
        .map(|id| row(id, labelled.then_some(id % 2 == 0)))
        .collect()
}

/// The three files' text (sondage, eval, sirh).
pub(super) fn files(rows: &[ExtractRow]) -> [String; 3] {
    ExtractFile::ALL.map(|file| {
        let mut out = Vec::new();
        write_file(file, &mut out, rows).expect("writing to memory");
        String::from_utf8(out).expect("the writer writes UTF-8")
    })
}

pub(super) fn read(files: &[String; 3]) -> Result<Extracts, ExtractError> {
    read_readers(
        files[0].as_bytes(),
        files[1].as_bytes(),
        files[2].as_bytes(),
    )
}

/// The message of the error `files` must give.
pub(super) fn error_message(files: &[String; 3]) -> String {
    match read(files) {
        Ok(extracts) => panic!("expected an error, read {} rows", extracts.rows.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_three_files_hold_the_thirty_record_fields_once() {
    let mut fields: Vec<&str> = ExtractFile::ALL
        .iter()
        .flat_map(|f| f.fields().iter().copied())
        .collect();
    fields.sort_unstable();
    fields.dedup();
    assert_eq!(fields.len(), 30);
    let record = record();
    let mut expected: Vec<&str> = record.keys().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(fields, expected);
}
