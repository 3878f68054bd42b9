//! The OpenAPI schema of [`Problem`] (feature `utoipa`).

use std::borrow::Cow;

use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::Problem;

/// RFC 9457's members, and the two the layers add (`kind`, `request_id`):
/// name the schema in a path's responses with
/// `body = Problem, content_type = "application/problem+json"`, and list it
/// in `components(schemas(Problem))`.
impl PartialSchema for Problem {
    fn schema() -> RefOr<Schema> {
        let string = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let uri_reference = |description: &str| {
            // JSON Schema's format name; utoipa names it only with its `url`
            // feature, which would bring the `url` crate for a string.
            string(description).format(Some(SchemaFormat::Custom("uri-reference".into())))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "An RFC 9457 problem details object (application/problem+json).",
            ))
            .property(
                "type",
                uri_reference("A URI reference that identifies the problem type.")
                    .default(Some("about:blank".into())),
            )
            .property(
                "title",
                string("A short, human-readable summary of the problem type."),
            )
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(100))
                    .maximum(Some(599))
                    .description(Some("The HTTP status code of this occurrence.")),
            )
            .required("status")
            .property(
                "detail",
                string("A human-readable explanation of this occurrence."),
            )
            .property(
                "instance",
                uri_reference("A URI reference that identifies this occurrence."),
            )
            .property(
                "kind",
                string("What failed, as a stable token (tower-problem's layers)."),
            )
            .property(
                "request_id",
                string("The request's id, when it had one (tower-problem's layers)."),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(true)))
            .into()
    }
}

impl ToSchema for Problem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Problem")
    }
}
