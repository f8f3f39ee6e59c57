//! Writing rows then reading them back gives the same rows, whatever order each file lists
//! them in (the CSV merge round trip).

use proptest::prelude::*;
use serde_json::{Map, Number, Value};

use super::*;

/// A cell value that survives the trip: numbers, `null`, and text that does not read as a
/// number and has no surrounding spaces (cells are trimmed), with commas, quotes and line
/// breaks that the CSV must quote.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| {
            Number::from_f64(f).map(Value::Number)
        }),
        "[A-Za-zéÉè&()%', \"\n-]{0,12}".prop_map(|s| match s.trim() {
            "" => Value::Null,
            text => Value::String(text.to_owned()),
        }),
        Just(Value::Null),
    ]
}

fn record() -> impl Strategy<Value = Map<String, Value>> {
    let fields: Vec<&'static str> = ExtractFile::ALL
        .iter()
        .flat_map(|f| f.fields().iter().copied())
        .collect();
    prop::collection::vec(value(), fields.len())
        .prop_map(move |values| fields.iter().map(|f| (*f).to_owned()).zip(values).collect())
}

/// Rows with distinct ids, sorted by id, all labelled or none.
fn rows() -> impl Strategy<Value = Vec<ExtractRow>> {
    (
        prop::collection::btree_set(0i64..10_000_000, 0..20),
        any::<bool>(),
    )
        .prop_flat_map(|(ids, labelled)| {
            let n = ids.len();
            let labels = prop::collection::vec(any::<bool>(), n);
            (
                Just(ids),
                prop::collection::vec(record(), n),
                labels,
                Just(labelled),
            )
        })
        .prop_map(|(ids, records, labels, labelled)| {
            ids.into_iter()
                .zip(records)
                .zip(labels)
                .map(|((employee_id, record), label)| ExtractRow {
                    employee_id,
                    record,
                    label: labelled.then_some(label),
                })
                .collect()
        })
}

/// The rows, and one order of them per file.
fn rows_and_orders() -> impl Strategy<Value = (Vec<ExtractRow>, [Vec<ExtractRow>; 3])> {
    rows().prop_flat_map(|rows| {
        let shuffled = || Just(rows.clone()).prop_shuffle();
        (Just(rows.clone()), [shuffled(), shuffled(), shuffled()])
    })
}

proptest! {
    #[test]
    fn written_rows_read_back_the_same((rows, orders) in rows_and_orders()) {
        let f = ExtractFile::ALL.map(|file| {
            let mut out = Vec::new();
            write_file(file, &mut out, &orders[file.index()]).expect("writing to memory");
            String::from_utf8(out).expect("UTF-8")
        });
        let extracts = read(&f).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&extracts.rows, &rows);
        prop_assert!(extracts.orphans.is_empty());
    }
}
