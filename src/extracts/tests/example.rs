//! The example extract that `cargo run --example write_extracts` makes (none is in the
//! repository): the same bytes for the same seed, and a data set every command can use (all
//! valid, labelled, learnable).

use super::*;

fn written(dir: &Path) {
    write_dir(dir, &labelled_population(EXAMPLE_SEED, EXAMPLE_EMPLOYEES)).expect("write");
}

#[test]
fn the_example_writer_makes_the_same_bytes_every_time() {
    let (a, b) = (
        tempfile::tempdir().expect("temp dir"),
        tempfile::tempdir().expect("temp dir"),
    );
    written(a.path());
    written(b.path());
    for file in ExtractFile::ALL {
        let read = |dir: &Path| std::fs::read(dir.join(file.name())).expect("written");
        assert!(
            read(a.path()) == read(b.path()),
            "{file} differs between two runs of the example writer"
        );
    }
}

#[test]
fn the_example_reads_as_200_valid_labelled_employees() {
    let dir = tempfile::tempdir().expect("temp dir");
    written(dir.path());
    let extracts = read_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(extracts.rows.len(), EXAMPLE_EMPLOYEES);
    assert!(extracts.orphans.is_empty(), "{}", extracts.orphans);
    assert!(extracts.has_labels());
    let leavers = extracts
        .rows
        .iter()
        .filter(|r| r.label == Some(true))
        .count();
    assert!(
        (20..=180).contains(&leavers),
        "{leavers} of 200 leave: both classes must be there to train on"
    );
    let valid = validate_rows(&extracts).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(valid.len(), EXAMPLE_EMPLOYEES);
}
