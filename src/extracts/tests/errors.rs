//! Each error kind, and what its message tells the operator.

use std::io;

use serde_json::json;

use super::super::validate::locate;
use super::*;
use crate::record::FieldError;

#[test]
fn a_missing_folder_is_named() {
    let dir = Path::new("/no/such/folder");
    let message = read_dir(dir).unwrap_err().to_string();
    assert_eq!(
        message,
        "folder /no/such/folder does not exist or is not a folder"
    );
}

#[test]
fn missing_files_are_named_with_the_folder() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let [sondage, _, _] = files(&rows(1, true));
    std::fs::write(dir.path().join("extrait_sondage.csv"), sondage).expect("writing a file");
    let error = read_dir(dir.path()).unwrap_err();
    assert!(matches!(&error, ExtractError::MissingFiles { files, .. } if files.len() == 2));
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "extrait_eval.csv, extrait_sirh.csv not found in folder {}",
            dir.path().display()
        )),
        "{message}"
    );
}

#[test]
fn missing_columns_are_all_named_with_the_header_found() {
    let mut f = files(&rows(1, false));
    f[1] = f[1].replacen("eval_number", "numero_eval", 1);
    f[1] = f[1].replacen("note_evaluation_actuelle", "note_eval", 1);
    let message = error_message(&f);
    assert!(
        message.starts_with(
            "extrait_eval.csv, line 1: missing columns eval_number, note_evaluation_actuelle; \
             the header line has: numero_eval,"
        ),
        "{message}"
    );
}

#[test]
fn a_semicolon_separated_file_gets_a_hint() {
    let mut f = files(&rows(1, false));
    f[2] = f[2].replace(',', ";");
    let message = error_message(&f);
    assert!(message.starts_with("extrait_sirh.csv, line 1: missing columns id_employee, age"));
    assert!(
        message.contains("seems to use ';' as separator"),
        "{message}"
    );
}

#[test]
fn a_column_twice_in_the_header_is_refused() {
    let mut f = files(&rows(1, false));
    f[2] = f[2].replacen("genre", "age", 1);
    assert_eq!(
        error_message(&f),
        "extrait_sirh.csv, line 1: column age appears more than once in the header"
    );
}

#[test]
fn a_malformed_key_names_file_line_column_and_value() {
    let mut f = files(&rows(3, false));
    f[1] = f[1].replace("\nE_2,", "\nE-2,");
    assert_eq!(
        error_message(&f),
        "extrait_eval.csv, line 3, column eval_number: not a valid employee key; expected E_ \
         followed by digits, like E_1 (value: \"E-2\")"
    );
}

#[test]
fn a_malformed_label_names_file_line_column_and_value() {
    let mut f = files(&rows(3, true));
    f[0] = f[0].replace("000003,Non,", "000003,Peut-être,");
    let error = read(&f).unwrap_err();
    assert!(matches!(error, ExtractError::Malformed { line: 4, .. }));
    assert_eq!(
        error.to_string(),
        "extrait_sondage.csv, line 4, column a_quitte_l_entreprise: expected Oui or Non \
         (value: \"Peut-être\")"
    );
}

#[test]
fn an_employee_twice_in_a_file_is_refused_with_both_lines() {
    let mut f = files(&rows(3, false));
    f[2] = f[2].replace("\n3,", "\n1,");
    assert_eq!(
        error_message(&f),
        "extrait_sirh.csv, line 4, column id_employee: employee 1 already appears on line 2; \
         each employee must appear once per file"
    );
}

#[test]
fn a_ragged_line_is_a_csv_error_with_its_line() {
    let mut f = files(&rows(3, false));
    f[1] = f[1].replace("\nE_3,", "\nE_3,extra,");
    let message = error_message(&f);
    assert!(
        message
            .starts_with("extrait_eval.csv, line 4: this line has 11 values but the header has 10"),
        "{message}"
    );
}

#[test]
fn a_latin1_file_is_a_csv_error_naming_the_column() {
    let [sondage, eval, sirh] = files(&rows(2, false));
    let latin1: Vec<u8> = sirh
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1 text"))
        .collect();
    let message = read_readers(sondage.as_bytes(), eval.as_bytes(), &latin1[..])
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("extrait_sirh.csv, line 2: column statut_marital is not UTF-8 text"),
        "{message}"
    );
}

#[test]
fn a_failing_source_is_an_io_error_naming_the_file() {
    struct Failing;
    impl io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("connection reset"))
        }
    }
    let [sondage, eval, _] = files(&rows(1, false));
    let error = read_readers(sondage.as_bytes(), eval.as_bytes(), Failing).unwrap_err();
    assert!(matches!(
        error,
        ExtractError::Io {
            file: ExtractFile::Sirh,
            ..
        }
    ));
    assert_eq!(
        error.to_string(),
        "cannot read extrait_sirh.csv: connection reset"
    );
}

