//! The JSON Schema of [`Problem`] (feature `schemars`).

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::schema::{DESCRIPTION, STATUS, STRINGS, URI_REFERENCE};
use super::Problem;

/// The schema the `utoipa` feature gives too: RFC 9457's members and the
/// layers' `kind` and `request_id`, `status` required.
impl JsonSchema for Problem {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        let mut properties = Map::new();
        properties.insert(
            STATUS.name.into(),
            json!({
                "type": "integer",
                "minimum": 100,
                "maximum": 599,
                "description": STATUS.description,
            }),
        );
        for member in STRINGS {
            let mut string = json!({ "type": "string", "description": member.description });
            if member.uri {
                string["format"] = Value::from(URI_REFERENCE);
            }
            properties.insert(member.name.into(), string);
        }
        json_schema!({
            "type": "object",
            "description": DESCRIPTION,
            "properties": properties,
            "required": [STATUS.name],
            "additionalProperties": true,
        })
    }
}
