//! RFC 9457 problem details: the [`Problem`] type and its `application/problem+json` rendering.
//!
//! Every response this crate generates carries a [`Problem`] body unless a
//! customisation says otherwise. Members are written in a fixed order:
//! `type`, `title`, `status`, `detail`, `instance`, then the extension members
//! in the order they were first inserted.
//!
//! # Example
//!
//! ```
//! use http::StatusCode;
//! use tower_problem::problem::Problem;
//!
//! let problem = Problem::new(StatusCode::SERVICE_UNAVAILABLE)
//!     .with_type("https://example.com/problems/maintenance")
//!     .with_title("Down for maintenance")
//!     .with_extension("retry_in_minutes", 15);
//!
//! let res = http::Response::from(problem);
//! assert_eq!(res.status(), 503);
//! assert_eq!(res.headers()["content-type"], "application/problem+json");
//! assert_eq!(
//!     res.body().as_ref(),
//!     br#"{"type":"https://example.com/problems/maintenance","title":"Down for maintenance","status":503,"retry_in_minutes":15}"#
//! );
//! ```

mod extension;
#[cfg(feature = "axum")]
mod into_response;
pub(crate) mod json;
mod response;

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::StatusCode;

pub use self::extension::ExtensionValue;
#[cfg(feature = "serde")]
pub use self::extension::SerializedJson;
use self::json::ObjectWriter;
pub(crate) use self::response::{
    keep_replaced, problem_response, set_content_length, PROBLEM_JSON,
};

/// Members that RFC 9457 defines; an extension member may not take their names.
const STANDARD_MEMBERS: [&str; 5] = ["type", "title", "status", "detail", "instance"];

/// An RFC 9457 problem details object.
///
/// Build one with [`Problem::new`] and the `with_*` methods, then turn it into
/// a response with `http::Response::from(problem)` (or, with the `axum`
/// feature, return it from a handler). See the [module docs](self).
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    type_uri: Option<Cow<'static, str>>,
    title: Option<Cow<'static, str>>,
    status: StatusCode,
    detail: Option<Cow<'static, str>>,
    instance: Option<Cow<'static, str>>,
    extensions: Vec<(Cow<'static, str>, ExtensionValue)>,
}

impl Problem {
    /// A problem with only its `status`; the response's status line is the same.
    pub const fn new(status: StatusCode) -> Self {
        Self {
            type_uri: None,
            title: None,
            status,
            detail: None,
            instance: None,
            extensions: Vec::new(),
        }
    }

    /// Sets `type`, a URI reference naming the problem type.
    pub fn with_type(mut self, type_uri: impl Into<Cow<'static, str>>) -> Self {
        self.type_uri = Some(type_uri.into());
        self
    }

