//! Property tests of `Problem`'s rendering: any content in any member
//! renders JSON that serde_json parses back to exactly the same values, in
//! the documented member order, and the response around it is exact.
//!
//! The expected members come from a model of the documented rules (standard
//! members first, extensions in first-insertion order, reserved keys
//! refused, repeated keys replaced in place), built independently of the
//! crate.

use std::fmt;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::StatusCode;
use proptest::prelude::*;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Number, Value};
use tower_problem::problem::{ExtensionValue, Problem};

const RESERVED: [&str; 5] = ["type", "title", "status", "detail", "instance"];

// ---------------------------------------------------------------------------
// Parsing that keeps member order and duplicates

/// A JSON object's members as written: in order, duplicates kept.
/// (`serde_json::Value` sorts an object's keys and keeps only the last of
/// a repeated one, which would hide both kinds of mistake.)
#[derive(Debug, PartialEq)]
struct Members(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;

        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }

        deserializer.deserialize_map(MembersVisitor)
    }
}

fn parse(json: &[u8]) -> Members {
    serde_json::from_slice(json).unwrap_or_else(|err| {
        panic!(
            "not valid JSON ({err}): {}",
            String::from_utf8_lossy(json).escape_debug()
        )
    })
}

// ---------------------------------------------------------------------------
// Strategies

/// Characters that need care in JSON and in Rust strings, drawn more often
/// than uniform sampling would.
const TRICKY: &[char] = &[
    '"',
    '\\',
    '/',
    '\0',
    '\x08',
    '\t',
    '\n',
    '\x0b',
    '\x0c',
    '\r',
    '\x1b',
    '\x1f',
    ' ',
    '\x7f',
    '\u{80}',
    '\u{85}',
    '\u{a0}',
    '\u{ad}',
    '\u{2028}',
    '\u{2029}',
    '\u{feff}',
    '\u{fffd}',
    '\u{ffff}',
    '\u{10ffff}',
    'é',
    '漢',
    '🦀',
    '{',
    '}',
    ':',
    ',',
    '<',
    '&',
];

/// Any `char` (a Unicode scalar value: surrogates cannot be a `char`), with
/// the tricky ones over-represented.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => proptest::sample::select(TRICKY),
        1 => (0u8..0x20).prop_map(char::from),
    ]
}

/// Any short string (under 40 chars).
fn short_string() -> impl Strategy<Value = String> {
    proptest::collection::vec(any_char(), 0..40).prop_map(String::from_iter)
}

/// Any string: mostly short, sometimes long (a short one repeated up to
/// 20,000 chars; drawing every char of a long string would make the suite
/// slow for no more coverage: the writer treats each byte on its own).
fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => short_string(),
        1 => (short_string(), 1usize..500).prop_map(|(s, n)| s.repeat(n)),
    ]
}

/// An extension key: often one of a few (so repeats happen), sometimes a
/// reserved name, otherwise any string.
fn any_key() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => proptest::sample::select(&["a", "kind", "request_id", "", "\"", "é"][..])
            .prop_map(str::to_owned),
        1 => proptest::sample::select(&RESERVED[..]).prop_map(str::to_owned),
        3 => any_string(),
    ]
}

/// What is inserted as an extension value.
#[derive(Clone, Debug)]
enum Inserted {
    String(String),
    I64(i64),
    U64(u64),
    Bool(bool),
    /// Through `with_serialized_extension`.
    #[cfg(feature = "serde")]
    Json(Value),
}

impl Inserted {
    /// The value serde_json should parse back.
    fn expected(&self) -> Value {
        match self {
            Self::String(s) => Value::String(s.clone()),
            Self::I64(n) => Value::Number((*n).into()),
            Self::U64(n) => Value::Number((*n).into()),
            Self::Bool(b) => Value::Bool(*b),
            // What serde_json reads back from what it wrote: the crate only
            // has to embed serde_json's text unchanged. (Without serde_json's
            // `float_roundtrip` feature, a float may come back one ULP off
            // even through serde_json alone.)
            #[cfg(feature = "serde")]
            Self::Json(value) => {
                serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
            }
        }
    }

