//! The three CSV extracts of the HR information system (`extrait_sondage.csv`,
//! `extrait_eval.csv`, `extrait_sirh.csv`): reading them, normalising their three keys
//! (`000001`, `E_1`, `1`) to one integer employee id, joining them into one record per employee,
//! and writing synthetic extracts in the same format.
//!
//! This module owns the file format and every error that points into a file (file, line,
//! column). It must not judge whether a value is acceptable: cells are handed over as JSON
//! values and the rules of the record live in [`crate::record`]; [`validate_rows`] only maps
//! that module's errors back to where the value came from. It must not score, log or print:
//! callers decide what to do with [`Orphans`] and [`ExtractError`].
//!
//! Line numbers count the header as line 1, as a spreadsheet or `sed -n Np` shows them.

mod error;
mod example;
mod join;
mod read;
mod validate;
mod write;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;

use crate::record::schema::FIELDS;

pub use error::{ExtractError, FieldLocation, InvalidRecords, RecordError};
pub use example::{labelled_population, EXAMPLE_EMPLOYEES, EXAMPLE_SEED};
pub use join::{read_dir, read_readers, Orphan, Orphans};
pub use validate::{read_records, validate_rows};
pub use write::{write_dir, write_extracts, write_file};

/// The name of the optional label column, in `extrait_sondage.csv`.
pub const LABEL_COLUMN: &str = "a_quitte_l_entreprise";

/// One of the three extract files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtractFile {
    /// `extrait_sondage.csv`: the survey fields and the optional label.
    Sondage,
    /// `extrait_eval.csv`: appraisal and satisfaction fields.
    Eval,
    /// `extrait_sirh.csv`: HR master data.
    Sirh,
}

impl ExtractFile {
    /// The three files, in the order they are read and reported.
    pub const ALL: [ExtractFile; 3] = [ExtractFile::Sondage, ExtractFile::Eval, ExtractFile::Sirh];

    /// The file name, as found in the folder and named in messages.
    pub fn name(self) -> &'static str {
        match self {
            ExtractFile::Sondage => "extrait_sondage.csv",
            ExtractFile::Eval => "extrait_eval.csv",
            ExtractFile::Sirh => "extrait_sirh.csv",
        }
    }

    /// The column holding the employee key.
    pub fn key_column(self) -> &'static str {
        match self {
            ExtractFile::Sondage => "code_sondage",
            ExtractFile::Eval => "eval_number",
            ExtractFile::Sirh => "id_employee",
        }
    }

    /// The record fields (docs/contract.md#record) this file holds; each is a column of that name.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            ExtractFile::Sondage => &SONDAGE_FIELDS,
            ExtractFile::Eval => &EVAL_FIELDS,
            ExtractFile::Sirh => &SIRH_FIELDS,
        }
    }

    /// The file that holds a record field, if it is one.
    pub fn of_field(field: &str) -> Option<ExtractFile> {
        Self::ALL.into_iter().find(|f| f.fields().contains(&field))
    }

    /// The key of an employee id as this file writes it (`000001`, `E_1`, `1`).
    pub fn format_key(self, employee_id: i64) -> String {
        match self {
            ExtractFile::Sondage => format!("{employee_id:06}"),
            ExtractFile::Eval => format!("E_{employee_id}"),
            ExtractFile::Sirh => employee_id.to_string(),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ExtractFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// The record's fields sit in `FIELDS` in file order: the survey's ten, the appraisal's nine,
// then the HR master data's eleven. Each file's columns are a slice of that one list.
const SONDAGE_FIELDS: [&str; 10] = field_names(0);
const EVAL_FIELDS: [&str; 9] = field_names(10);
const SIRH_FIELDS: [&str; 11] = field_names(19);
const _: () = assert!(10 + 9 + 11 == FIELDS.len());

/// The names of `FIELDS[start..start + N]`.
const fn field_names<const N: usize>(start: usize) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = FIELDS[start + i].name;
        i += 1;
    }
    names
}

/// One employee found in all three files.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractRow {
    /// The normalised key (`000001` = `E_1` = `1` = 1).
    pub employee_id: i64,
    /// Exactly the 30 record fields (docs/contract.md#record), named as the contract names them.
    /// A cell that parses as an integer or a finite float is a JSON number, an empty cell is
    /// `null`, anything else a string (`"11 %"` stays a string).
    pub record: serde_json::Map<String, serde_json::Value>,
    /// `a_quitte_l_entreprise` (`Oui` → true, `Non` → false), or `None` when the column is absent.
    pub label: Option<bool>,
}

/// The joined extracts: one row per employee present in all three files, and the others.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracts {
    /// Employees present in all three files, sorted by `employee_id`.
    pub rows: Vec<ExtractRow>,
    /// Employees present in only some files; they are not in `rows` and must not be scored.
    pub orphans: Orphans,
    /// Where each employee of `rows` sits in each file, by `ExtractFile::index`. Keyed by id
    /// rather than by position so that callers may sort or filter `rows` freely.
    lines: HashMap<i64, [u64; 3]>,
}

impl Extracts {
    /// The line (header = line 1) of an employee's row in one file, if it was read from there.
    pub fn line(&self, employee_id: i64, file: ExtractFile) -> Option<u64> {
        self.lines.get(&employee_id).map(|l| l[file.index()])
    }

    /// Whether every row carries a label (the label column was present).
    pub fn has_labels(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.label.is_some())
    }
}
