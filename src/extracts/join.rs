//! Reading the three files and joining them on the employee id, and the employees that are not
//! in all three. The join takes the tables [`super::read`] reads.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use serde_json::Map;

use super::read::{read_tables, Table};
use super::{ExtractError, ExtractFile, ExtractRow, Extracts};

/// Reads and joins `extrait_sondage.csv`, `extrait_eval.csv` and `extrait_sirh.csv` from `dir`.
///
/// # Errors
/// [`ExtractError::MissingDir`] or [`ExtractError::MissingFiles`] (naming every missing file and
/// the folder) when the files are not there, [`ExtractError::Io`] when one cannot be read, and
/// every error of [`read_readers`].
pub fn read_dir(dir: &Path) -> Result<Extracts, ExtractError> {
    if !dir.is_dir() {
        return Err(ExtractError::MissingDir {
            dir: dir.to_path_buf(),
        });
    }
    let missing: Vec<ExtractFile> = ExtractFile::ALL
        .into_iter()
        .filter(|f| !dir.join(f.name()).is_file())
        .collect();
    if !missing.is_empty() {
        return Err(ExtractError::MissingFiles {
            files: missing,
            dir: dir.to_path_buf(),
        });
    }
    let open = |file: ExtractFile| {
        File::open(dir.join(file.name())).map_err(|source| ExtractError::Io { file, source })
    };
    read_readers(
        open(ExtractFile::Sondage)?,
        open(ExtractFile::Eval)?,
        open(ExtractFile::Sirh)?,
    )
}

/// Reads and joins the three extracts from any byte sources (files, an HTTP upload), in the
/// order sondage, eval, sirh. Messages still name the files `extrait_sondage.csv`, etc.
///
/// The label column `a_quitte_l_entreprise` of the sondage extract is optional; columns that
/// are not record fields are ignored. Surrounding spaces of every cell are trimmed, and a UTF-8
/// byte-order mark is accepted.
///
/// # Errors
/// The first problem found, files read in the order above: [`ExtractError::MissingColumns`],
/// [`ExtractError::DuplicateColumn`], [`ExtractError::Malformed`] for a key or label that cannot
/// be read, [`ExtractError::DuplicateId`], [`ExtractError::Csv`] for a file that is not
/// well-formed UTF-8 CSV, [`ExtractError::Io`] when a source fails.
pub fn read_readers(
    sondage: impl Read,
    eval: impl Read,
    sirh: impl Read,
) -> Result<Extracts, ExtractError> {
    Ok(join(read_tables(sondage, eval, sirh, None)?))
}

/// How many orphans are kept by id: enough for an operator to look them up, few enough for a
/// one-line warning.
const LISTED_ORPHANS: usize = 5;

/// Employees present in some files but not in all three. They are left out of
/// [`Extracts::rows`]: a record with a third of its fields cannot be scored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Orphans {
    /// How many employees are missing from at least one file.
    pub count: usize,
    /// The first few of them, by id.
    pub first: Vec<Orphan>,
}

/// One employee missing from some files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub employee_id: i64,
    /// The files without this employee (one or two of them).
    pub missing_from: Vec<ExtractFile>,
}

impl Orphans {
    /// True when every employee appears in the three files.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl fmt::Display for Orphans {
    /// One line for a warning: `3 employees appear in only some files and are not scored:
    /// 17 (missing from extrait_eval.csv), ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.count {
            0 => return f.write_str("every employee appears in the three files"),
            1 => f.write_str("1 employee appears in only some files and is not scored: ")?,
            n => write!(
                f,
                "{n} employees appear in only some files and are not scored: "
            )?,
        }
        for (i, orphan) in self.first.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            let names: Vec<&str> = orphan.missing_from.iter().map(|m| m.name()).collect();
            write!(
                f,
                "{} (missing from {})",
                orphan.employee_id,
                names.join(" and ")
            )?;
        }
        if self.count > self.first.len() {
            write!(f, ", and {} more", self.count - self.first.len())?;
        }
        Ok(())
    }
}

/// Joins the tables of sondage, eval and sirh, in that order.
pub(super) fn join(tables: [Table; 3]) -> Extracts {
    let mut rows = Vec::new();
    let mut lines = HashMap::new();
    let orphans = join_each(tables, |row, at| {
        lines.insert(row.employee_id, at);
        rows.push(row);
    });
    Extracts {
        rows,
        orphans,
        lines,
    }
}

/// Joins the tables of sondage, eval and sirh, in that order, handing each employee found in
/// all three to `each` with its line in each file, as soon as it is joined: a caller that
/// keeps less than the row (a validated record) never holds every row at once.
pub(super) fn join_each(tables: [Table; 3], mut each: impl FnMut(ExtractRow, [u64; 3])) -> Orphans {
    debug_assert!(tables.iter().map(|t| t.file).eq(ExtractFile::ALL));
    let ids: BTreeSet<i64> = tables.iter().flat_map(|t| t.rows.keys().copied()).collect();
    let [mut sondage, mut eval, mut sirh] = tables;
    let mut orphans = Orphans::default();
    for id in ids {
        match (
            sondage.rows.remove(&id),
            eval.rows.remove(&id),
            sirh.rows.remove(&id),
        ) {
            (Some(s), Some(e), Some(h)) => {
                let record: Map<_, _> = sondage
                    .fields(&s)
                    .chain(eval.fields(&e))
                    .chain(sirh.fields(&h))
                    .map(|(name, value)| (name.to_owned(), value))
                    .collect();
                let row = ExtractRow {
                    employee_id: id,
                    record,
                    label: s.label,
                };
                each(row, [s.line, e.line, h.line]);
            }
            (s, e, h) => {
                orphans.count += 1;
                if orphans.first.len() < LISTED_ORPHANS {
                    let present = [s.is_some(), e.is_some(), h.is_some()];
                    let missing_from = ExtractFile::ALL
                        .into_iter()
                        .zip(present)
                        .filter_map(|(file, here)| (!here).then_some(file))
                        .collect();
                    orphans.first.push(Orphan {
                        employee_id: id,
                        missing_from,
                    });
                }
            }
        }
    }
    orphans
}
