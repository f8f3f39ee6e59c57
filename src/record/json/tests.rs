use super::*;

fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0)
}

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

fn object(text: &[u8]) -> Box<Fields> {
    match parse_fields(text, "employee").expect("json") {
        Parsed::Object(fields) => fields,
        Parsed::Other(value) => panic!("not an object: {value}"),
    }
}

#[test]
fn fields_go_to_their_slots_and_other_keys_apart() {
    let fields = object(br#"{"zeta": [1], "\u0061ge": 41, "employee": {"genre": "F", "x": {"y": null}}, "alpha": "a"}"#);
    assert_eq!(
        fields.values[schema::FieldId::age as usize],
        Some(Value::from(41))
    );
    assert_eq!(fields.values.iter().flatten().count(), 1);
    assert_eq!(
        fields.others.keys().collect::<Vec<_>>(),
        ["alpha", "zeta"],
        "in key order, as a map holds them"
    );
    let nested = fields
        .nested
        .as_ref()
        .expect("the named key's object is a record too");
    assert_eq!(
        nested.values[schema::FieldId::genre as usize],
        Some(Value::from("F"))
    );
    assert_eq!(nested.others["x"], serde_json::json!({"y": null}));
    assert_eq!(
        fields.entries(),
        [
            ("age", &Value::from(41)),
            ("alpha", &Value::from("a")),
            ("zeta", &serde_json::json!([1]))
        ]
    );
}

#[test]
fn the_named_key_holding_no_object_is_kept_as_a_value_and_only_at_the_top() {
    let fields = object(br#"{"employee": [1, 2]}"#);
    assert!(fields.nested.is_none());
    assert_eq!(fields.others["employee"], serde_json::json!([1, 2]));
    let fields = object(br#"{"employee": {"employee": {"age": 1}}}"#);
    let nested = fields.nested.expect("nested");
    assert!(nested.nested.is_none());
    assert_eq!(nested.others["employee"], serde_json::json!({"age": 1}));
}

#[test]
fn anything_but_an_object_is_read_whole_and_strictly() {
    for (text, value) in [
        (&b"[1, {\"a\": 2}]"[..], serde_json::json!([1, {"a": 2}])),
        (b"\"x\"", serde_json::json!("x")),
        (b"null", Value::Null),
    ] {
        match parse_fields(text, "employee").expect("json") {
            Parsed::Other(v) => assert_eq!(v, value),
            Parsed::Object(_) => panic!("an object"),
        }
    }
    assert!(parse_fields(br#"[{"k": 1, "k": 2}]"#, "employee").is_err());
    assert!(parse_fields(br#"{"age": 41} x"#, "employee").is_err());
    assert!(parse_fields(b"{\"age\": \"\xff\"}", "employee").is_err());
}

#[test]
fn a_key_repeated_anywhere_is_refused_however_it_is_spelled() {
    for text in [
        &br#"{"age": 41, "age": 15}"#[..],
        br#"{"age": 41, "\u0061ge": 15}"#,
        br#"{"extra": 1, "extra": 1}"#,
        br#"{"employee": {}, "employee": {}}"#,
        br#"{"employee": 1, "employee": {}}"#,
        br#"{"employee": {}, "employee": 1}"#,
        br#"{"employee": {"genre": "F", "genre": "M"}}"#,
        br#"{"employee": {"x": {"k": 1, "k": 2}}}"#,
    ] {
        let error = parse_fields(text, "employee")
            .expect_err("refused")
            .to_string();
        assert!(
            error.contains("duplicate key"),
            "{}: {error}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn deep_nesting_bad_bytes_and_lone_surrogates_are_not_json() {
    let deep = "[".repeat(20_000) + &"]".repeat(20_000);
    assert!(parse(deep.as_bytes()).is_err());
    assert!(parse(b"\xff\xfe{}").is_err());
    assert!(parse(br#"{"a": "\ud800"}"#).is_err());
    assert!(parse(b"").is_err());
    assert!(parse_fields(deep.as_bytes(), "employee").is_err());
    let nested = format!("{{\"employee\": {{\"age\": {deep}}}}}");
    assert!(parse_fields(nested.as_bytes(), "employee").is_err());
}
