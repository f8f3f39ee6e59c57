//! docs/contract.md's configuration table against the loader: the same keys, the same
//! defaults, the same environment variables. Both sides are read, from the markdown and from
//! the serialized [`Settings::default`], so a key added to either alone fails here.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Settings;

/// One row of the table: the default cell and the environment-variable cell.
struct Row {
    default: String,
    variables: String,
}

/// The rows of the `## Configuration` section's first table, by key (a row naming several
/// keys, "`a.b`, `a.c`", gives each).
fn documented() -> BTreeMap<String, Row> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/contract.md");
    let doc = std::fs::read_to_string(path).expect("docs/contract.md");
    let section = doc
        .split("\n## Configuration\n")
        .nth(1)
        .expect("a Configuration section");
    let mut rows = BTreeMap::new();
    let table = section
        .lines()
        .skip_while(|l| !l.starts_with("| key |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'));
    for line in table {
        let cells: Vec<&str> = line.split(" | ").collect();
        let keys = cells[0].trim_start_matches('|');
        for key in ticked(keys) {
            rows.insert(
                key,
                Row {
                    default: cells[2].trim().to_owned(),
                    variables: cells[1].to_owned(),
                },
            );
        }
    }
    assert!(rows.len() > 20, "the table was not found in {path}");
    rows
}

/// The `code spans` of a cell.
fn ticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Every leaf of the serialized defaults, by dotted key.
fn loader() -> BTreeMap<String, Value> {
    let value = serde_json::to_value(Settings::default()).expect("settings serialize");
    let mut leaves = BTreeMap::new();
    let Value::Object(sections) = value else {
        panic!("settings are a table of sections")
    };
    for (section, keys) in sections {
        let Value::Object(keys) = keys else {
            panic!("{section} is a section")
        };
        for (key, default) in keys {
            leaves.insert(format!("{section}.{key}"), default);
        }
    }
    leaves
}

#[test]
fn the_contract_table_and_the_loader_agree_on_keys_defaults_and_variables() {
    let doc = documented();
    let code = loader();
    let only_doc: Vec<_> = doc.keys().filter(|k| !code.contains_key(*k)).collect();
    let only_code: Vec<_> = code.keys().filter(|k| !doc.contains_key(*k)).collect();
    assert!(
        only_doc.is_empty() && only_code.is_empty(),
        "documented but not loaded: {only_doc:?}; loaded but not documented: {only_code:?}"
    );
    for (key, default) in &code {
        let row = &doc[key];
        let variable = format!("TURNOVER_{}", key.to_uppercase().replace('.', "__"));
        assert!(
            ticked(&row.variables).contains(&variable),
            "{key}: the table names {} instead of `{variable}`",
            row.variables
        );
        let cell = &row.default;
        let agrees = match default {
            Value::Null => cell.starts_with("unset"),
            Value::Array(items) if items.is_empty() => cell.starts_with("empty"),
            Value::String(s) => ticked(cell).contains(s),
            other => ticked(cell).contains(&other.to_string()),
        };
        assert!(
            agrees,
            "{key}: the loader's default is {default}, the table says {cell:?}"
        );
    }
}

/// The chart's templates, concatenated.
fn chart_templates() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/helm/turnover/templates");
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).expect("helm/turnover/templates") {
        let path = entry.expect("a template").path();
        all.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
    }
    all
}

#[test]
fn the_chart_wires_every_key_of_the_table() {
    let templates = chart_templates();
    let unwired: Vec<String> = documented()
        .values()
        .flat_map(|row| ticked(&row.variables))
        .filter(|v| v.starts_with("TURNOVER_") && !templates.contains(v.as_str()))
        .collect();
    assert!(unwired.is_empty(), "keys the chart cannot set: {unwired:?}");
}