    /// Sets `title`, a short summary of the problem type.
    pub fn with_title(mut self, title: impl Into<Cow<'static, str>>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets `status`, and so the status line of the rendered response.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Sets `detail`, an explanation of this occurrence.
    pub fn with_detail(mut self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Sets `instance`, a URI reference naming this occurrence.
    pub fn with_instance(mut self, instance: impl Into<Cow<'static, str>>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// Adds an extension member, or replaces the value of one with this key.
    ///
    /// A key equal to a standard member (`type`, `title`, `status`, `detail`,
    /// `instance`) is ignored, so that an extension can never shadow one; use
    /// [`Problem::insert_extension`] to learn that it was refused.
    pub fn with_extension(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<ExtensionValue>,
    ) -> Self {
        let _refused = self.insert_extension(key, value);
        self
    }

    /// Adds an extension member, or replaces the value of one with this key,
    /// keeping its place in the member order.
    ///
    /// # Errors
    ///
    /// [`ReservedMember`] when `key` is a standard member's name; the problem
    /// is left as it was.
    pub fn insert_extension(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<ExtensionValue>,
    ) -> Result<(), ReservedMember> {
        let key = key.into();
        if STANDARD_MEMBERS.contains(&&*key) {
            return Err(ReservedMember { key });
        }
        let value = value.into();
        match self.extensions.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => *slot = value,
            None => self.extensions.push((key, value)),
        }
        Ok(())
    }

    /// Adds an extension member holding any [`serde::Serialize`] value, as
    /// [`Problem::with_extension`] does.
    ///
    /// # Errors
    ///
    /// The serializer's error when `value` cannot be written as JSON (a map
    /// with non-string keys, say); the problem is dropped with it.
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn with_serialized_extension<T: serde::Serialize + ?Sized>(
        self,
        key: impl Into<Cow<'static, str>>,
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        Ok(self.with_extension(key, ExtensionValue::serialize(value)?))
    }

    /// The `type` member.
    pub fn type_uri(&self) -> Option<&str> {
        self.type_uri.as_deref()
    }

    /// The `title` member.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The `status` member.
    pub fn status(&self) -> StatusCode {
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
        let optional = [&self.type_uri, &self.title, &self.detail, &self.instance];
        let mut capacity = 2 + "\"status\":000,".len();
        for (key, value) in STANDARD_MEMBERS.iter().zip(optional) {
            if let Some(value) = value {
                capacity += ObjectWriter::string_member_size(key, value);
            }
        }
        for (key, value) in &self.extensions {
            capacity += key.len() + value.json_size_hint() + 4;
        }

        let mut json = ObjectWriter::with_capacity(capacity);
        if let Some(type_uri) = &self.type_uri {
            json.standard_string(r#""type":"#, type_uri);
        }
        if let Some(title) = &self.title {
            json.standard_string(r#""title":"#, title);
        }
        json.standard_u64(r#""status":"#, self.status.as_u16().into());
        if let Some(detail) = &self.detail {
            json.standard_string(r#""detail":"#, detail);
        }
        if let Some(instance) = &self.instance {
            json.standard_string(r#""instance":"#, instance);
        }
        for (key, value) in &self.extensions {
            value.write(key, &mut json);
        }
        Bytes::from(json.finish())
    }
}

impl From<Problem> for http::Response<Bytes> {
    fn from(problem: Problem) -> Self {
        problem_response(problem.status, problem.to_json())
    }
}

/// The error of [`Problem::insert_extension`]: the key is a standard member's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservedMember {
    key: Cow<'static, str>,
}

impl ReservedMember {
    /// The refused key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for ReservedMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is a standard problem member, not an extension",
            self.key
        )
    }
}

impl std::error::Error for ReservedMember {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn parsed(problem: &Problem) -> Value {
        serde_json::from_slice(&problem.to_json()).unwrap()
    }

    #[test]
    fn members_come_in_rfc_order_then_insertion_order() {
        let problem = Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_extension("zeta", 1)
            .with_instance("/i")
            .with_detail("d")
            .with_extension("alpha", true)
            .with_title("t")
            .with_type("about:blank");
        assert_eq!(
            std::str::from_utf8(&problem.to_json()).unwrap(),
            r#"{"type":"about:blank","title":"t","status":500,"detail":"d","instance":"/i","zeta":1,"alpha":true}"#
        );
    }

    #[test]
    fn standard_member_names_are_refused_as_extensions() {
        let mut problem = Problem::new(StatusCode::BAD_GATEWAY);
        for key in STANDARD_MEMBERS {
            let err = problem.insert_extension(key, "x").unwrap_err();
            assert_eq!(err.key(), key);
        }
        let problem = problem.with_extension("status", 200);
        assert_eq!(parsed(&problem), json!({"status": 502}));
    }

    #[test]
    fn a_repeated_key_replaces_the_value_in_place() {
        let problem = Problem::new(StatusCode::BAD_GATEWAY)
            .with_extension("a", "first")
            .with_extension("b", 2)
            .with_extension("a", "second");
        assert_eq!(
            problem.extension("a"),
            Some(&ExtensionValue::from("second"))
        );
        assert_eq!(
            std::str::from_utf8(&problem.to_json()).unwrap(),
            r#"{"status":502,"a":"second","b":2}"#
        );
    }

    #[test]
    fn any_string_in_any_member_parses_back() {
        let nasty = "\"quoted\" \\ back\\slash \u{0}\u{1f}\u{7f} é 🦀 \u{2028} </script>";
        let long = "x\"".repeat(100_000);
        let problem = Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_type(nasty)
            .with_title(long.clone())
            .with_detail(nasty)
            .with_instance(nasty)
            .with_extension(nasty, nasty)
            .with_extension("neg", -42i64);
        let value = parsed(&problem);
        assert_eq!(value["type"], nasty);
        assert_eq!(value["title"], long.as_str());
        assert_eq!(value["detail"], nasty);
        assert_eq!(value["instance"], nasty);
        assert_eq!(value[nasty], nasty);
        assert_eq!(value["neg"], -42);
    }

    #[test]
    fn the_response_carries_status_type_length_and_no_store() {
        let res = http::Response::from(Problem::new(StatusCode::IM_A_TEAPOT).with_title("t"));
        assert_eq!(res.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(
            res.headers()["content-length"],
            res.body().len().to_string().as_str()
        );
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serialized_extensions_are_embedded_as_json() {
        let problem = Problem::new(StatusCode::BAD_REQUEST)
            .with_serialized_extension("errors", &json!([{"field": "name"}]))
            .unwrap();
        assert_eq!(
            parsed(&problem),
            json!({"status": 400, "errors": [{"field": "name"}]})
        );
    }
}
