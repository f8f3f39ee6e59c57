//! What can go wrong with the extracts, worded for the HR operator who exported them: every
//! message names the file, and where it can, the line (header = line 1), the column and the value.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::ExtractFile;

/// How many record errors [`InvalidRecords`]'s message lists before summing up the rest: enough
/// to show a pattern, few enough to read in a terminal.
const LISTED_ERRORS: usize = 20;

/// Why the extracts could not be read, joined or validated.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The folder given does not exist.
    #[error("folder {} does not exist or is not a folder", dir.display())]
    MissingDir { dir: PathBuf },

    /// One or more of the three files is not in the folder.
    #[error(
        "{} not found in folder {} (it must hold extrait_sondage.csv, extrait_eval.csv and extrait_sirh.csv)",
        join_names(files), dir.display()
    )]
    MissingFiles {
        files: Vec<ExtractFile>,
        dir: PathBuf,
    },

    /// A file exists but could not be read.
    #[error("cannot read {file}: {source}")]
    Io {
        file: ExtractFile,
        #[source]
        source: io::Error,
    },

    /// The header line lacks columns this file must have.
    #[error("{file}, line 1: {}", missing_columns(columns, found))]
    MissingColumns {
        file: ExtractFile,
        /// The missing column names.
        columns: Vec<String>,
        /// The header line as found, to spot a misspelling.
        found: Vec<String>,
    },

    /// A column name appears twice in the header line, so which one holds the value is unclear.
    #[error("{file}, line 1: column {column} appears more than once in the header")]
    DuplicateColumn { file: ExtractFile, column: String },

    /// A key or label cell that cannot be understood.
    #[error("{file}, line {line}, column {column}: {reason} (value: \"{value}\")")]
    Malformed {
        file: ExtractFile,
        line: u64,
        column: String,
        value: String,
        reason: String,
    },

    /// The same employee appears on two lines of one file.
    #[error(
        "{file}, line {line}, column {column}: employee {employee_id} already appears on line \
         {first_line}; each employee must appear once per file"
    )]
    DuplicateId {
        file: ExtractFile,
        column: &'static str,
        employee_id: i64,
        first_line: u64,
        line: u64,
    },

    /// The file is not well-formed CSV (ragged rows, not UTF-8, ...).
    #[error("{file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Csv {
        file: ExtractFile,
        line: Option<u64>,
        message: String,
    },

    /// A file has more data lines than its reader allows (an upload's row limit).
    #[error("{file} has more than {limit} rows")]
    TooManyRows { file: ExtractFile, limit: usize },

    /// Values that break the rules of the employee record.
    #[error(transparent)]
    InvalidRecords(#[from] InvalidRecords),
}

/// Every rule broken by the joined records, each traced back to where its value came from.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidRecords {
    /// How many employees have at least one error.
    pub employees: usize,
    /// The errors, by employee id then in the validator's order.
    pub errors: Vec<RecordError>,
    /// Errors found but not kept in `errors` (a reader of uploads keeps the first ones only).
    pub unlisted: usize,
}

/// One broken rule of one employee's record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordError {
    pub employee_id: i64,
    /// The record field, or the comma-joined pair of a cross-field rule.
    pub field: String,
    /// Where each field of `field` sits in the extracts; empty if none is a record field.
    pub locations: Vec<FieldLocation>,
    /// The rule's message, as the record validator words it.
    pub message: String,
    pub value: serde_json::Value,
}

/// A cell of an extract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldLocation {
    pub file: ExtractFile,
    /// Header = line 1; `None` when the row was not read from a file.
    pub line: Option<u64>,
    pub column: String,
}

impl std::error::Error for InvalidRecords {}

impl fmt::Display for InvalidRecords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len() + self.unlisted;
        write!(
            f,
            "{n} invalid value{} in {} employee{}:",
            plural(n),
            self.employees,
            plural(self.employees)
        )?;
        for error in self.errors.iter().take(LISTED_ERRORS) {
            write!(f, "\n  {error}")?;
        }
        if n > LISTED_ERRORS {
            write!(f, "\n  ... and {} more", n - LISTED_ERRORS)?;
        }
        Ok(())
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "employee {}: ", self.employee_id)?;
        if self.locations.is_empty() {
            write!(f, "field {}", self.field)?;
        }
        // Group the columns of a cross-field rule by file: "file, line 5, columns a and b".
        let mut first = true;
        for file in ExtractFile::ALL {
            let here: Vec<&FieldLocation> =
                self.locations.iter().filter(|l| l.file == file).collect();
            let Some(head) = here.first() else { continue };
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{file}")?;
            if let Some(line) = head.line {
                write!(f, ", line {line}")?;
            }
            let columns: Vec<&str> = here.iter().map(|l| l.column.as_str()).collect();
            let s = if columns.len() > 1 { "s" } else { "" };
            write!(f, ", column{s} {}", columns.join(" and "))?;
        }
        write!(f, ": {} (value: {})", self.message, self.value)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn join_names(files: &[ExtractFile]) -> String {
    let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
    names.join(", ")
}

fn missing_columns(columns: &[String], found: &[String]) -> String {
    let s = plural(columns.len());
    let mut text = format!(
        "missing column{s} {}; the header line has: {}",
        columns.join(", "),
        found.join(", ")
    );
    // A spreadsheet saved with French settings separates with ';', and the whole header then
    // reads as one column: say so rather than let the operator hunt for a typo.
    if found.len() == 1 && found[0].contains(';') {
        text.push_str(" (the file seems to use ';' as separator; it must use ',')");
    }
    text
}
