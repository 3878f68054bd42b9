//! RFC 9457 problem details: the [`Problem`] type and its `application/problem+json` rendering.
//!
//! Every response this crate generates carries a [`Problem`] body unless a
//! customisation says otherwise. Members are written in a fixed order:
//! `type`, `title`, `status`, `detail`, `instance`, then the extension members
//! in the order they were first inserted.
//!
//! Build one with [`Problem::builder`]: it refuses what RFC 9457's JSON
//! schema refuses (a `status` outside 100..=599, a `type` or `instance` that
//! is not an RFC 3986 URI reference) and the extension member names that
//! RFC 9457 §3.2 advises against, with an [`InvalidProblem`] that says which
//! and why.
//!
//! # Example
//!
//! ```
//! use http::StatusCode;
//! use tower_problem::problem::Problem;
//!
//! let problem = Problem::builder(StatusCode::SERVICE_UNAVAILABLE)
//!     .type_uri("https://example.com/problems/maintenance")
//!     .title("Down for maintenance")
//!     .extension("retry_in_minutes", 15)
//!     .build()?;
//!
//! let res = http::Response::from(problem);
//! assert_eq!(res.status(), 503);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! assert_eq!(
//!     res.body().as_ref(),
//!     br#"{"type":"https://example.com/problems/maintenance","title":"Down for maintenance","status":503,"retry_in_minutes":15}"#
//! );
//!
//! // A member RFC 9457 refuses: the first one is the error of `build`.
//! let err = Problem::builder(StatusCode::SERVICE_UNAVAILABLE)
//!     .type_uri("https://example.com/problems/down for maintenance")
//!     .extension("retry-in", 15)
//!     .build()
//!     .unwrap_err();
//! assert!(err.is_type_uri());
//! assert_eq!(
//!     err.to_string(),
//!     r#"problem type "https://example.com/problems/down for maintenance" is not a URI reference: unexpected character at byte 33"#
//! );
//! # Ok::<(), tower_problem::problem::InvalidProblem>(())
//! ```

mod builder;
mod error;
mod extension;
#[cfg(feature = "axum")]
mod into_response;
pub(crate) mod json;
#[cfg(feature = "schemars")]
mod json_schema;
#[cfg(feature = "utoipa")]
mod openapi;
mod response;
#[cfg(any(feature = "utoipa", feature = "schemars"))]
mod schema;
#[cfg(feature = "serde")]
mod serde;
mod uri;

use std::borrow::Cow;

use bytes::Bytes;
use http::StatusCode;

pub use self::builder::ProblemBuilder;
pub use self::error::InvalidProblem;
pub use self::extension::ExtensionValue;
#[cfg(feature = "serde")]
pub use self::extension::SerializedJson;
#[cfg(test)]
use self::extension::STANDARD_MEMBERS;

/// Whether `name` is an extension member's name RFC 9457 accepts and
/// advises (not a standard member's).
pub(crate) fn is_extension_name(name: &str) -> bool {
    extension::check_name(name).is_ok()
}
use self::json::ObjectWriter;
use self::response::problem_response;
pub(crate) use self::response::PROBLEM_JSON;

/// An RFC 9457 problem details object.
///
/// Build one with [`Problem::builder`], or add to one with
/// [`Problem::into_builder`], then turn it into a response with
/// `http::Response::from(problem)` (or, with the `axum` feature, return it
/// from a handler). See the [module docs](self).
///
/// A built `Problem` went through the builder's checks and has a status;
/// one read from another server (with the `serde` feature, through
/// `Deserialize`, which reads as RFC 9457 §3.1 asks a consumer to) may have
/// any member names, and no status. Either renders as valid JSON whatever
/// its text holds.
///
/// With the `serde` feature it is `Serialize`, writing what
/// [`to_json`](Self::to_json) writes, and `Deserialize`: a problem read
/// back equals the one written.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    type_uri: Option<Cow<'static, str>>,
    title: Option<Cow<'static, str>>,
    // `None` only for a problem read without a valid `status` (RFC 9457
    // makes the member optional); the builder always sets one.
    status: Option<StatusCode>,
    detail: Option<Cow<'static, str>>,
    instance: Option<Cow<'static, str>>,
    extensions: Vec<(Cow<'static, str>, ExtensionValue)>,
}

