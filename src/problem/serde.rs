//! `Serialize` and `Deserialize` for [`Problem`] (feature `serde`).

use std::borrow::Cow;
use std::fmt;

use http::StatusCode;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::extension::ExtensionValue;
use super::uri::check_uri_reference;
use super::Problem;

/// The members in the order [`Problem::to_json`] writes them.
impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(type_uri) = self.type_uri() {
            map.serialize_entry("type", type_uri)?;
        }
        if let Some(title) = self.title() {
            map.serialize_entry("title", title)?;
        }
        if let Some(status) = self.status() {
            map.serialize_entry("status", &status.as_u16())?;
        }
        if let Some(detail) = self.detail() {
            map.serialize_entry("detail", detail)?;
        }
        if let Some(instance) = self.instance() {
            map.serialize_entry("instance", instance)?;
        }
        for (name, value) in self.extensions() {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

impl Serialize for ExtensionValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(s) => serializer.serialize_str(s),
            Self::Integer(n) => serializer.serialize_i64(*n),
            Self::Unsigned(n) => serializer.serialize_u64(*n),
            Self::Bool(b) => serializer.serialize_bool(*b),
            // Through a value, so that any format gets the JSON's data, not
            // its text.
            Self::Json(json) => serde_json::from_str::<serde_json::Value>(json.as_str())
                .map_err(serde::ser::Error::custom)?
                .serialize(serializer),
        }
    }
}

/// A problem from any server, as RFC 9457 §3.1 asks a consumer to read one:
/// every member is optional, and a standard member of the wrong type is
/// ignored, not an error: a `type`, `title`, `detail` or `instance` that is
/// not a string (a `type` or `instance` that is not a URI reference too, so
/// that the problem renders as valid JSON again), a `status` that is not an
/// integer from 100 to 599 (the problem then has no
/// [`status`](Problem::status)). An extension member may have any name and
/// any JSON value (strings, integers and booleans as themselves, anything
/// else as [`ExtensionValue::Json`]). Only what is not a JSON object is
/// refused.
impl<'de> Deserialize<'de> for Problem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ProblemVisitor)
    }
}

struct ProblemVisitor;

impl<'de> Visitor<'de> for ProblemVisitor {
    type Value = Problem;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 9457 problem details object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Problem, A::Error> {
        let mut type_uri = None;
        let mut title = None;
        let mut status = None;
        let mut detail = None;
        let mut instance = None;
        let mut extensions: Vec<(Cow<'static, str>, ExtensionValue)> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let value: serde_json::Value = map.next_value()?;
            match name.as_str() {
                "type" => type_uri = uri_reference(value),
                "title" => title = string(value),
                "detail" => detail = string(value),
                "instance" => instance = uri_reference(value),
                "status" => {
                    status = value
                        .as_u64()
                        .and_then(|code| u16::try_from(code).ok())
                        .filter(|code| (100..=599).contains(code))
                        .and_then(|code| StatusCode::from_u16(code).ok());
                }
                _ => {
                    let value = ExtensionValue::from_value(value).map_err(de::Error::custom)?;
                    match extensions.iter_mut().find(|(key, _)| *key == name) {
                        Some((_, slot)) => *slot = value,
                        None => extensions.push((Cow::Owned(name), value)),
                    }
                }
            }
        }
        Ok(Problem {
            type_uri: type_uri.map(Cow::Owned),
            title: title.map(Cow::Owned),
            status,
            detail: detail.map(Cow::Owned),
            instance: instance.map(Cow::Owned),
            extensions,
        })
    }
}

fn string(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}

fn uri_reference(value: serde_json::Value) -> Option<String> {
    string(value).filter(|uri| check_uri_reference(uri).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_problem_is_read_as_rfc_9457_asks() {
        let json = br#"{
            "type": "https://example.com/probs/out of credit",
            "title": 7,
            "status": 403,
            "detail": "Your balance is 30, but that costs 50.",
            "instance": "/account/12345/msgs/abc",
            "balance": 30,
            "accounts": ["/account/12345", "/account/67890"],
            "x": null,
            "odd \"name\"": -1.5,
            "debt": -20
        }"#;
        let problem: Problem = serde_json::from_slice(json).unwrap();
        // A `type` that is no URI reference and a `title` of the wrong type
        // are ignored.
        assert_eq!(problem.type_uri(), None);
        assert_eq!(problem.title(), None);
        assert_eq!(problem.status(), Some(StatusCode::FORBIDDEN));
        assert_eq!(problem.instance(), Some("/account/12345/msgs/abc"));
        assert_eq!(
            problem.extension("balance"),
            Some(&ExtensionValue::Unsigned(30))
        );
        assert_eq!(
            problem.extension("debt"),
            Some(&ExtensionValue::Integer(-20))
        );
        let accounts = problem.extension("accounts").unwrap();
        assert!(
            matches!(accounts, ExtensionValue::Json(json) if json.as_str() == r#"["/account/12345","/account/67890"]"#)
        );
        // Any name, written back escaped: the rendering is JSON again.
        let value: serde_json::Value = serde_json::from_slice(&problem.to_json()).unwrap();
        assert_eq!(value["odd \"name\""], -1.5);
        assert_eq!(value["x"], serde_json::Value::Null);
        let again: Problem = serde_json::from_slice(&problem.to_json()).unwrap();
        assert_eq!(again, problem);
    }

    /// RFC 9457 §3.1: "If a member's value type does not match the
    /// specified type, the member MUST be ignored"; `status` is optional.
    #[test]
    fn a_standard_member_of_the_wrong_type_is_ignored() {
        for (json, written) in [
            (r#"{"title":"no status"}"#, r#"{"title":"no status"}"#),
            (r#"{"status":"500"}"#, "{}"),
            (r#"{"status":600}"#, "{}"),
            (r#"{"status":99}"#, "{}"),
            (r#"{"status":500.0}"#, "{}"),
            (r#"{"status":-500}"#, "{}"),
            (r#"{"status":null,"x":1}"#, r#"{"x":1}"#),
        ] {
            let problem: Problem = serde_json::from_str(json).expect(json);
            assert_eq!(problem.status(), None, "{json}");
            // Written back without one, and read back equal.
            assert_eq!(problem.to_json(), written, "{json}");
            let again: Problem = serde_json::from_slice(&problem.to_json()).unwrap();
            assert_eq!(again, problem);
        }
        let json = r#"{"type":1,"title":["t"],"status":502,"detail":{"d":1},"instance":false,"balance":{"x":[1]}}"#;
        let problem: Problem = serde_json::from_str(json).unwrap();
        assert_eq!(
            (problem.type_uri(), problem.title(), problem.detail()),
            (None, None, None)
        );
        assert_eq!(problem.instance(), None);
        assert_eq!(problem.status(), Some(StatusCode::BAD_GATEWAY));
        // An extension member keeps any JSON value.
        assert!(
            matches!(problem.extension("balance"), Some(ExtensionValue::Json(json)) if json.as_str() == r#"{"x":[1]}"#)
        );
        // A response needs a status: 500 for a problem without one.
        let problem: Problem = serde_json::from_str(r#"{"title":"no status"}"#).unwrap();
        let res = http::Response::from(problem);
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.body().as_ref(), br#"{"title":"no status"}"#);
    }

    #[test]
    fn only_what_is_not_an_object_is_refused() {
        for json in ["[]", "500", r#""problem""#, "null"] {
            assert!(serde_json::from_str::<Problem>(json).is_err(), "{json}");
        }
    }
}
