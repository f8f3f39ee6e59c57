use serde_json::{json, Value};

use super::super::read::{cell_value, parse_key};
use super::*;

#[test]
fn the_three_key_formats_name_the_same_employee() {
    assert_eq!(parse_key(ExtractFile::Sondage, "000001"), Ok(1));
    assert_eq!(parse_key(ExtractFile::Eval, "E_1"), Ok(1));
    assert_eq!(parse_key(ExtractFile::Sirh, "1"), Ok(1));
    assert_eq!(parse_key(ExtractFile::Sondage, "002068"), Ok(2068));
    assert_eq!(parse_key(ExtractFile::Sondage, "1234567"), Ok(1_234_567));
    assert_eq!(parse_key(ExtractFile::Eval, "E_0042"), Ok(42));
    assert_eq!(parse_key(ExtractFile::Sirh, "007"), Ok(7));
}

#[test]
fn format_key_is_the_inverse_of_parse_key() {
    for id in [0, 1, 42, 2068, 999_999, 1_000_000, i64::MAX] {
        for file in ExtractFile::ALL {
            assert_eq!(parse_key(file, &file.format_key(id)), Ok(id), "{file} {id}");
        }
    }
    assert_eq!(ExtractFile::Sondage.format_key(1), "000001");
    assert_eq!(ExtractFile::Eval.format_key(1), "E_1");
    assert_eq!(ExtractFile::Sirh.format_key(1), "1");
}

#[test]
fn malformed_keys_are_refused_with_the_expected_format() {
    let cases = [
        (ExtractFile::Sondage, "E_1", "like 000001"),
        (ExtractFile::Sondage, "-1", "like 000001"),
        (ExtractFile::Sondage, "1.0", "like 000001"),
        (ExtractFile::Eval, "1", "like E_1"),
        (ExtractFile::Eval, "e_1", "like E_1"),
        (ExtractFile::Eval, "E_", "like E_1"),
        (ExtractFile::Eval, "E_-1", "like E_1"),
        (ExtractFile::Eval, "E_ 1", "like E_1"),
        (ExtractFile::Sirh, "+1", "like 1"),
        (ExtractFile::Sirh, "un", "like 1"),
        (ExtractFile::Sirh, "", "empty"),
        (ExtractFile::Sirh, "99999999999999999999", "too large"),
    ];
    for (file, key, reason) in cases {
        match parse_key(file, key) {
            Ok(id) => panic!("{file}: {key:?} read as {id}"),
            Err(r) => assert!(r.contains(reason), "{file}: {key:?}: {r}"),
        }
    }
}

#[test]
fn cells_are_numbers_when_they_read_as_numbers() {
    assert_eq!(cell_value("41"), json!(41));
    assert_eq!(cell_value("-3"), json!(-3));
    assert_eq!(cell_value("5993.5"), json!(5993.5));
    assert_eq!(cell_value("11 %"), json!("11 %"));
    assert_eq!(cell_value("15%"), json!("15%"));
    assert_eq!(cell_value("Marié(e)"), json!("Marié(e)"));
    assert_eq!(cell_value(""), Value::Null);
    // Rust reads these as floats; JSON has no such numbers.
    assert_eq!(cell_value("inf"), json!("inf"));
    assert_eq!(cell_value("NaN"), json!("NaN"));
}

#[test]
fn cells_are_trimmed_and_a_byte_order_mark_is_accepted() {
    let mut f = files(&rows(2, true));
    f[0] = format!("\u{feff}{}", f[0].replace("000002,Oui,", " 000002 , Oui ,"));
    f[2] = f[2].replace("\n2,41,", "\n2, 41 ,");
    let extracts = read(&f).expect("a BOM and spaces are fine");
    assert_eq!(extracts.rows, rows(2, true));
}