impl Problem {
    /// A layer's own problem, in one move: `type`, `title`, `status`,
    /// `detail` and the extension members, all valid by construction (the
    /// kinds' tokens and titles, a checked type base), so unchecked.
    pub(crate) fn layer_problem(
        status: StatusCode,
        type_uri: Cow<'static, str>,
        title: &'static str,
        detail: Option<String>,
        extensions: Vec<(Cow<'static, str>, ExtensionValue)>,
    ) -> Self {
        debug_assert!(extensions
            .iter()
            .all(|(name, _)| extension::check_name(name).is_ok()));
        Self {
            type_uri: Some(type_uri),
            title: Some(Cow::Borrowed(title)),
            status: Some(status),
            detail: detail.map(Cow::Owned),
            instance: None,
            extensions,
        }
    }

    /// Inserts or replaces in place.
    fn insert(&mut self, key: Cow<'static, str>, value: ExtensionValue) {
        match self.extensions.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.extensions.push((key, value)),
        }
    }
}

impl Problem {
    /// Starts a problem with `status`, which is also the status of the
    /// rendered response; [`ProblemBuilder::build`] refuses one outside
    /// 100..=599 (`StatusCode` takes up to 999).
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_problem::problem::Problem;
    ///
    /// let problem = Problem::builder(StatusCode::CONFLICT).build()?;
    /// assert_eq!(problem.to_json(), r#"{"status":409}"#);
    ///
    /// let nonstandard = StatusCode::from_u16(600).unwrap();
    /// assert!(Problem::builder(nonstandard).build().unwrap_err().is_status());
    /// # Ok::<(), tower_problem::problem::InvalidProblem>(())
    /// ```
    pub fn builder(status: StatusCode) -> ProblemBuilder {
        ProblemBuilder::start(if status.as_u16() <= 599 {
            Ok(Self {
                type_uri: None,
                title: None,
                status: Some(status),
                detail: None,
                instance: None,
                extensions: Vec::new(),
            })
        } else {
            Err(InvalidProblem::status(status))
        })
    }

    /// A builder that starts from this problem, to add to it: to set
    /// members, or add extensions (a repeated name replaces the value in
    /// place). What the problem holds already is not checked again.
    ///
    /// A customisation of the layers gets their problem this way; the names
    /// it adds are the only thing that can be refused:
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_problem::problem::Problem;
    ///
    /// let problem = Problem::builder(StatusCode::BAD_GATEWAY).title("Bad Gateway").build()?;
    /// let problem = problem
    ///     .into_builder()
    ///     .extension("support", "https://example.com/support")
    ///     .build()?;
    /// assert_eq!(
    ///     problem.to_json(),
    ///     r#"{"title":"Bad Gateway","status":502,"support":"https://example.com/support"}"#
    /// );
    /// # Ok::<(), tower_problem::problem::InvalidProblem>(())
    /// ```
    pub fn into_builder(self) -> ProblemBuilder {
        ProblemBuilder::start(Ok(self))
    }

    /// The `type` member.
    pub fn type_uri(&self) -> Option<&str> {
        self.type_uri.as_deref()
    }

    /// The `title` member.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The `status` member: always there in a problem a builder started
    /// ([`Problem::builder`] takes it); `None` in one read (feature `serde`)
    /// without an integer status from 100 to 599, which RFC 9457 §3.1.2
    /// makes optional.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The `detail` member.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The `instance` member.
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// The value of the extension member `key`.
    pub fn extension(&self, key: &str) -> Option<&ExtensionValue> {
        self.extensions
            .iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }

