//! The example extract shipped in `examples/extracts/`: exactly what the writer makes from its
//! seed, and a data set every command can use (all valid, labelled, learnable).

use std::path::PathBuf;

use super::*;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/extracts")
}

#[test]
fn the_shipped_example_is_what_the_writer_makes_from_its_seed() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_dir(
        dir.path(),
        &labelled_population(EXAMPLE_SEED, EXAMPLE_EMPLOYEES),
    )
    .expect("write");
    for file in ExtractFile::ALL {
        let written = std::fs::read(dir.path().join(file.name())).expect("written");
        let shipped = std::fs::read(shipped().join(file.name())).expect("shipped");
        assert!(
            written == shipped,
            "examples/extracts/{file} differs from what the writer makes: regenerate it with \
             `cargo run --example write_extracts -- examples/extracts`"
        );
    }
}

#[test]
fn the_shipped_example_reads_as_200_valid_labelled_employees() {
    let extracts = read_dir(&shipped()).unwrap_or_else(|e| panic!("{e}"));
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
