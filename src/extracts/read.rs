//! Reading one extract file into rows keyed by employee id: header check, key normalisation,
//! label parsing, and cells turned into JSON values for the record validator. The CSV itself
//! (lines, header, per-row problems) is [`crate::csvfile`]'s; the join of the three tables is
//! [`super::join`]'s, which calls this module and is not called by it.
//!
//! A row is kept as the CSV reader's record (one buffer and the cell bounds) until the join
//! asks for its fields: a JSON value per cell for every row of a file at once would cost
//! several times the file's size (issue 17).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::io::Read;

use serde_json::{Number, Value};

use super::{ExtractError, ExtractFile, LABEL_COLUMN};
use crate::csvfile::{CsvFile, CsvProblem};

/// One file, read: its rows by employee id.
pub(super) struct Table {
    pub file: ExtractFile,
    /// Each record field of this file and the position of its column.
    columns: Vec<(&'static str, usize)>,
    pub rows: BTreeMap<i64, ParsedRow>,
}

impl Table {
    /// The record fields of one of this table's rows, as the record validator reads them.
    pub fn fields<'a>(
        &'a self,
        row: &'a ParsedRow,
    ) -> impl Iterator<Item = (&'static str, Value)> + 'a {
        self.columns
            .iter()
            .map(|&(name, i)| (name, cell_value(row.cells.get(i).unwrap_or(""))))
    }
}

/// One data line of a file.
pub(super) struct ParsedRow {
    /// Header = line 1.
    pub line: u64,
    cells: csv::StringRecord,
    pub label: Option<bool>,
}

/// The three files read, not joined; with `max_rows`, a file of more data lines is refused
/// ([`ExtractError::TooManyRows`]) as soon as its reading passes the limit.
pub(super) fn read_tables(
    sondage: impl Read,
    eval: impl Read,
    sirh: impl Read,
    max_rows: Option<usize>,
) -> Result<[Table; 3], ExtractError> {
    Ok([
        read_table(ExtractFile::Sondage, sondage, max_rows)?,
        read_table(ExtractFile::Eval, eval, max_rows)?,
        read_table(ExtractFile::Sirh, sirh, max_rows)?,
    ])
}

/// Where the columns this file needs sit in its header.
struct Columns {
    key: usize,
    label: Option<usize>,
    fields: Vec<(&'static str, usize)>,
}

impl Columns {
    fn locate<R: Read>(file: ExtractFile, csv: &CsvFile<R>) -> Result<Self, ExtractError> {
        let position = |name: &str| {
            csv.column(name).map_err(|_| ExtractError::DuplicateColumn {
                file,
                column: name.to_owned(),
            })
        };
        let mut missing = Vec::new();
        let key = position(file.key_column())?;
        if key.is_none() {
            missing.push(file.key_column().to_owned());
        }
        let mut fields = Vec::with_capacity(file.fields().len());
        for &name in file.fields() {
            match position(name)? {
                Some(i) => fields.push((name, i)),
                None => missing.push(name.to_owned()),
            }
        }
        let label = match file {
            ExtractFile::Sondage => position(LABEL_COLUMN)?,
            _ => None,
        };
        match key {
            Some(key) if missing.is_empty() => Ok(Columns { key, label, fields }),
            _ => Err(ExtractError::MissingColumns {
                file,
                columns: missing,
                found: csv.headers().iter().map(str::to_owned).collect(),
            }),
        }
    }
}

fn read_table(
    file: ExtractFile,
    input: impl Read,
    max_rows: Option<usize>,
) -> Result<Table, ExtractError> {
    let mut csv = CsvFile::open(input).map_err(|p| csv_error(file, p))?;
    let columns = Columns::locate(file, &csv)?;
    let mut rows = BTreeMap::new();
    let mut record = csv::StringRecord::new();
    while let Some(line) = csv.next_row(&mut record).map_err(|p| csv_error(file, p))? {
        if let Some(limit) = max_rows.filter(|&limit| rows.len() == limit) {
            return Err(ExtractError::TooManyRows { file, limit });
        }
        let cell = |i: usize| record.get(i).unwrap_or("");
        let malformed = |column: &str, value: &str, reason: String| ExtractError::Malformed {
            file,
            line,
            column: column.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let key = cell(columns.key);
        let id = parse_key(file, key).map_err(|r| malformed(file.key_column(), key, r))?;
        let label = match columns.label {
            Some(i) => Some(parse_label(cell(i)).map_err(|r| malformed(LABEL_COLUMN, cell(i), r))?),
            None => None,
        };
        match rows.entry(id) {
            Entry::Occupied(first) => {
                let first: &ParsedRow = first.get();
                return Err(ExtractError::DuplicateId {
                    file,
                    column: file.key_column(),
                    employee_id: id,
                    first_line: first.line,
                    line,
                });
            }
            Entry::Vacant(slot) => {
                slot.insert(ParsedRow {
                    line,
                    cells: record.clone(),
                    label,
                });
            }
        }
    }
    Ok(Table {
        file,
        columns: columns.fields,
        rows,
    })
}

/// Normalises a key to the employee id: `000001` (sondage), `E_1` (eval), `1` (sirh).
pub(super) fn parse_key(file: ExtractFile, raw: &str) -> Result<i64, String> {
    let expected = match file {
        ExtractFile::Sondage => "expected digits, like 000001",
        ExtractFile::Eval => "expected E_ followed by digits, like E_1",
        ExtractFile::Sirh => "expected a whole number, like 1",
    };
    if raw.is_empty() {
        return Err(format!("the employee key is empty; {expected}"));
    }
    let digits = match file {
        ExtractFile::Eval => raw.strip_prefix("E_").unwrap_or(""),
        ExtractFile::Sondage | ExtractFile::Sirh => raw,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("not a valid employee key; {expected}"));
    }
    digits
        .parse::<i64>()
        .map_err(|_| "the number is too large for an employee key".to_owned())
}

fn parse_label(raw: &str) -> Result<bool, String> {
    if raw.eq_ignore_ascii_case("oui") {
        Ok(true)
    } else if raw.eq_ignore_ascii_case("non") {
        Ok(false)
    } else {
        Err("expected Oui or Non".to_owned())
    }
}

/// A cell as the record validator sees it: a number when it reads as one, `null` when empty,
/// else the text (`"11 %"` is the validator's to judge).
pub(super) fn cell_value(cell: &str) -> Value {
    if cell.is_empty() {
        return Value::Null;
    }
    if let Ok(i) = cell.parse::<i64>() {
        return Value::from(i);
    }
    // `f64::from_str` also reads "inf" and "NaN", which JSON cannot hold: those stay text.
    match cell.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(cell.to_owned()),
    }
}

/// A problem of the file as CSV, worded for an extract.
fn csv_error(file: ExtractFile, problem: CsvProblem) -> ExtractError {
    match problem {
        CsvProblem::Io(source) => ExtractError::Io { file, source },
        CsvProblem::NotUtf8 {
            line,
            header,
            field,
            column,
        } => {
            let column =
                column.map_or_else(|| format!("field {}", field + 1), |c| format!("column {c}"));
            ExtractError::Csv {
                file,
                line: line.or(header.then_some(1)),
                message: format!(
                    "{column} is not UTF-8 text (the file may be in Latin-1 or Windows-1252); \
                     export it as UTF-8"
                ),
            }
        }
        CsvProblem::UnequalLengths {
            line,
            expected_len,
            len,
        } => ExtractError::Csv {
            file,
            line,
            message: format!(
                "this line has {len} values but the header has {expected_len}; look for a missing \
                 or extra comma, or a comma inside a value that is not between double quotes"
            ),
        },
        CsvProblem::Other(message) => ExtractError::Csv {
            file,
            line: None,
            message,
        },
    }
}