    /// The extension members, in member order.
    pub fn extensions(&self) -> impl Iterator<Item = (&str, &ExtensionValue)> {
        self.extensions.iter().map(|(k, v)| (&**k, v))
    }

    /// The `application/problem+json` body.
    ///
    /// Valid JSON for any content: strings are escaped as RFC 8259 requires.
    pub fn to_json(&self) -> Bytes {
        // Room for most problems at once: the texts, and some for the
        // punctuation, the keys and numbers, and a few escapes.
        let texts: usize = [&self.type_uri, &self.title, &self.detail, &self.instance]
            .into_iter()
            .flatten()
            .map(|text| text.len())
            .chain(
                self.extensions
                    .iter()
                    .map(|(key, value)| key.len() + value.as_str().map_or(0, str::len)),
            )
            .sum();
        let mut json = ObjectWriter::with_capacity(texts + 64 + 24 * self.extensions.len());
        if let Some(type_uri) = &self.type_uri {
            json.uri_reference("type", type_uri);
        }
        if let Some(title) = &self.title {
            json.string("title", title);
        }
        if let Some(status) = self.status {
            json.integer("status", status.as_u16());
        }
        if let Some(detail) = &self.detail {
            json.string("detail", detail);
        }
        if let Some(instance) = &self.instance {
            json.uri_reference("instance", instance);
        }
        for (key, value) in &self.extensions {
            value.write(key, &mut json);
        }
        json.finish()
    }
}

