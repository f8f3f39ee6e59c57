//! The outcomes file of `turnover outcomes --csv FILE`: a header line, then one outcome per
//! line, columns `employee_id,left,observed_at` and optionally `source`, in any order (other
//! columns are ignored). The whole file is read and checked before anything is written: the
//! first problem fails it, naming the file, the line (the header is line 1, whatever the line
//! endings) and the column, as the extracts' errors do.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use time::OffsetDateTime;

use super::{check_source, parse_employee_id, parse_left, parse_observed_at, Outcome};
use crate::csvfile::{CsvFile, CsvProblem};

/// The columns, required ones first.
pub const COLUMNS: [&str; 4] = ["employee_id", "left", "observed_at", "source"];

/// Why an outcomes file was refused; every message starts with the file's name.
#[derive(Debug, thiserror::Error)]
pub enum OutcomeFileError {
    #[error("cannot read {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}, line 1: missing column{} {}; the header line has: {}{}",
        if columns.len() > 1 { "s" } else { "" }, columns.join(", "), found.join(", "),
        if found.len() == 1 && found[0].contains(';') { " (the file seems to use ';' as separator; it must use ',')" } else { "" })]
    MissingColumns {
        file: String,
        columns: Vec<String>,
        found: Vec<String>,
    },
    #[error("{file}, line 1: column {column} appears more than once in the header")]
    DuplicateColumn { file: String, column: String },
    #[error("{file}, line {line}, column {column}: {reason} (value: \"{value}\")")]
    Malformed {
        file: String,
        line: u64,
        column: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "{file}, line {line}, column employee_id: employee {employee_id} already appears on line \
         {first_line}; give each employee one outcome per file"
    )]
    Duplicate {
        file: String,
        employee_id: i64,
        first_line: u64,
        line: u64,
    },
    #[error("{file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Csv {
        file: String,
        line: Option<u64>,
        message: String,
    },
}

/// Reads an outcomes file; `source` defaults to the file's name.
///
/// # Errors
/// As [`read_csv`], and [`OutcomeFileError::Io`] when the file cannot be opened.
pub fn read_csv_file(path: &Path, now: OffsetDateTime) -> Result<Vec<Outcome>, OutcomeFileError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| OutcomeFileError::Io {
        file: name.clone(),
        source,
    })?;
    let default_source = path
        .file_name()
        .map_or_else(|| name.clone(), |n| n.to_string_lossy().into_owned());
    read_csv(&name, file, &default_source, now)
}

/// Reads outcomes from CSV bytes; `file` names them in errors, `default_source` fills an
/// absent or empty `source`. Cells are trimmed; a UTF-8 byte-order mark is accepted.
///
/// # Errors
/// The first problem: a missing or repeated column, a cell that breaks its rule, an employee
/// on two lines, a line that is not well-formed UTF-8 CSV.
pub fn read_csv(
    file: &str,
    input: impl Read,
    default_source: &str,
    now: OffsetDateTime,
) -> Result<Vec<Outcome>, OutcomeFileError> {
    let mut csv = CsvFile::open(input).map_err(|p| csv_error(file, p))?;
    let mut at = [None; 4];
    for (slot, name) in at.iter_mut().zip(COLUMNS) {
        *slot = csv
            .column(name)
            .map_err(|_| OutcomeFileError::DuplicateColumn {
                file: file.to_owned(),
                column: name.to_owned(),
            })?;
    }
    let missing: Vec<String> = COLUMNS[..3]
        .iter()
        .zip(&at)
        .filter(|(_, i)| i.is_none())
        .map(|(c, _)| (*c).to_owned())
        .collect();
    let [Some(id_at), Some(left_at), Some(observed_at), source_at] = at else {
        return Err(OutcomeFileError::MissingColumns {
            file: file.to_owned(),
            columns: missing,
            found: csv.headers().iter().map(str::to_owned).collect(),
        });
    };

    let mut outcomes = Vec::new();
    let mut first_lines: HashMap<i64, u64> = HashMap::new();
    let mut record = ::csv::StringRecord::new();
    while let Some(line) = csv.next_row(&mut record).map_err(|p| csv_error(file, p))? {
        let malformed =
            |column: &'static str, value: &str, reason: String| OutcomeFileError::Malformed {
                file: file.to_owned(),
                line,
                column,
                value: value.to_owned(),
                reason,
            };
        let cell = |i: usize| record.get(i).unwrap_or("");
        let employee_id =
            parse_employee_id(cell(id_at)).map_err(|r| malformed("employee_id", cell(id_at), r))?;
        let left = parse_left(cell(left_at)).map_err(|r| malformed("left", cell(left_at), r))?;
        let observed = parse_observed_at(cell(observed_at), now)
            .map_err(|r| malformed("observed_at", cell(observed_at), r))?;
        let source = match source_at.map(cell) {
            None | Some("") => default_source.to_owned(),
            Some(s) => {
                check_source(s).map_err(|r| malformed("source", s, r))?;
                s.to_owned()
            }
        };
        if let Some(&first_line) = first_lines.get(&employee_id) {
            return Err(OutcomeFileError::Duplicate {
                file: file.to_owned(),
                employee_id,
                first_line,
                line,
            });
        }
        first_lines.insert(employee_id, line);
        outcomes.push(Outcome {
            employee_id,
            left,
            observed_at: observed,
            source,
        });
    }
    Ok(outcomes)
}

