//! The record's OpenAPI schema, built from [`FIELDS`], the single source of its rules, rather
//! than written out a second time.

use serde::Serialize;
use utoipa::openapi::schema::{
    AdditionalProperties, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::schema::{Kind, FIELDS};
use super::validate::PERCENT_PATTERN;

/// The employee record (docs/contract.md#record); unknown fields are rejected.
#[derive(Serialize)]
pub struct EmployeeRecord;

impl PartialSchema for EmployeeRecord {
    fn schema() -> RefOr<Schema> {
        let mut object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)));
        for field in FIELDS {
            let (schema, required): (Schema, bool) = match field.kind {
                // A field with a default may also be sent as null: it then takes the default.
                Kind::Int { min, max, default } => (
                    ObjectBuilder::new()
                        .schema_type(match default {
                            Some(_) => SchemaType::from_iter([Type::Integer, Type::Null]),
                            None => SchemaType::new(Type::Integer),
                        })
                        .minimum(Some(min as f64))
                        .maximum(Some(max as f64))
                        .default(default.map(Into::into))
                        .into(),
                    default.is_none(),
                ),
                Kind::Number { min, max } => (ObjectBuilder::new().schema_type(Type::Number).minimum(Some(min)).maximum(Some(max)).into(), true),
                Kind::Percent => (
                    OneOfBuilder::new()
                        .item(ObjectBuilder::new().schema_type(Type::Number).minimum(Some(0.0)).maximum(Some(100.0)))
                        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(PERCENT_PATTERN)))
                        .description(Some("A percentage, 0 to 100: a number, or a string such as \"15%\" or \"15 %\""))
                        .into(),
                    true,
                ),
                Kind::Choice(values) => (ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.iter().copied())).into(), true),
            };
            object = object.property(field.name, schema);
            if required {
                object = object.required(field.name);
            }
        }
        object.into()
    }
}
impl ToSchema for EmployeeRecord {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_schema_lists_every_field() {
        let json = serde_json::to_value(EmployeeRecord::schema()).unwrap();
        assert_eq!(json["properties"].as_object().unwrap().len(), 30);
        assert_eq!(
            json["required"].as_array().unwrap().len(),
            28,
            "two fields have defaults"
        );
        assert_eq!(json["properties"]["age"]["minimum"], 18.0);
    }
}
