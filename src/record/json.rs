//! Untrusted JSON bytes to a [`serde_json::Value`], refusing an object that repeats a key.
//!
//! serde_json keeps the last of two equal keys, so `{"age": 41, "age": 15}` would be read as
//! one thing here and as another by a producer's parser that keeps the first: the record
//! stored would not be the one its producer meant. A repeated key is refused instead, as not
//! JSON this service reads. Nesting stays bounded by serde_json's recursion limit (128).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::ids;

/// Parses `bytes` as JSON.
///
/// # Errors
/// serde_json's error for bytes that are not JSON (invalid UTF-8, a lone surrogate escape,
/// nesting past 128, a number past `f64`, trailing bytes), or an error naming the first key an
/// object repeats (cut to 200 bytes).
pub fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0)
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key {:?}",
                    ids::cut(key.as_bytes())
                )));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads() {
        let text = br#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "c": 18446744073709551615}"#;
        assert_eq!(
            parse(text).expect("json"),
            serde_json::from_slice::<Value>(text).expect("json")
        );
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        for text in [
            &br#"{"age": 41, "age": 15}"#[..],
            br#"{"e": [{"k": 1, "k": 1}]}"#,
        ] {
            let error = parse(text).expect_err("refused").to_string();
            assert!(error.contains("duplicate key"), "{error}");
        }
    }

    #[test]
    fn deep_nesting_bad_bytes_and_lone_surrogates_are_not_json() {
        let deep = "[".repeat(20_000) + &"]".repeat(20_000);
        assert!(parse(deep.as_bytes()).is_err());
        assert!(parse(b"\xff\xfe{}").is_err());
        assert!(parse(br#"{"a": "\ud800"}"#).is_err());
        assert!(parse(b"").is_err());
    }
}
