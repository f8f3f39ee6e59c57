//! The canonical form of a record: every field, defaults filled in, the raise as a number,
//! choices in their wire spelling. Written from the record's cells and [`FIELDS`], so it
//! follows the table in [`schema`](super::schema) like everything else.
//!
//! The bytes are those serde_json writes for the same object as a `Value` (keys in byte
//! order, serde_json's number formatting): the hashes stored in `predictions.record_sha256`
//! were taken over exactly those bytes, and a replay must still match them.

use std::io::Write as _;
use std::sync::LazyLock;

use serde_json::{Map, Value};

use super::schema::{Kind, Record, FIELDS};
use super::table::Cell;

/// Field positions in the order a JSON object's keys are written: by name, byte-wise.
static BY_NAME: LazyLock<[usize; FIELDS.len()]> = LazyLock::new(|| {
    let mut order: [usize; FIELDS.len()] = std::array::from_fn(|i| i);
    order.sort_unstable_by_key(|&i| FIELDS[i].name);
    order
});

fn choice_text(i: usize, at: usize) -> &'static str {
    match FIELDS[i].kind {
        Kind::Choice(values) => values[at],
        other => unreachable!("field {} is not a choice: {other:?}", FIELDS[i].name),
    }
}

impl Record {
    /// The canonical record as JSON bytes: what `predictions.record_sha256` hashes and what an
    /// envelope published for it carries.
    pub fn canonical_json(&self) -> Vec<u8> {
        let cells = self.cells();
        let mut out = Vec::with_capacity(1024);
        out.push(b'{');
        for (k, &i) in BY_NAME.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            // Field names are plain ASCII identifiers: nothing to escape.
            out.push(b'"');
            out.extend_from_slice(FIELDS[i].name.as_bytes());
            out.extend_from_slice(b"\":");
            // Writing into a Vec cannot fail, and every value here is finite.
            let _ = match cells[i] {
                Cell::Int(n) => write!(out, "{n}").map_err(serde_json::Error::io),
                Cell::Number(x) => serde_json::to_writer(&mut out, &x),
                Cell::Choice(at) => serde_json::to_writer(&mut out, choice_text(i, at)),
            };
        }
        out.push(b'}');
        out
    }

    /// The record in its canonical wire form, as a JSON value. Stored as `predictions.input`,
    /// and accepted again by [`validate`](super::validate).
    pub fn to_json(&self) -> Value {
        let cells = self.cells();
        let map: Map<String, Value> = FIELDS
            .iter()
            .enumerate()
            .map(|(i, field)| {
                let value = match cells[i] {
                    Cell::Int(n) => Value::from(n),
                    Cell::Number(x) => Value::from(x),
                    Cell::Choice(at) => Value::from(choice_text(i, at)),
                };
                (field.name.to_owned(), value)
            })
            .collect();
        Value::Object(map)
    }

    /// The sha256 (hex) of [`Record::canonical_json`]: two requests hash the same exactly
    /// when their records are the same once defaults are filled in. Stored with each
    /// prediction, it is what a reused `request_id` is compared on.
    pub fn sha256(&self) -> String {
        crate::digest::sha256_hex(&self.canonical_json())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::record::{sample, validate};
    use crate::wire::Request;

    #[test]
    fn the_bytes_are_those_of_the_value_so_stored_hashes_still_match() {
        for map in sample::many(11, 200) {
            let record = validate(&map).expect("valid");
            let value = record.to_json();
            assert_eq!(
                record.canonical_json(),
                serde_json::to_vec(&value).expect("json")
            );
            let Value::Object(again) = value else {
                panic!("an object")
            };
            assert_eq!(validate(&again).expect("valid"), record);
        }
    }

    #[test]
    fn the_envelope_is_written_as_serde_writes_it() {
        for (i, map) in sample::many(12, 50).into_iter().enumerate() {
            let request = Request {
                request_id: (i % 2 == 0).then(|| format!("r-\"{i}\"\u{e9}")),
                employee_id: (i % 3 == 0).then_some(i as i64),
                explain: i % 4 == 0,
                record: validate(&map).expect("valid"),
            };
            assert_eq!(request.envelope_bytes(), request.to_envelope().to_bytes());
        }
    }
}
