//! The OpenAPI schema of [`Problem`] (feature `utoipa`).

use std::borrow::Cow;

use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::schema::{DESCRIPTION, STATUS, STRINGS, URI_REFERENCE};
use super::Problem;

/// RFC 9457's members, and the two the layers add (`kind`, `request_id`):
/// name the schema in a path's responses with
/// `body = Problem, content_type = "application/problem+json"`, and list it
/// in `components(schemas(Problem))`.
impl PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        let mut schema = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(DESCRIPTION))
            .property(
                STATUS.name,
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(100))
                    .maximum(Some(599))
                    .description(Some(STATUS.description)),
            )
            .required(STATUS.name)
            .additional_properties(Some(AdditionalProperties::FreeForm(true)));
        for member in STRINGS {
            let mut string = ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(member.description));
            if member.uri {
                // utoipa names the format only with its `url` feature, which
                // would bring the `url` crate for a string.
                string = string.format(Some(SchemaFormat::Custom(URI_REFERENCE.into())));
            }
            schema = schema.property(member.name, string);
        }
        schema.into()
    }
}

impl ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }
}