/// The response with the problem's status, or 500 Internal Server Error
/// for a problem read without one: a response needs a status, and a
/// problem describes a failure.
impl From<Problem> for http::Response<Bytes> {
    fn from(problem: Problem) -> Self {
        let status = problem.status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        problem_response(status, problem.to_json())
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use serde_json::{json, Value};

    fn parsed(problem: &Problem) -> Value {
        serde_json::from_slice(&problem.to_json()).unwrap()
    }

    fn refused(builder: ProblemBuilder) -> InvalidProblem {
        builder.build().unwrap_err()
    }

    /// The kinds an error answers to, in the order of the predicates.
    fn kinds(err: &InvalidProblem) -> [bool; 6] {
        #[cfg(feature = "serde")]
        let serialize = err.is_serialize();
        #[cfg(not(feature = "serde"))]
        let serialize = false;
        [
            err.is_status(),
            err.is_type_uri(),
            err.is_instance(),
            err.is_extension_name(),
            err.is_reserved_member(),
            serialize,
        ]
    }

    #[test]
    fn members_come_in_rfc_order_then_insertion_order() {
        let problem = Problem::builder(StatusCode::INTERNAL_SERVER_ERROR)
            .extension("zeta", 1)
            .instance("/i")
            .detail("d")
            .extension("alpha", true)
            .title("t")
            .type_uri("about:blank")
            .build()
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&problem.to_json()).unwrap(),
            r#"{"type":"about:blank","title":"t","status":500,"detail":"d","instance":"/i","zeta":1,"alpha":true}"#
        );
    }

    #[test]
    fn standard_member_names_are_refused_as_extensions() {
        for key in STANDARD_MEMBERS {
            let err = refused(Problem::builder(StatusCode::BAD_GATEWAY).extension(key, "x"));
            assert_eq!(kinds(&err), [false, false, false, true, true, false]);
            assert_eq!(
                err.to_string(),
                format!("extension member name {key:?} is taken by a standard problem member")
            );
        }
    }

    #[test]
    fn names_rfc_9457_advises_against_are_refused() {
        for (key, why) in [
            ("id", "it has fewer than three characters"),
            ("", "it has fewer than three characters"),
            ("_id", "it does not start with an ASCII letter"),
            ("1st", "it does not start with an ASCII letter"),
            (
                "retry-in",
                "'-' at byte 5 is not an ASCII letter, digit or '_'",
            ),
            (
                "caf\u{e9}s",
                "'é' at byte 3 is not an ASCII letter, digit or '_'",
            ),
            (
                "new\nline",
                "'\\n' at byte 3 is not an ASCII letter, digit or '_'",
            ),
        ] {
            let err = refused(Problem::builder(StatusCode::BAD_GATEWAY).extension(key, 1));
            assert_eq!(kinds(&err), [false, false, false, true, false, false]);
            assert_eq!(
                err.to_string(),
                format!("extension member name {key:?} is advised against by RFC 9457 §3.2: {why}")
            );
        }
    }

    #[test]
    fn a_repeated_key_replaces_the_value_in_place() {
        let problem = Problem::builder(StatusCode::BAD_GATEWAY)
            .extension("abc", "first")
            .extension("bcd", 2)
            .extension("abc", "second")
            .build()
            .unwrap();
        assert_eq!(
            problem.extension("abc"),
            Some(&ExtensionValue::from("second"))
        );
        assert_eq!(
            std::str::from_utf8(&problem.to_json()).unwrap(),
            r#"{"status":502,"abc":"second","bcd":2}"#
        );
    }

    #[test]
    fn statuses_outside_100_to_599_are_refused() {
        for code in [100, 101, 200, 404, 599] {
            let status = StatusCode::from_u16(code).unwrap();
            let problem = Problem::builder(status).build().unwrap();
            assert_eq!(problem.status(), Some(status));
        }
        for code in [600, 700, 999] {
            let err = refused(Problem::builder(StatusCode::from_u16(code).unwrap()));
            assert_eq!(kinds(&err), [true, false, false, false, false, false]);
            assert_eq!(
                err.to_string(),
                format!(
                    "problem status {code} is outside 100..=599, the range of HTTP status codes"
                )
            );
        }
    }

    #[test]
    fn type_and_instance_must_be_uri_references() {
        for uri in [
            "https://example.com/p#x",
            "about:blank",
            "urn:x",
            "/problems/x",
            "#frag",
            "x?y",
            "",
        ] {
            let problem = Problem::builder(StatusCode::BAD_REQUEST)
                .type_uri(uri)
                .instance(uri)
                .build()
                .unwrap();
            assert_eq!(
                (problem.type_uri(), problem.instance()),
                (Some(uri), Some(uri))
            );
        }
        let err = refused(Problem::builder(StatusCode::BAD_REQUEST).type_uri("a b"));
        assert_eq!(kinds(&err), [false, true, false, false, false, false]);
        assert_eq!(
            err.to_string(),
            r#"problem type "a b" is not a URI reference: unexpected character at byte 1"#
        );
        let err = refused(Problem::builder(StatusCode::BAD_REQUEST).instance("1a:b"));
        assert_eq!(kinds(&err), [false, false, true, false, false, false]);
        assert_eq!(
            err.to_string(),
            r#"problem instance "1a:b" is not a URI reference: unexpected character at byte 0"#
        );
    }

    #[test]
    fn the_first_refused_member_is_the_error() {
        let err = refused(
            Problem::builder(StatusCode::BAD_REQUEST)
                .title("fine")
                .extension("no", 1)
                .type_uri("a b")
                .instance("c d")
                .extension("type", 1),
        );
        assert!(err.is_extension_name() && !err.is_reserved_member());
        assert!(err.to_string().contains(r#""no""#), "{err}");

        let err = refused(
            Problem::builder(StatusCode::from_u16(600).unwrap())
                .type_uri("a b")
                .extension("no", 1),
        );
        assert!(err.is_status());
    }

    #[test]
    fn a_refused_value_is_quoted_escaped_and_cut() {
        let long = format!("\u{1b}[31m\"{}", "x ".repeat(100));
        let err = refused(Problem::builder(StatusCode::BAD_REQUEST).instance(long.clone()));
        let shown: String = long.chars().take(64).collect();
        assert_eq!(
            err.to_string(),
            format!("problem instance {shown:?}… is not a URI reference: unexpected character at byte 0")
        );
        assert!(!err.to_string().chars().any(char::is_control));
        assert!(!format!("{err:?}").chars().any(char::is_control));
        assert!(format!("{err:?}").len() < 200, "{err:?}");
    }

    #[test]
    fn into_builder_adds_without_checking_again() {
        // The layers' own problems, as they make them: unchecked.
        let problem = Problem::layer_problem(
            StatusCode::from_u16(600).unwrap(),
            "not a URI".into(),
            "t",
            None,
            vec![("kind".into(), "panic".into())],
        );
        let added = problem
            .clone()
            .into_builder()
            .extension("support", "https://example.com/support")
            .extension("kind", "replaced")
            .build()
            .unwrap();
        assert_eq!(
            std::str::from_utf8(&added.to_json()).unwrap(),
            r#"{"type":"not a URI","title":"t","status":600,"kind":"replaced","support":"https://example.com/support"}"#
        );
        let err = refused(problem.into_builder().extension("x", 1));
        assert!(err.is_extension_name());
    }

    #[test]
    fn any_string_in_any_member_renders_json_that_parses_back() {
        // Free text holds anything; `type`, `instance` and the names hold
        // what the builder lets in, which needs no escape.
        let nasty = "\"quoted\" \\ back\\slash \u{0}\u{1f}\u{7f} é 🦀 \u{2028} </script>";
        let long = "x\"".repeat(100_000);
        let problem = Problem::builder(StatusCode::INTERNAL_SERVER_ERROR)
            .type_uri("https://example.com/p?q=1&r=%22#f:@!$'()*+,;=")
            .title(long.clone())
            .detail(nasty)
            .instance("/errors/1")
            .extension("note", nasty)
            .extension("neg", -42i64)
            .build()
            .unwrap();
        let value = parsed(&problem);
        assert_eq!(
            value["type"],
            "https://example.com/p?q=1&r=%22#f:@!$'()*+,;="
        );
        assert_eq!(value["title"], long.as_str());
        assert_eq!(value["detail"], nasty);
        assert_eq!(value["instance"], "/errors/1");
        assert_eq!(value["note"], nasty);
        assert_eq!(value["neg"], -42);
    }

    #[test]
    fn the_response_carries_status_type_and_no_store() {
        let problem = Problem::builder(StatusCode::IM_A_TEAPOT)
            .title("t")
            .build()
            .unwrap();
        let res = http::Response::from(problem);
        assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert_eq!(res.headers()["cache-control"], "no-store");
        // The body's length is its own: a server states it.
        assert!(!res.headers().contains_key("content-length"));
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serialized_extensions_are_embedded_as_json() {
        let problem = Problem::builder(StatusCode::BAD_REQUEST)
            .serialized_extension("errors", &json!([{"field": "name"}]))
            .build()
            .unwrap();
        assert_eq!(
            parsed(&problem),
            json!({"status": 400, "errors": [{"field": "name"}]})
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn a_value_that_cannot_be_serialized_is_refused_with_its_cause() {
        let map = std::collections::BTreeMap::from([((1, 2), 3)]);
        let err =
            refused(Problem::builder(StatusCode::BAD_REQUEST).serialized_extension("map", &map));
        assert_eq!(kinds(&err), [false, false, false, false, false, true]);
        assert_eq!(
            err.to_string(),
            r#"extension member "map" could not be serialized as JSON"#
        );
        let source = err.source().expect("serde_json's error");
        assert!(source.is::<serde_json::Error>());

        // The name is checked before the value is serialized.
        let err =
            refused(Problem::builder(StatusCode::BAD_REQUEST).serialized_extension("m", &map));
        assert!(err.is_extension_name());
        assert!(err.source().is_none());
    }

    #[test]
    fn public_types_are_send_sync_and_static() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Problem>();
        assert_send_sync::<ProblemBuilder>();
        assert_send_sync::<InvalidProblem>();
        assert_send_sync::<ExtensionValue>();
    }
}
