//! Joining on the id, orphans, the optional label, line numbers.

use super::*;

fn subset(all: &[ExtractRow], ids: &[i64]) -> Vec<ExtractRow> {
    all.iter()
        .filter(|r| ids.contains(&r.employee_id))
        .cloned()
        .collect()
}

fn write(file: ExtractFile, rows: &[ExtractRow]) -> String {
    let mut out = Vec::new();
    write_file(file, &mut out, rows).expect("writing to memory");
    String::from_utf8(out).expect("UTF-8")
}

#[test]
fn employees_missing_from_a_file_are_orphans_not_rows() {
    let all = rows(9, true);
    let f = [
        write(
            ExtractFile::Sondage,
            &subset(&all, &[1, 2, 3, 4, 5, 6, 7, 8]),
        ),
        write(ExtractFile::Eval, &subset(&all, &[1, 2, 4, 5, 6, 8])),
        write(ExtractFile::Sirh, &subset(&all, &[1, 2, 3, 4, 5, 6, 8, 9])),
    ];
    let extracts = read(&f).expect("a valid extract");
    let ids: Vec<i64> = extracts.rows.iter().map(|r| r.employee_id).collect();
    assert_eq!(ids, [1, 2, 4, 5, 6, 8]);
    assert_eq!(extracts.orphans.count, 3);
    assert_eq!(
        extracts.orphans.first[1],
        Orphan {
            employee_id: 7,
            missing_from: vec![ExtractFile::Eval, ExtractFile::Sirh],
        }
    );
    assert_eq!(
        extracts.orphans.to_string(),
        "3 employees appear in only some files and are not scored: 3 (missing from \
         extrait_eval.csv), 7 (missing from extrait_eval.csv and extrait_sirh.csv), 9 (missing \
         from extrait_sondage.csv and extrait_eval.csv)"
    );
}

#[test]
fn many_orphans_are_counted_and_the_first_five_listed() {
    let all = rows(10, false);
    let f = [
        write(ExtractFile::Sondage, &all),
        write(ExtractFile::Eval, &subset(&all, &[1, 2, 3])),
        write(ExtractFile::Sirh, &all),
    ];
    let extracts = read(&f).expect("a valid extract");
    assert_eq!(extracts.rows.len(), 3);
    assert_eq!(extracts.orphans.count, 7);
    assert_eq!(extracts.orphans.first.len(), 5);
    let message = extracts.orphans.to_string();
    assert!(
        message.starts_with("7 employees appear in only some files"),
        "{message}"
    );
    assert!(
        message.ends_with("8 (missing from extrait_eval.csv), and 2 more"),
        "{message}"
    );
}

#[test]
fn one_orphan_reads_in_the_singular_and_none_is_empty() {
    let all = rows(2, false);
    let f = [
        write(ExtractFile::Sondage, &all),
        write(ExtractFile::Eval, &all),
        write(ExtractFile::Sirh, &subset(&all, &[2])),
    ];
    let orphans = read(&f).expect("a valid extract").orphans;
    assert_eq!(
        orphans.to_string(),
        "1 employee appears in only some files and is not scored: 1 (missing from \
         extrait_sirh.csv)"
    );
    assert!(read(&files(&all))
        .expect("a valid extract")
        .orphans
        .is_empty());
}

#[test]
fn rows_join_across_orders_and_keep_their_lines() {
    let all = rows(3, true);
    let reversed: Vec<ExtractRow> = all.iter().rev().cloned().collect();
    let f = [
        write(ExtractFile::Sondage, &reversed),
        write(ExtractFile::Eval, &all),
        write(
            ExtractFile::Sirh,
            &[all[1].clone(), all[2].clone(), all[0].clone()],
        ),
    ];
    let extracts = read(&f).expect("a valid extract");
    assert_eq!(extracts.rows, all);
    assert!(extracts.has_labels());
    assert_eq!(extracts.line(1, ExtractFile::Sondage), Some(4));
    assert_eq!(extracts.line(1, ExtractFile::Eval), Some(2));
    assert_eq!(extracts.line(1, ExtractFile::Sirh), Some(4));
    assert_eq!(extracts.line(4, ExtractFile::Sirh), None);
}

#[test]
fn records_hold_exactly_the_thirty_fields_and_the_label_apart() {
    let extracts = read(&files(&rows(2, true))).expect("a valid extract");
    let row = &extracts.rows[1];
    assert_eq!(row.record, record());
    assert_eq!(row.record.len(), 30);
    assert!(!row.record.contains_key(LABEL_COLUMN));
    assert!(!row.record.contains_key("id_employee"));
    assert_eq!(row.label, Some(true));
    assert_eq!(extracts.rows[0].label, Some(false));
}

#[test]
fn without_the_label_column_labels_are_none() {
    let f = files(&rows(3, false));
    assert!(!f[0].contains(LABEL_COLUMN));
    let extracts = read(&f).expect("a valid extract");
    assert_eq!(extracts.rows.len(), 3);
    assert!(extracts.rows.iter().all(|r| r.label.is_none()));
    assert!(!extracts.has_labels());
}

#[test]
fn columns_that_are_not_record_fields_are_ignored() {
    let mut f = files(&rows(2, false));
    let mut lines: Vec<String> = f[2].lines().map(|l| format!("{l},x")).collect();
    lines[0] = lines[0].replace(",x", ",matricule_paie");
    f[2] = lines.join("\n");
    assert_eq!(read(&f).expect("a valid extract").rows, rows(2, false));
}

#[test]
fn labels_for_some_rows_only_cannot_be_written() {
    let mixed = [row(1, Some(true)), row(2, None)];
    let error = write_file(ExtractFile::Sondage, Vec::new(), &mixed).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    // The other files carry no label, so they do not care.
    assert!(write_file(ExtractFile::Eval, Vec::new(), &mixed).is_ok());
}

#[test]
fn write_dir_writes_what_read_dir_reads() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let target = dir.path().join("extract");
    let all = rows(1_500, true);
    write_dir(&target, &all).expect("writing the extract");
    let extracts = read_dir(&target).expect("reading it back");
    assert_eq!(extracts.rows, all);
    assert!(extracts.orphans.is_empty());
}
