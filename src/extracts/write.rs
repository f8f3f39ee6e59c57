//! Writing synthetic extracts in the format [`super::read_dir`] reads: generated data sets for
//! tests of the batch endpoint and of training.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use serde_json::Value;

use super::{ExtractFile, ExtractRow, LABEL_COLUMN};

/// Writes one extract file from `rows`, in the order given: the key column (`000001`, `E_1`
/// or `1`), for the sondage file the label column when the rows carry labels, then the file's
/// record fields.
///
/// Values are written as text: numbers as JSON writes them, strings as they are, `null` or a
/// missing field as an empty cell. Reading back gives the same rows provided employee ids are
/// non-negative and strings neither read as numbers nor start or end with spaces. Fields of
/// `record` that are not record fields (docs/contract.md#record) are not written.
///
/// # Errors
/// An I/O error from `out`, or [`io::ErrorKind::InvalidInput`] when some rows have a label and
/// others do not (the label column is all or nothing).
pub fn write_file<'a>(
    file: ExtractFile,
    out: impl Write,
    rows: impl IntoIterator<Item = &'a ExtractRow>,
) -> io::Result<()> {
    let rows: Vec<&ExtractRow> = rows.into_iter().collect();
    let with_label = file == ExtractFile::Sondage && has_label_column(&rows)?;
    let mut writer = csv::Writer::from_writer(out);

    let mut header = vec![file.key_column()];
    if with_label {
        header.push(LABEL_COLUMN);
    }
    header.extend_from_slice(file.fields());
    writer.write_record(&header)?;

    for row in rows {
        let mut cells: Vec<Cow<'_, str>> = Vec::with_capacity(header.len());
        cells.push(file.format_key(row.employee_id).into());
        if with_label {
            cells.push(
                if row.label == Some(true) {
                    "Oui"
                } else {
                    "Non"
                }
                .into(),
            );
        }
        cells.extend(file.fields().iter().map(|f| cell_text(row.record.get(*f))));
        writer.write_record(cells.iter().map(|c| c.as_bytes()))?;
    }
    writer.flush()
}

/// Writes the three extracts from `rows`, each file in the order given.
///
/// # Errors
/// As [`write_file`].
pub fn write_extracts(
    sondage: impl Write,
    eval: impl Write,
    sirh: impl Write,
    rows: &[ExtractRow],
) -> io::Result<()> {
    write_file(ExtractFile::Sondage, sondage, rows)?;
    write_file(ExtractFile::Eval, eval, rows)?;
    write_file(ExtractFile::Sirh, sirh, rows)
}

/// Writes `extrait_sondage.csv`, `extrait_eval.csv` and `extrait_sirh.csv` into `dir`,
/// creating it if needed and replacing files of those names.
///
/// # Errors
/// An I/O error creating the folder or writing a file, or as [`write_file`].
pub fn write_dir(dir: &Path, rows: &[ExtractRow]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let create = |file: ExtractFile| File::create(dir.join(file.name()));
    write_extracts(
        create(ExtractFile::Sondage)?,
        create(ExtractFile::Eval)?,
        create(ExtractFile::Sirh)?,
        rows,
    )
}

fn has_label_column(rows: &[&ExtractRow]) -> io::Result<bool> {
    let labelled = rows.iter().filter(|r| r.label.is_some()).count();
    if labelled > 0 && labelled < rows.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{labelled} of {} rows have a label: the {LABEL_COLUMN} column needs all or none",
                rows.len()
            ),
        ));
    }
    Ok(labelled > 0)
}

fn cell_text(value: Option<&Value>) -> Cow<'_, str> {
    match value {
        None | Some(Value::Null) => "".into(),
        Some(Value::String(s)) => s.as_str().into(),
        Some(other) => other.to_string().into(),
    }
}
