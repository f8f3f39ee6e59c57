//! Untrusted JSON bytes straight to a record's [`Fields`] (any value inside as a
//! [`serde_json::Value`]), refusing an object that repeats a key.
//!
//! serde_json keeps the last of two equal keys, so `{"age": 41, "age": 15}` would be read as
//! one thing here and as another by a producer's parser that keeps the first: the record
//! stored would not be the one its producer meant. A repeated key is refused instead, as not
//! JSON this service reads. Nesting stays bounded by serde_json's recursion limit (128).
//!
//! [`parse_fields`] reads a message in one pass: each field of the record goes to its slot as
//! it is read, with no map of the whole object built first and searched by name after.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::ids;
use super::schema::{self, FIELDS};

/// Any JSON value, read strictly.
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
                return Err(duplicate(&key));
            }
            let Strict(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

fn duplicate<E: de::Error>(key: &str) -> E {
    E::custom(format_args!("duplicate key {:?}", ids::cut(key.as_bytes())))
}

/// A JSON object read as a record: the value of each of [`FIELDS`] in its slot (by position),
/// every other key apart, in key order (as a [`Map`] would hold them). Nothing is checked
/// against the record's rules yet.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub values: Slots,
    pub others: BTreeMap<String, Value>,
    /// The value of the key named to [`parse_fields`], when it is an object: read as a record
    /// of its own (an envelope's `employee`).
    pub nested: Option<Box<Fields>>,
}

/// One value per field of the record, in [`FIELDS`] order.
pub(crate) type Slots = [Option<Value>; FIELDS.len()];

impl Fields {
    /// Every key present and its value, in key order (the nested record aside).
    pub fn entries(&self) -> Vec<(&str, &Value)> {
        let mut all: Vec<(&str, &Value)> = FIELDS
            .iter()
            .zip(&self.values)
            .filter_map(|(f, v)| Some((f.name, v.as_ref()?)))
            .chain(self.others.iter().map(|(k, v)| (k.as_str(), v)))
            .collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }
}

/// What [`parse_fields`] read: an object as [`Fields`], or any other JSON value.
#[derive(Debug)]
pub(crate) enum Parsed {
    Object(Box<Fields>),
    Other(Value),
}

/// Parses `bytes` as JSON, reading an object straight into [`Fields`]; the value of the key
/// `nested`, when it is an object, is read as [`Fields`] too.
///
/// # Errors
/// serde_json's error for bytes that are not JSON (invalid UTF-8, a lone surrogate escape,
/// nesting past 128, a number past `f64`, trailing bytes), or an error naming the first key an
/// object repeats (cut to 200 bytes).
pub(crate) fn parse_fields(
    bytes: &[u8],
    nested: &'static str,
) -> Result<Parsed, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = FieldsSeed {
        nested: Some(nested),
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(parsed)
}

/// Reads an object as [`Fields`], anything else as a [`Value`] (both strictly); `nested`
/// names the key whose object value is read as [`Fields`] too.
struct FieldsSeed {
    nested: Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for FieldsSeed {
    type Value = Parsed;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Parsed, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Parsed, E> {
        Ok(Parsed::Other(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Parsed, E> {
        Ok(Parsed::Other(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Parsed, E> {
        Ok(Parsed::Other(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Parsed, E> {
        Ok(Parsed::Other(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Parsed, E> {
        Ok(Parsed::Other(Value::String(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Parsed, E> {
        Ok(Parsed::Other(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Parsed, E> {
        Ok(Parsed::Other(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Parsed, A::Error> {
        StrictVisitor.visit_seq(seq).map(Parsed::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Parsed, A::Error> {
        let mut fields = Box::<Fields>::default();
        while let Some(key) = access.next_key_seed(KeySeed {
            nested: self.nested,
        })? {
            match key {
                Key::Field(i) => {
                    if fields.values[i].is_some() {
                        return Err(duplicate(FIELDS[i].name));
                    }
                    let Strict(value) = access.next_value()?;
                    fields.values[i] = Some(value);
                }
                Key::Nested(name) => {
                    if fields.nested.is_some() || fields.others.contains_key(name) {
                        return Err(duplicate(name));
                    }
                    match access.next_value_seed(FieldsSeed { nested: None })? {
                        Parsed::Object(inner) => fields.nested = Some(inner),
                        // Not an object: kept as any other key's value, for the error naming it.
                        Parsed::Other(value) => {
                            fields.others.insert(name.to_owned(), value);
                        }
                    }
                }
                Key::Other(key) => {
                    if fields.others.contains_key(&key) {
                        return Err(duplicate(&key));
                    }
                    let Strict(value) = access.next_value()?;
                    fields.others.insert(key, value);
                }
            }
        }
        Ok(Parsed::Object(fields))
    }
}

enum Key {
    Field(usize),
    Nested(&'static str),
    Other(String),
}

/// A key, looked up among the fields without being copied unless it is not one.
struct KeySeed {
    nested: Option<&'static str>,
}

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Key, E> {
        Ok(match (schema::position(key), self.nested) {
            (Some(i), _) => Key::Field(i),
            (None, Some(nested)) if nested == key => Key::Nested(nested),
            (None, _) => Key::Other(key.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests;