#[test]
fn record_errors_point_to_file_line_and_column() {
    let mut f = files(&rows(3, false));
    f[2] = f[2].replace("\n2,41,", "\n2,12,");
    let extracts = read(&f).expect("a valid extract");
    let age = FieldError {
        field: "age".into(),
        message: "must be between 18 and 70".into(),
        value: json!(12),
    };
    let cross = FieldError {
        field: "annes_sous_responsable_actuel,annees_dans_l_entreprise".into(),
        message: "must not exceed the years in the company".into(),
        value: json!([5, 6]),
    };
    let pair = FieldError {
        field: "age,annee_experience_totale".into(),
        message: "age minus total experience must be at least 14".into(),
        value: json!([12, 8]),
    };
    let invalid = InvalidRecords {
        employees: 1,
        errors: [age, cross, pair].map(|e| locate(&extracts, 2, e)).to_vec(),
        unlisted: 0,
    };
    assert_eq!(
        ExtractError::from(invalid).to_string(),
        "3 invalid values in 1 employee:\n  \
         employee 2: extrait_sirh.csv, line 3, column age: must be between 18 and 70 (value: 12)\n  \
         employee 2: extrait_sondage.csv, line 3, column annes_sous_responsable_actuel; \
         extrait_sirh.csv, line 3, column annees_dans_l_entreprise: must not exceed the years \
         in the company (value: [5,6])\n  \
         employee 2: extrait_sirh.csv, line 3, columns age and annee_experience_totale: age \
         minus total experience must be at least 14 (value: [12,8])"
    );
}

#[test]
fn a_long_list_of_record_errors_is_cut_with_a_count() {
    let errors = (1..=25)
        .map(|id| RecordError {
            employee_id: id,
            field: "genre".into(),
            locations: vec![FieldLocation {
                file: ExtractFile::Sirh,
                line: Some(id as u64 + 1),
                column: "genre".into(),
            }],
            message: "must be one of M, F".into(),
            value: json!("X"),
        })
        .collect();
    let message = InvalidRecords {
        employees: 25,
        errors,
        unlisted: 0,
    }
    .to_string();
    assert!(message.starts_with("25 invalid values in 25 employees:\n"));
    assert_eq!(message.lines().count(), 1 + 20 + 1);
    assert!(message.ends_with("\n  ... and 5 more"), "{message}");
}

/// Needs `record::validate`.
#[test]
fn validate_rows_reports_every_invalid_value_with_its_place() {
    let mut f = files(&rows(3, false));
    f[2] = f[2].replace("\n2,41,F,", "\n2,12,X,");
    let extracts = read(&f).expect("a readable extract");
    let error = validate_rows(&extracts).unwrap_err();
    let ExtractError::InvalidRecords(invalid) = &error else {
        panic!("expected invalid records, got {error}");
    };
    assert_eq!(invalid.employees, 1);
    let message = error.to_string();
    assert!(
        message.contains("employee 2: extrait_sirh.csv, line 3, column age"),
        "{message}"
    );
    assert!(
        message.contains("extrait_sirh.csv, line 3, column genre"),
        "{message}"
    );
    assert!(message.contains("(value: \"X\")"), "{message}");
}

/// Needs `record::validate`.
#[test]
fn validate_rows_pairs_each_valid_row_with_its_record() {
    let extracts = read(&files(&rows(3, true))).expect("a readable extract");
    let valid = validate_rows(&extracts).expect("valid records");
    let ids: Vec<i64> = valid.iter().map(|(row, _)| row.employee_id).collect();
    assert_eq!(ids, [1, 2, 3]);
}

/// The line of a bad cell, as an editor shows it, with Unix or Windows line endings and after
/// a quoted value that spans two lines.
#[test]
fn line_numbers_are_right_with_any_line_ending_and_multi_line_values() {
    let error_of = |f: &[String; 3], employee: &str| {
        let extracts = read(f).unwrap_or_else(|e| panic!("{e}"));
        let error = validate_rows(&extracts).unwrap_err().to_string();
        let prefix = format!("employee {employee}:");
        let line = error
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&prefix));
        line.unwrap_or(&error).to_owned()
    };
    let lf = files(&rows(5, false));
    for endings in ["\n", "\r\n"] {
        let mut f = lf.clone().map(|text| text.replace('\n', endings));
        f[2] = f[2].replace(&format!("{endings}3,41,"), &format!("{endings}3,trente,"));
        let error = error_of(&f, "3");
        assert!(
            error.starts_with("employee 3: extrait_sirh.csv, line 4, column age:"),
            "{endings:?}: {error}"
        );
    }
    // A quoted value with a newline inside (itself an error of employee 1): the employees
    // after it start a line further down.
    let mut f = lf;
    f[2] = f[2].replacen("Célibataire", "\"Céli\nbataire\"", 1);
    f[2] = f[2].replace("\n4,41,", "\n4,trente,");
    let error = error_of(&f, "4");
    assert!(
        error.starts_with("employee 4: extrait_sirh.csv, line 6, column age:"),
        "{error}"
    );
}