    fn extension_value(&self) -> Option<ExtensionValue> {
        Some(match self {
            Self::String(s) => s.clone().into(),
            Self::I64(n) => (*n).into(),
            Self::U64(n) => (*n).into(),
            Self::Bool(b) => (*b).into(),
            #[cfg(feature = "serde")]
            Self::Json(_) => return None,
        })
    }
}

#[cfg(feature = "serde")]
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_filter_map("not finite", |f| Number::from_f64(f).map(Value::Number)),
        short_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((short_string(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

fn any_inserted() -> impl Strategy<Value = Inserted> {
    let plain = prop_oneof![
        any_string().prop_map(Inserted::String),
        any::<i64>().prop_map(Inserted::I64),
        any::<u64>().prop_map(Inserted::U64),
        any::<bool>().prop_map(Inserted::Bool),
    ];
    #[cfg(feature = "serde")]
    let plain = prop_oneof![4 => plain, 1 => any_json().prop_map(Inserted::Json)];
    plain
}

fn any_status() -> impl Strategy<Value = StatusCode> {
    (100u16..1000).prop_map(|code| StatusCode::from_u16(code).unwrap())
}

#[derive(Clone, Debug)]
struct Case {
    status: StatusCode,
    type_uri: Option<String>,
    title: Option<String>,
    detail: Option<String>,
    instance: Option<String>,
    extensions: Vec<(String, Inserted)>,
}

fn any_case() -> impl Strategy<Value = Case> {
    (
        any_status(),
        proptest::option::of(any_string()),
        proptest::option::of(any_string()),
        proptest::option::of(any_string()),
        proptest::option::of(any_string()),
        proptest::collection::vec((any_key(), any_inserted()), 0..8),
    )
        .prop_map(
            |(status, type_uri, title, detail, instance, extensions)| Case {
                status,
                type_uri,
                title,
                detail,
                instance,
                extensions,
            },
        )
}

// ---------------------------------------------------------------------------
// The model and the two ways of building

impl Case {
    /// The members the rendering must have, in order.
    fn expected_members(&self) -> Vec<(String, Value)> {
        let string = |key: &str, value: &Option<String>| {
            value
                .as_ref()
                .map(|value| (key.to_owned(), Value::String(value.clone())))
        };
        let status = ("status".to_owned(), Value::from(self.status.as_u16()));
        string("type", &self.type_uri)
            .into_iter()
            .chain(string("title", &self.title))
            .chain([status])
            .chain(string("detail", &self.detail))
            .chain(string("instance", &self.instance))
            .chain(self.expected_extensions())
            .collect()
    }

    /// The extensions as documented: reserved keys refused, a repeated key
    /// replaces the value where the key first went.
    fn expected_extensions(&self) -> Vec<(String, Value)> {
        let mut extensions: Vec<(String, Value)> = Vec::new();
        for (key, value) in &self.extensions {
            if RESERVED.contains(&key.as_str()) {
                continue;
            }
            match extensions.iter_mut().find(|(k, _)| k == key) {
                Some((_, slot)) => *slot = value.expected(),
                None => extensions.push((key.clone(), value.expected())),
            }
        }
        extensions
    }

    fn base(&self) -> Problem {
        let mut problem = Problem::new(self.status);
        if let Some(v) = &self.type_uri {
            problem = problem.with_type(v.clone());
        }
        if let Some(v) = &self.title {
            problem = problem.with_title(v.clone());
        }
        if let Some(v) = &self.detail {
            problem = problem.with_detail(v.clone());
        }
        if let Some(v) = &self.instance {
            problem = problem.with_instance(v.clone());
        }
        problem
    }

    /// Built with the `with_*` builder methods.
    fn build(&self) -> Problem {
        let mut problem = self.base();
        for (key, value) in &self.extensions {
            problem = match value {
                #[cfg(feature = "serde")]
                Inserted::Json(json) => problem
                    .with_serialized_extension(key.clone(), json)
                    .expect("a serde_json::Value always serializes"),
                _ => problem.with_extension(key.clone(), value.extension_value().unwrap()),
            };
        }
        problem
    }
}

/// An extension value as the JSON value it stands for.
fn to_value(value: &ExtensionValue) -> Value {
    match value {
        ExtensionValue::String(s) => Value::String(s.to_string()),
        ExtensionValue::Integer(n) => Value::Number((*n).into()),
        ExtensionValue::Unsigned(n) => Value::Number((*n).into()),
        ExtensionValue::Bool(b) => Value::Bool(*b),
        #[cfg(feature = "serde")]
        ExtensionValue::Json(json) => serde_json::from_str(json.as_str()).unwrap(),
        other => panic!("an extension value this test does not know: {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Properties

proptest! {
    #[test]
    fn any_content_renders_json_that_parses_back_in_member_order(case in any_case()) {
        let problem = case.build();
        let json = problem.to_json();
        prop_assert!(std::str::from_utf8(&json).is_ok());
        let Members(members) = parse(&json);
        prop_assert_eq!(members, case.expected_members());
    }

    #[test]
    fn accessors_agree_with_the_model(case in any_case()) {
        let problem = case.build();
        prop_assert_eq!(problem.status(), case.status);
        prop_assert_eq!(problem.type_uri(), case.type_uri.as_deref());
        prop_assert_eq!(problem.title(), case.title.as_deref());
        prop_assert_eq!(problem.detail(), case.detail.as_deref());
        prop_assert_eq!(problem.instance(), case.instance.as_deref());

        let expected = case.expected_extensions();
        let keys: Vec<&str> = problem.extensions().map(|(k, _)| k).collect();
        let expected_keys: Vec<&str> = expected.iter().map(|(k, _)| k.as_str()).collect();
        prop_assert_eq!(keys, expected_keys);
        for (key, value) in &expected {
            let got = problem.extension(key).expect("a kept extension is found");
            prop_assert_eq!(&to_value(got), value);
        }
        for key in RESERVED {
            prop_assert!(problem.extension(key).is_none());
        }
    }

    #[test]
    fn insert_extension_refuses_reserved_keys_and_matches_the_builder(case in any_case()) {
        let mut problem = case.base();
        for (key, value) in &case.extensions {
            let Some(value) = value.extension_value() else {
                #[cfg(feature = "serde")]
                if let Inserted::Json(json) = value {
                    problem = problem.with_serialized_extension(key.clone(), json).unwrap();
                }
                continue;
            };
            let before = problem.clone();
            match problem.insert_extension(key.clone(), value) {
                Ok(()) => prop_assert!(!RESERVED.contains(&key.as_str())),
                Err(refused) => {
                    prop_assert!(RESERVED.contains(&key.as_str()));
                    prop_assert_eq!(refused.key(), key.as_str());
                    prop_assert_eq!(&problem, &before, "a refused insert changed the problem");
                }
            }
        }
        prop_assert_eq!(problem, case.build());
    }

    #[test]
    fn the_response_is_exact(case in any_case()) {
        let problem = case.build();
        let body: Bytes = problem.to_json();
        let res = http::Response::from(problem);
        prop_assert_eq!(res.status(), case.status);
        prop_assert_eq!(res.headers().get_all(CONTENT_TYPE).iter().count(), 1);
        prop_assert_eq!(&res.headers()[CONTENT_TYPE], "application/problem+json");
        prop_assert_eq!(res.headers().get_all(CACHE_CONTROL).iter().count(), 1);
        prop_assert_eq!(&res.headers()[CACHE_CONTROL], "no-store");
        prop_assert_eq!(res.headers().get_all(CONTENT_LENGTH).iter().count(), 1);
        prop_assert_eq!(
            res.headers()[CONTENT_LENGTH].to_str().unwrap(),
            res.body().len().to_string()
        );
        prop_assert_eq!(res.body(), &body);
    }
}

/// Every reserved name is refused whatever the value, and a near miss (case,
/// whitespace) is an ordinary extension.
#[test]
fn reserved_names_are_exact() {
    let mut problem = Problem::new(StatusCode::INTERNAL_SERVER_ERROR);
    for key in RESERVED {
        assert_eq!(problem.insert_extension(key, 1).unwrap_err().key(), key);
        assert_eq!(problem.insert_extension(key, "x").unwrap_err().key(), key);
        assert_eq!(problem.insert_extension(key, true).unwrap_err().key(), key);
    }
    for key in ["Type", "TITLE", " status", "detail ", "instance\0"] {
        problem.insert_extension(key, 1).unwrap();
    }
    let Members(members) = parse(&problem.to_json());
    let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "status",
            "Type",
            "TITLE",
            " status",
            "detail ",
            "instance\0"
        ]
    );
}