/// A problem of the file as CSV, worded for an outcomes file.
fn csv_error(file: &str, problem: CsvProblem) -> OutcomeFileError {
    let file = file.to_owned();
    match problem {
        CsvProblem::Io(source) => OutcomeFileError::Io { file, source },
        CsvProblem::NotUtf8 { line, .. } => OutcomeFileError::Csv {
            file,
            line: line.or(Some(1)),
            message: "not UTF-8 text (the file may be in Latin-1 or Windows-1252); export it as \
                      UTF-8"
                .to_owned(),
        },
        CsvProblem::UnequalLengths {
            line,
            expected_len,
            len,
        } => OutcomeFileError::Csv {
            file,
            line,
            message: format!(
                "this line has {len} values but the header has {expected_len}; look for a \
                 missing or extra comma"
            ),
        },
        CsvProblem::Other(message) => OutcomeFileError::Csv {
            file,
            line: None,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        super::super::fixed_now()
    }

    fn read(text: &str) -> Result<Vec<Outcome>, OutcomeFileError> {
        read_csv("outcomes.csv", text.as_bytes(), "outcomes.csv", now())
    }

    #[test]
    fn reads_every_spelling_and_fills_the_source() {
        let text = "\u{feff}observed_at,employee_id,left,source,note\n\
                    2026-09-30,1,yes,hr-q3,x\n\
                    2026-09-30T12:00:00Z, 2 ,0,,\n";
        let got = read(text).expect("valid");
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].employee_id, got[0].left, got[0].source.as_str()),
            (1, true, "hr-q3")
        );
        assert_eq!(
            (got[1].employee_id, got[1].left, got[1].source.as_str()),
            (2, false, "outcomes.csv")
        );
        let without_source = read("employee_id,left,observed_at\n3,true,2026-01-01\n").expect("ok");
        assert_eq!(without_source[0].source, "outcomes.csv");
    }

    #[test]
    fn errors_name_file_line_and_column_whatever_the_line_endings() {
        for newline in ["\n", "\r\n"] {
            let text = [
                "employee_id,left,observed_at",
                "1,true,2026-01-01",
                "2,maybe,2026-01-01",
                "",
            ]
            .join(newline);
            let err = read(&text).expect_err("bad bool").to_string();
            assert!(
                err.starts_with("outcomes.csv, line 3, column left: expected true or false"),
                "{newline:?}: {err}"
            );
        }
        let err = read("employee_id,observed_at\n1,2026-01-01\n").expect_err("missing");
        assert_eq!(
            err.to_string(),
            "outcomes.csv, line 1: missing column left; the header line has: employee_id, observed_at"
        );
        let err = read("employee_id,left,observed_at\n1,1,2026-01-01\n1,0,2026-02-01\n")
            .expect_err("duplicate");
        assert!(
            err.to_string().starts_with(
                "outcomes.csv, line 3, column employee_id: employee 1 already appears on line 2"
            ),
            "{err}"
        );
        let err = read("employee_id,left,observed_at\n1,1\n").expect_err("ragged");
        assert!(
            err.to_string()
                .starts_with("outcomes.csv, line 2: this line has 2 values"),
            "{err}"
        );
    }
}
