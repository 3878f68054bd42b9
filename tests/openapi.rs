//! The `Problem` schema in a generated OpenAPI document (feature `utoipa`):
//! the document lists the error responses with it, and the problems a real
//! server answers, over a socket, validate against it, an application's
//! own problem type (its `type`, `kind` and members) among them;
//! schemars's (feature `schemars`) is the same schema.
#![cfg(feature = "utoipa")]

mod support;

use std::error::Error;
use std::fmt;

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tower_problem::app::{AppErrorLayer, HandlerError, ProblemType};
use tower_problem::problem::{ExtensionValue, Problem};
use utoipa::OpenApi;

use support::{h1, request, serve_router};

#[derive(Debug)]
struct NoSuchOrder;

impl fmt::Display for NoSuchOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no such order")
    }
}

impl Error for NoSuchOrder {}

/// A problem type of the API's own, in the document as a `Problem`.
impl ProblemType for NoSuchOrder {
    fn kind(&self) -> &'static str {
        "order-not-found"
    }

    fn title(&self) -> &'static str {
        "No such order"
    }

    fn status(&self) -> StatusCode {
        StatusCode::NOT_FOUND
    }

    fn extensions(&self, members: &mut Vec<(&'static str, ExtensionValue)>) {
        members.push(("order_id", 7.into()));
    }
}

/// An order.
#[utoipa::path(
    get,
    path = "/orders/{id}",
    params(("id" = u32, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order", body = String),
        (status = 404, description = "No such order", body = OrderNotFound, content_type = "application/problem+json"),
        (status = 500, description = "The server failed", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn order(Path(id): Path<u32>) -> Result<String, HandlerError> {
    match id {
        1 => Ok("one".into()),
        13 => panic!("unlucky"),
        _ => Err(NoSuchOrder)?,
    }
}

/// The schema of the `order-not-found` problem: a `Problem`'s members,
/// flattened, and its own.
#[derive(utoipa::ToSchema)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[allow(dead_code)]
struct OrderNotFound {
    #[serde(flatten)]
    problem: Problem,
    /// The order asked for.
    order_id: u64,
}

#[derive(OpenApi)]
#[openapi(paths(order), components(schemas(Problem)))]
struct ApiDoc;

fn problem_schema(document: &Value) -> Value {
    let mut schema = document["components"]["schemas"]["Problem"].clone();
    assert!(schema.is_object(), "no Problem schema: {document}");
    schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    schema
}

/// The problems a real server answers, each with its status.
async fn real_problems() -> Vec<(Value, StatusCode)> {
    let app = Router::new().route("/orders/{id}", get(order)).layer(
        AppErrorLayer::new()
            .intercept_all_errors(true)
            .type_base("https://errors.example.com/")
            .problem_type::<NoSuchOrder>(),
    );
    let addr = serve_router(app).await;
    let mut problems = Vec::new();
    for (path, status) in [
        ("/orders/7", StatusCode::NOT_FOUND),
        ("/orders/13", StatusCode::INTERNAL_SERVER_ERROR),
        ("/orders/x", StatusCode::BAD_REQUEST),
        ("/no/such/path", StatusCode::NOT_FOUND),
    ] {
        let reply = h1(addr, request(Method::GET, path, &[("x-request-id", "r-1")])).await;
        assert_eq!(reply.status, status, "{path}");
        problems.push((reply.json(), status));
    }
    assert_eq!(
        problems[0].0["type"],
        "https://errors.example.com/order-not-found"
    );
    assert_eq!(problems[0].0["order_id"], 7);
    problems
}

/// Not problems: a schema must refuse them, so the tests can fail.
fn not_problems() -> [Value; 4] {
    [
        json!({"title": "no status"}),
        json!({"status": 700}),
        json!({"status": "404"}),
        json!({"status": 404, "type": 5}),
    ]
}

#[tokio::test]
async fn the_document_lists_the_error_responses_and_real_problems_validate() {
    let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let responses = &document["paths"]["/orders/{id}"]["get"]["responses"];
    for (status, schema) in [("404", "OrderNotFound"), ("500", "Problem")] {
        assert_eq!(
            responses[status]["content"]["application/problem+json"]["schema"]["$ref"],
            format!("#/components/schemas/{schema}"),
            "{responses}"
        );
    }
    let schema = problem_schema(&document);
    assert_eq!(schema["required"], json!(["status"]));
    assert_eq!(schema["properties"]["type"]["format"], "uri-reference");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    for (body, status) in real_problems().await {
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{body} does not validate: {errors:?}");
        // What the schema describes is what the crate reads back.
        let problem: Problem = serde_json::from_value(body).unwrap();
        assert_eq!(problem.status(), Some(status));
    }
    for bad in not_problems() {
        assert!(!validator.is_valid(&bad), "{bad} should not validate");
    }
}

#[cfg(feature = "schemars")]
#[tokio::test]
async fn schemars_gives_the_same_schema() {
    let schemars = serde_json::to_value(schemars::schema_for!(Problem)).unwrap();
    let utoipa = problem_schema(&serde_json::to_value(ApiDoc::openapi()).unwrap());
    for member in ["type", "properties", "required", "additionalProperties"] {
        assert_eq!(schemars[member], utoipa[member], "{member}");
    }
    let validator = jsonschema::validator_for(&schemars).expect("a valid JSON Schema");
    for (body, _) in real_problems().await {
        assert!(validator.is_valid(&body), "{body}");
    }
    for bad in not_problems() {
        assert!(!validator.is_valid(&bad), "{bad} should not validate");
    }
}

/// A problem type's own schema: `Problem`'s and its members', which the
/// real `order-not-found` problem meets and a problem without `order_id`
/// does not.
#[tokio::test]
async fn a_problem_type_has_a_schema_of_its_own() {
    let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
    let own = &document["components"]["schemas"]["OrderNotFound"];
    assert!(own.is_object(), "no OrderNotFound schema: {document}");
    // It refers to `Problem`'s: validated within the document's components.
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": "#/components/schemas/OrderNotFound",
        "components": document["components"],
    });
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let (not_found, _) = real_problems().await.remove(0);
    assert!(validator.is_valid(&not_found), "{not_found}");
    assert!(!validator.is_valid(&json!({"status": 404, "kind": "order-not-found"})));
    assert!(
        !validator.is_valid(&json!({"order_id": 7})),
        "status stays required"
    );

    #[cfg(feature = "schemars")]
    {
        let schemars = serde_json::to_value(schemars::schema_for!(OrderNotFound)).unwrap();
        let validator = jsonschema::validator_for(&schemars).expect("a valid JSON Schema");
        assert!(validator.is_valid(&not_found), "{not_found}");
        assert!(!validator.is_valid(&json!({"status": 404})));
    }
}
