//! A JSON value written as block-style YAML, for the committed docs/asyncapi.yaml.
//!
//! Keys are sorted (the root's in a fixed order), so the text depends on the value only, never
//! on how `serde_json` happens to keep its maps. A string is written plain when no YAML reader
//! can take it for anything else, and double-quoted with JSON's escapes otherwise (JSON's
//! escapes are valid in YAML's double-quoted style).

use serde_json::{Map, Value};

/// The root's keys first, in this order; any other root key follows, sorted.
const ROOT_ORDER: [&str; 7] = [
    "asyncapi",
    "info",
    "defaultContentType",
    "servers",
    "channels",
    "operations",
    "components",
];

/// `value` as a YAML document.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| {
                let rank = ROOT_ORDER.iter().position(|r| r == k);
                (rank.unwrap_or(ROOT_ORDER.len()), k.as_str())
            });
            for key in keys {
                entry(&mut out, key, &map[key], 0);
            }
        }
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// One `key: value` whose key the caller has indented to `depth`.
fn entry(out: &mut String, key: &str, value: &Value, depth: usize) {
    out.push_str(&string(key));
    out.push(':');
    if is_block(value) {
        out.push('\n');
        block(out, value, depth + 2);
    } else {
        out.push(' ');
        out.push_str(&scalar(value));
        out.push('\n');
    }
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Object(map) => !map.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => false,
    }
}

/// A non-empty map or list, every line at `depth`.
fn block(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Object(map) => {
            for (key, value) in sorted(map) {
                indent(out, depth);
                entry(out, key, value, depth);
            }
        }
        Value::Array(items) => {
            for item in items {
                indent(out, depth);
                out.push('-');
                match item {
                    Value::Object(map) if !map.is_empty() => {
                        // The first key shares the dash's line; the others line up with it.
                        for (i, (key, value)) in sorted(map).into_iter().enumerate() {
                            if i == 0 {
                                out.push(' ');
                            } else {
                                indent(out, depth + 2);
                            }
                            entry(out, key, value, depth + 2);
                        }
                    }
                    Value::Array(inner) if !inner.is_empty() => {
                        out.push('\n');
                        block(out, item, depth + 2);
                    }
                    scalar_item => {
                        out.push(' ');
                        out.push_str(&scalar(scalar_item));
                        out.push('\n');
                    }
                }
            }
        }
        other => {
            indent(out, depth);
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn sorted(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
    }
}

/// Words a YAML 1.1 or 1.2 reader would take for a boolean or null.
const RESERVED: [&str; 11] = [
    "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~", "",
];

fn string(s: &str) -> String {
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || matches!(c, '_' | '/' | '$' | '('));
    let plain = first_ok
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str())
        && !s.ends_with(' ')
        && s.chars().all(|c| {
            !c.is_control() && !matches!(c, ':' | '#' | '{' | '}' | '[' | ']' | '\\' | '"')
        });
    if plain {
        s.to_owned()
    } else {
        serde_json::to_string(s).expect("a string serializes")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_maps_and_lists_are_written_in_block_style() {
        let value = json!({
            "info": {"title": "turnover", "version": "1.2.0"},
            "asyncapi": "3.0.0",
            "list": [{"b": 1, "a": [true, null]}, "x: y", [], {}],
            "empty": {},
        });
        assert_eq!(
            to_yaml(&value),
            "asyncapi: \"3.0.0\"\ninfo:\n  title: turnover\n  version: \"1.2.0\"\nempty: {}\n\
             list:\n  - a:\n      - true\n      - null\n    b: 1\n  - \"x: y\"\n  - []\n  - {}\n"
        );
    }

    #[test]
    fn a_string_a_reader_could_mistake_is_quoted() {
        for s in [
            "true",
            "No",
            "3.0.0",
            "-1",
            "a: b",
            "#x",
            "$message.header#/reply_to",
            " a",
        ] {
            assert!(string(s).starts_with('"'), "{s}");
        }
        for s in [
            "turnover.requests",
            "amq.rabbitmq.reply-to",
            "Célibataire",
            "$ref",
        ] {
            assert_eq!(string(s), s);
        }
    }
}
