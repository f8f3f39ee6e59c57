use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::{validate, validate_fields};
use crate::record::json::{parse_fields, Parsed};
use crate::record::sample;
use crate::record::schema::{Kind, FIELDS};
use crate::record::FieldError;

fn with(changes: &[(&str, Value)]) -> Map<String, Value> {
    let mut map = sample::example();
    for (k, v) in changes {
        map.insert((*k).to_owned(), v.clone());
    }
    map
}

fn fields_of(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn the_example_is_valid_and_typed() {
    let r = validate(&sample::example()).expect("valid");
    assert_eq!(r.age, 41);
    assert_eq!(r.augementation_salaire_precedente, 13.0);
    assert!(r.heure_supplementaires);
    assert_eq!(r.poste.as_str(), "Cadre Commercial");
}

#[test]
fn canonical_json_validates_back_to_the_same_record() {
    for map in sample::many(7, 200) {
        let r = validate(&map).expect("valid");
        let Value::Object(back) = r.to_json() else {
            panic!("object")
        };
        assert_eq!(validate(&back).expect("canonical form is valid"), r);
        for field in FIELDS.iter() {
            if let Kind::Int { .. } = field.kind {
                assert_eq!(
                    back[field.name].as_f64(),
                    map[field.name].as_f64(),
                    "{}",
                    field.name
                );
            }
        }
    }
}

#[test]
fn optional_fields_take_their_defaults() {
    let mut map = sample::example();
    map.remove("nombre_employee_sous_responsabilite");
    map.insert("nombre_heures_travailless".into(), Value::Null);
    let r = validate(&map).expect("valid");
    assert_eq!(r.nombre_employee_sous_responsabilite, 1);
    assert_eq!(r.nombre_heures_travailless, 80);
}

#[test]
fn raise_accepts_numbers_and_percent_strings() {
    for (raw, want) in [
        (json!("15%"), 15.0),
        (json!("15 %"), 15.0),
        (json!(" 10 % "), 10.0),
        (json!("\t7.5\t%"), 7.5),
        (json!("100%"), 100.0),
        (json!("0 %"), 0.0),
        (json!(12.5), 12.5),
    ] {
        let r =
            validate(&with(&[("augementation_salaire_precedente", raw.clone())])).expect("valid");
        assert_eq!(r.augementation_salaire_precedente, want, "{raw}");
    }
    for raw in [
        json!("15"),
        json!("abc%"),
        json!(101),
        json!("-1 %"),
        json!("1e1%"),
        json!("+5%"),
        json!(".5%"),
        json!("5.%"),
        json!("100.5%"),
        json!("150%"),
        json!("\u{a0}5%"),
        json!(true),
    ] {
        let errors =
            validate(&with(&[("augementation_salaire_precedente", raw.clone())])).unwrap_err();
        assert_eq!(
            fields_of(&errors),
            ["augementation_salaire_precedente"],
            "{raw}"
        );
    }
}

#[test]
fn the_old_apis_rejection_cases_name_their_field() {
    let cases = [
        ("age", json!(15)),
        ("age", json!(75)),
        ("age", json!("trente")),
        ("nb_formations_suivies", json!(-1)),
        ("genre", json!("X")),
        ("departement", json!("Finance")),
        ("statut_marital", json!("Pacsé")),
        ("frequence_deplacement", json!("Souvent")),
        ("revenu_mensuel", json!(500)),
        ("nb_formations_suivies", json!(99)),
    ];
    for (field, value) in cases {
        let errors = validate(&with(&[(field, value.clone())])).unwrap_err();
        assert!(
            fields_of(&errors).contains(&field),
            "{field}={value}: {errors:?}"
        );
        let e = errors.iter().find(|e| e.field == field).expect("named");
        assert_eq!(e.value, value);
    }
}

#[test]
fn an_empty_object_lists_every_required_field() {
    let errors = validate(&Map::new()).unwrap_err();
    assert_eq!(errors.len(), 28, "30 fields, 2 optional");
    assert!(errors.iter().all(|e| e.message == "is required"));
}

#[test]
fn all_errors_are_reported_at_once() {
    let errors = validate(&with(&[
        ("age", json!(99)),
        ("genre", json!("?")),
        ("salaire", json!(1)),
    ]))
    .unwrap_err();
    let mut fields = fields_of(&errors);
    fields.sort_unstable();
    assert_eq!(fields, ["age", "genre", "salaire"]);
    let unknown = errors
        .iter()
        .find(|e| e.field == "salaire")
        .expect("unknown field named");
    assert_eq!(unknown.message, "is not a field of the record");
}

#[test]
fn whole_numbers_reject_fractions_and_strings() {
    for bad in [json!(2.5), json!("2"), json!([2])] {
        let errors = validate(&with(&[("niveau_education", bad.clone())])).unwrap_err();
        assert_eq!(fields_of(&errors), ["niveau_education"], "{bad}");
        assert_eq!(errors[0].message, "must be a whole number from 1 to 5");
    }
    assert!(validate(&with(&[("niveau_education", json!(3.0))])).is_ok());
}

#[test]
fn each_cross_field_rule_names_its_pair() {
    let cases: [(&[(&str, Value)], &str); 5] = [
        (
            &[("annees_dans_l_entreprise", json!(9))],
            "annees_dans_l_entreprise,annee_experience_totale",
        ),
        (
            &[("annees_dans_le_poste_actuel", json!(7))],
            "annees_dans_le_poste_actuel,annees_dans_l_entreprise",
        ),
        (
            &[("annes_sous_responsable_actuel", json!(7))],
            "annes_sous_responsable_actuel,annees_dans_l_entreprise",
        ),
        (
            &[("annees_depuis_la_derniere_promotion", json!(7))],
            "annees_depuis_la_derniere_promotion,annees_dans_l_entreprise",
        ),
        (&[("age", json!(21))], "age,annee_experience_totale"),
    ];
    for (changes, pair) in cases {
        let errors = validate(&with(changes)).unwrap_err();
        assert_eq!(fields_of(&errors), [pair]);
    }
}

/// A value that breaks `field`'s own rule, chosen by `pick`.
fn breaking_value(kind: Kind, pick: u8) -> Value {
    match kind {
        Kind::Int { min, max, .. } => match pick % 3 {
            0 => json!(min - 1),
            1 if max < u32::MAX as i64 => json!(max + 1),
            _ => json!("many"),
        },
        Kind::Number { min, max } => {
            [json!(min - 1.0), json!(max + 1.0), json!("lots")][pick as usize % 3].clone()
        }
        Kind::Percent => [json!(100.5), json!("x %"), json!(-3)][pick as usize % 3].clone(),
        Kind::Choice(_) => [json!("Nope"), json!(1), json!("")][pick as usize % 3].clone(),
    }
}

proptest! {
    #[test]
    fn every_generated_record_is_accepted(seed in any::<u64>()) {
        let map = sample::many(seed, 1).remove(0);
        prop_assert!(validate(&map).is_ok(), "{:?}", validate(&map));
    }

    #[test]
    fn breaking_one_field_names_that_field(seed in any::<u64>(), index in 0..FIELDS.len(), pick in any::<u8>()) {
        let mut map = sample::many(seed, 1).remove(0);
        let field = FIELDS[index];
        map.insert(field.name.to_owned(), breaking_value(field.kind, pick));
        let errors = validate(&map).unwrap_err();
        prop_assert_eq!(fields_of(&errors), vec![field.name]);
    }

    #[test]
    fn removing_a_required_field_names_it(seed in any::<u64>(), index in 0..FIELDS.len()) {
        let mut map = sample::many(seed, 1).remove(0);
        let field = FIELDS[index];
        map.remove(field.name);
        let result = validate(&map);
        match field.kind {
            Kind::Int { default: Some(_), .. } => prop_assert!(result.is_ok()),
            _ => {
                let errors = result.unwrap_err();
                prop_assert_eq!(fields_of(&errors), vec![field.name]);
            }
        }
    }

    /// The one-pass reader and the map give the same record, or the same errors in the same
    /// order, whatever order the keys come in.
    #[test]
    fn read_straight_into_its_fields_a_record_meets_the_same_rules(
        seed in any::<u64>(),
        index in 0..FIELDS.len(),
        pick in any::<u8>(),
        extra in "[a-z_]{1,12}",
        reversed in any::<bool>(),
    ) {
        let mut map = sample::many(seed, 1).remove(0);
        let field = FIELDS[index];
        match pick % 3 {
            0 => {}
            1 => {
                map.remove(field.name);
            }
            _ => {
                map.insert(field.name.to_owned(), breaking_value(field.kind, pick));
            }
        }
        if pick % 2 == 1 {
            map.insert(extra, json!(pick));
        }
        let mut entries: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{}:{v}", Value::from(k.as_str())))
            .collect();
        if reversed {
            entries.reverse();
        }
        let bytes = format!("{{{}}}", entries.join(","));
        let Ok(Parsed::Object(fields)) = parse_fields(bytes.as_bytes(), "employee") else {
            panic!("an object: {bytes}")
        };
        prop_assert_eq!(validate_fields(&fields), validate(&map));
    }
}
