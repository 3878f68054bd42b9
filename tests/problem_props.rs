//! Property tests of `Problem`'s builder and rendering.
//!
//! - What the builder takes renders JSON that serde_json parses back to
//!   exactly the same values, in the documented member order, and the
//!   response around it is exact.
//! - The builder refuses exactly what is documented, and reports the first
//!   refusal: a status outside 100..=599, a `type` or `instance` that is not
//!   an RFC 3986 URI reference, a standard member's name or one RFC 9457
//!   §3.2 advises against for an extension.
//! - URI references built from RFC 3986's grammar are accepted, and a
//!   string holding a character no URI may hold is refused.
//! - With the `serde` feature, a problem read back (from its own rendering
//!   or from serde's) equals the one written, every extension member
//!   included.
//!
//! The expected results come from a model of the documented rules, and the
//! URI references from the grammar, written independently of the crate.

use std::fmt;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::StatusCode;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Number, Value};
use tower_problem::problem::{ExtensionValue, InvalidProblem, Problem, ProblemBuilder};

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

/// What is inserted as an extension value.
#[derive(Clone, Debug)]
enum Inserted {
    String(String),
    I64(i64),
    U64(u64),
    Bool(bool),
    /// Through `serialized_extension`.
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

// ---------------------------------------------------------------------------
// URI references from RFC 3986's grammar (§3, §4.1)

const ALPHA: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGIT: &str = "0123456789";
const HEXDIG: &str = "0123456789ABCDEFabcdef";
const UNRESERVED: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
const SUB_DELIMS: &str = "!$&'()*+,;=";
const GEN_DELIMS: &str = ":/?#[]@";

/// Whether `c` is in some part of a URI: unreserved, reserved, or the `%` of
/// `pct-encoded`.
fn in_uri_alphabet(c: char) -> bool {
    UNRESERVED.contains(c) || SUB_DELIMS.contains(c) || GEN_DELIMS.contains(c) || c == '%'
}

type Part = BoxedStrategy<String>;

/// One character of `set`.
fn one_of(set: &'static str) -> Part {
    select(set.chars().collect::<Vec<_>>())
        .prop_map(String::from)
        .boxed()
}

/// `pct-encoded = "%" HEXDIG HEXDIG`
fn pct_encoded() -> Part {
    (one_of(HEXDIG), one_of(HEXDIG))
        .prop_map(|(a, b)| format!("%{a}{b}"))
        .boxed()
}

/// `len` units of `unit`, concatenated.
fn run(unit: Part, len: std::ops::Range<usize>) -> Part {
    proptest::collection::vec(unit, len)
        .prop_map(|units| units.concat())
        .boxed()
}

fn optional(part: Part, before: &'static str) -> Part {
    proptest::option::of(part)
        .prop_map(move |part| part.map_or_else(String::new, |part| format!("{before}{part}")))
        .boxed()
}

/// `pchar = unreserved / pct-encoded / sub-delims / ":" / "@"`
fn pchar() -> Part {
    prop_oneof![
        4 => one_of(UNRESERVED),
        1 => pct_encoded(),
        2 => one_of(SUB_DELIMS),
        1 => one_of(":@"),
    ]
    .boxed()
}

/// `segment = *pchar`
fn segment() -> Part {
    run(pchar(), 0..6)
}

/// `segment-nz = 1*pchar`
fn segment_nz() -> Part {
    run(pchar(), 1..6)
}

/// `segment-nz-nc = 1*( unreserved / pct-encoded / sub-delims / "@" )`
fn segment_nz_nc() -> Part {
    let unit = prop_oneof![
        4 => one_of(UNRESERVED),
        1 => pct_encoded(),
        2 => one_of(SUB_DELIMS),
        1 => Just("@".to_owned()),
    ];
    run(unit.boxed(), 1..6)
}

/// `path-abempty = *( "/" segment )`
fn path_abempty() -> Part {
    run(segment().prop_map(|s| format!("/{s}")).boxed(), 0..4)
}

/// `path-absolute = "/" [ segment-nz *( "/" segment ) ]`
fn path_absolute() -> Part {
    proptest::option::of((segment_nz(), path_abempty()))
        .prop_map(|rest| match rest {
            None => "/".to_owned(),
            Some((first, rest)) => format!("/{first}{rest}"),
        })
        .boxed()
}

/// `path-rootless = segment-nz *( "/" segment )`
fn path_rootless() -> Part {
    (segment_nz(), path_abempty())
        .prop_map(|(first, rest)| first + &rest)
        .boxed()
}

/// `path-noscheme = segment-nz-nc *( "/" segment )`
fn path_noscheme() -> Part {
    (segment_nz_nc(), path_abempty())
        .prop_map(|(first, rest)| first + &rest)
        .boxed()
}

/// `query = *( pchar / "/" / "?" )`, as `fragment` is.
fn query() -> Part {
    run(prop_oneof![4 => pchar(), 1 => one_of("/?")].boxed(), 0..8)
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
fn scheme() -> Part {
    let rest = concat!(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "0123456789+-."
    );
    (one_of(ALPHA), run(one_of(rest), 0..6))
        .prop_map(|(first, rest)| first + &rest)
        .boxed()
}

/// `h16 = 1*4HEXDIG`
fn h16() -> Part {
    run(one_of(HEXDIG), 1..5)
}

/// `IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet`
fn ipv4() -> Part {
    // A u8 in decimal is a dec-octet: 0 to 255, no leading zero.
    any::<[u8; 4]>()
        .prop_map(|[a, b, c, d]| format!("{a}.{b}.{c}.{d}"))
        .boxed()
}

/// `ls32 = ( h16 ":" h16 ) / IPv4address`
fn ls32() -> Part {
    prop_oneof![(h16(), h16()).prop_map(|(a, b)| format!("{a}:{b}")), ipv4(),].boxed()
}

/// `IPv6address`, by its nine alternatives: the first,
/// `6( h16 ":" ) ls32`, and the eight with `::`, alternative `k` (2 to 9)
/// being `[ *(k-3)( h16 ":" ) h16 ] "::"` then `(7-k)( h16 ":" ) ls32`
/// for k <= 7, `h16` for 8 and nothing for 9.
fn ipv6() -> Part {
    let full = (proptest::collection::vec(h16(), 6), ls32())
        .prop_map(|(pieces, last)| format!("{}:{last}", pieces.join(":")));
    let compressed = (2usize..=9).prop_flat_map(|k| {
        let after = match k {
            2..=7 => (proptest::collection::vec(h16(), 7 - k), ls32())
                .prop_map(|(pieces, last)| {
                    pieces.iter().map(|p| format!("{p}:")).collect::<String>() + &last
                })
                .boxed(),
            8 => h16(),
            _ => Just(String::new()).boxed(),
        };
        (proptest::collection::vec(h16(), 0..=k - 2), after)
            .prop_map(|(before, after)| format!("{}::{after}", before.join(":")))
    });
    prop_oneof![1 => full, 3 => compressed].boxed()
}

/// `IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`
fn ipv_future() -> Part {
    let rest = prop_oneof![3 => one_of(UNRESERVED), 1 => one_of(SUB_DELIMS), 1 => one_of(":")];
    (
        one_of("vV"),
        run(one_of(HEXDIG), 1..4),
        run(rest.boxed(), 1..6),
    )
        .prop_map(|(v, version, rest)| format!("{v}{version}.{rest}"))
        .boxed()
}

/// `host = IP-literal / IPv4address / reg-name`
fn host() -> Part {
    let ip_literal = prop_oneof![3 => ipv6(), 1 => ipv_future()].prop_map(|ip| format!("[{ip}]"));
    let reg_name = run(
        prop_oneof![4 => one_of(UNRESERVED), 1 => pct_encoded(), 1 => one_of(SUB_DELIMS)].boxed(),
        0..10,
    );
    prop_oneof![ip_literal, ipv4(), reg_name].boxed()
}

/// `authority = [ userinfo "@" ] host [ ":" port ]`
fn authority() -> Part {
    let userinfo = run(
        prop_oneof![
            4 => one_of(UNRESERVED),
            1 => pct_encoded(),
            1 => one_of(SUB_DELIMS),
            1 => one_of(":"),
        ]
        .boxed(),
        0..8,
    );
    let port = run(one_of(DIGIT), 0..6);
    (proptest::option::of(userinfo), host(), optional(port, ":"))
        .prop_map(|(userinfo, host, port)| match userinfo {
            Some(userinfo) => format!("{userinfo}@{host}{port}"),
            None => format!("{host}{port}"),
        })
        .boxed()
}

/// `hier-part` with `rootless`, or `relative-part` with `path-noscheme`.
fn part_before_query(rootless: Part) -> Part {
    prop_oneof![
        3 => (authority(), path_abempty()).prop_map(|(a, p)| format!("//{a}{p}")),
        2 => path_absolute(),
        2 => rootless,
        1 => Just(String::new()),
    ]
    .boxed()
}

/// `URI-reference = URI / relative-ref`
fn uri_reference() -> Part {
    let uri = (
        scheme(),
        part_before_query(path_rootless()),
        optional(query(), "?"),
        optional(query(), "#"),
    )
        .prop_map(|(scheme, hier, query, fragment)| format!("{scheme}:{hier}{query}{fragment}"));
    let relative = (
        part_before_query(path_noscheme()),
        optional(query(), "?"),
        optional(query(), "#"),
    )
        .prop_map(|(part, query, fragment)| format!("{part}{query}{fragment}"));
    prop_oneof![
        3 => uri,
        2 => relative,
        1 => select(&["about:blank", "urn:x", "https://example.com/p#x", "/problems/x", "#frag", "x?y", ""][..])
            .prop_map(str::to_owned),
    ]
    .boxed()
}

/// A character no URI may hold.
fn outside_uri_alphabet() -> impl Strategy<Value = char> {
    prop_oneof![
        select(&[' ', '"', '<', '>', '\\', '^', '`', '{', '|', '}', '\x7f'][..]),
        (0u8..0x20).prop_map(char::from),
        any_char(),
    ]
    .prop_filter("in the URI alphabet", |&c| !in_uri_alphabet(c))
}

/// `base` with `c` inserted at a char boundary.
fn insert(base: &str, c: char, at: Index) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    chars.insert(at.index(chars.len() + 1), c);
    chars.into_iter().collect()
}

/// A string of the URI alphabet, with the characters that delimit parts
/// drawn often: the checker's corners, for a property that only asks it
/// not to panic.
fn uri_alphabet_string() -> Part {
    let token = prop_oneof![
        3 => one_of("abcfv019.-_~:/?#[]@%!$&'()*+,;="),
        1 => select(&["//", "::", "[::1]", "%4", "%41", "http:", "1.2.3.4", "v1."][..]).prop_map(str::to_owned),
    ];
    run(token.boxed(), 0..16)
}

/// A `type` or `instance`: built from the grammar, or holding a character
/// no URI may.
#[derive(Clone, Debug)]
struct Uri {
    text: String,
    valid: bool,
}

fn any_uri() -> impl Strategy<Value = Uri> {
    prop_oneof![
        4 => uri_reference().prop_map(|text| Uri { text, valid: true }),
        1 => (prop_oneof![uri_reference(), any_string().boxed()], outside_uri_alphabet(), any::<Index>())
            .prop_map(|(base, c, at)| Uri { text: insert(&base, c, at), valid: false }),
    ]
}

fn valid_uri() -> impl Strategy<Value = Uri> {
    uri_reference().prop_map(|text| Uri { text, valid: true })
}

// ---------------------------------------------------------------------------
// Extension names (RFC 9457 §3.2)

/// Why the model refuses, matching `InvalidProblem`'s predicates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    Status,
    TypeUri,
    Instance,
    ReservedMember,
    ExtensionName,
}

/// The documented rule: not a standard member's name, an ASCII letter,
/// then ASCII letters, digits and `_`, three characters or more.
fn name_refusal(name: &str) -> Option<Refusal> {
    if RESERVED.contains(&name) {
        return Some(Refusal::ReservedMember);
    }
    let mut chars = name.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    let ok = first_is_letter && rest_ok && name.chars().count() >= 3;
    (!ok).then_some(Refusal::ExtensionName)
}

/// A name RFC 9457 §3.2 advises.
fn valid_name() -> Part {
    (
        one_of(ALPHA),
        run(
            one_of(concat!(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                "abcdefghijklmnopqrstuvwxyz0123456789_"
            )),
            2..12,
        ),
    )
        .prop_map(|(first, rest)| first + &rest)
        .boxed()
}

/// An extension name: often one of a few (so repeats happen), sometimes a
/// reserved or an advised-against one, otherwise any string.
fn any_name() -> Part {
    prop_oneof![
        2 => select(&["abc", "kind", "request_id", "A_1", "a", "ab", "", "_ab", "1ab", "retry-in", "\"", "\u{e9}t\u{e9}", "Type", " status"][..])
            .prop_map(str::to_owned),
        1 => select(&RESERVED[..]).prop_map(str::to_owned),
        2 => valid_name(),
        2 => any_string().boxed(),
    ]
    .boxed()
}

/// A name the builder takes: often one of a few, so repeats happen.
fn kept_name() -> Part {
    prop_oneof![
        1 => select(&["abc", "kind", "request_id", "A_1"][..]).prop_map(str::to_owned),
        2 => valid_name(),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------
// The cases and the model

/// One call on the builder.
#[derive(Clone, Debug)]
enum Op {
    Type(Uri),
    Title(String),
    Detail(String),
    Instance(Uri),
    Extension(String, Inserted),
}

#[derive(Clone, Debug)]
struct Case {
    status: StatusCode,
    ops: Vec<Op>,
}

/// A case whose every call is taken (`valid`), or one of any calls.
fn case(valid: bool) -> impl Strategy<Value = Case> {
    let (codes, uri, name) = if valid {
        (100u16..600, valid_uri().boxed(), kept_name())
    } else {
        (100u16..1000, any_uri().boxed(), any_name())
    };
    let op = prop_oneof![
        1 => uri.clone().prop_map(Op::Type),
        1 => any_string().prop_map(Op::Title),
        1 => any_string().prop_map(Op::Detail),
        1 => uri.prop_map(Op::Instance),
        4 => (name, any_inserted()).prop_map(|(name, value)| Op::Extension(name, value)),
    ];
    (
        codes.prop_map(|code| StatusCode::from_u16(code).unwrap()),
        proptest::collection::vec(op, 0..10),
    )
        .prop_map(|(status, ops)| Case { status, ops })
}

/// What the model expects a build to hold.
#[derive(Debug, Default)]
struct Expected {
    type_uri: Option<String>,
    title: Option<String>,
    detail: Option<String>,
    instance: Option<String>,
    extensions: Vec<(String, Value)>,
}

impl Case {
    /// The documented rules: the first refused call is the error; a later
    /// call of a setter replaces the value; a repeated extension name
    /// replaces the value where the name first went.
    fn expected(&self) -> Result<Expected, Refusal> {
        if self.status.as_u16() > 599 {
            return Err(Refusal::Status);
        }
        let mut expected = Expected::default();
        for op in &self.ops {
            match op {
                Op::Type(uri) if !uri.valid => return Err(Refusal::TypeUri),
                Op::Type(uri) => expected.type_uri = Some(uri.text.clone()),
                Op::Title(title) => expected.title = Some(title.clone()),
                Op::Detail(detail) => expected.detail = Some(detail.clone()),
                Op::Instance(uri) if !uri.valid => return Err(Refusal::Instance),
                Op::Instance(uri) => expected.instance = Some(uri.text.clone()),
                Op::Extension(name, value) => {
                    if let Some(refusal) = name_refusal(name) {
                        return Err(refusal);
                    }
                    match expected.extensions.iter_mut().find(|(k, _)| k == name) {
                        Some((_, slot)) => *slot = value.expected(),
                        None => expected.extensions.push((name.clone(), value.expected())),
                    }
                }
            }
        }
        Ok(expected)
    }

    /// The members the rendering must have, in order.
    fn expected_members(&self) -> Vec<(String, Value)> {
        let expected = self.expected().expect("a valid case");
        let string = |key: &str, value: &Option<String>| {
            value
                .as_ref()
                .map(|value| (key.to_owned(), Value::String(value.clone())))
        };
        let status = ("status".to_owned(), Value::from(self.status.as_u16()));
        string("type", &expected.type_uri)
            .into_iter()
            .chain(string("title", &expected.title))
            .chain([status])
            .chain(string("detail", &expected.detail))
            .chain(string("instance", &expected.instance))
            .chain(expected.extensions)
            .collect()
    }

    fn build(&self) -> Result<Problem, InvalidProblem> {
        apply(Problem::builder(self.status), &self.ops).build()
    }
}

fn apply(mut builder: ProblemBuilder, ops: &[Op]) -> ProblemBuilder {
    for op in ops {
        builder = match op {
            Op::Type(uri) => builder.type_uri(uri.text.clone()),
            Op::Title(title) => builder.title(title.clone()),
            Op::Detail(detail) => builder.detail(detail.clone()),
            Op::Instance(uri) => builder.instance(uri.text.clone()),
            #[cfg(feature = "serde")]
            Op::Extension(name, Inserted::Json(json)) => {
                builder.serialized_extension(name.clone(), json)
            }
            Op::Extension(name, value) => {
                builder.extension(name.clone(), value.extension_value().unwrap())
            }
        };
    }
    builder
}

/// What the error's predicates say, checking that they agree.
fn refusal_of(err: &InvalidProblem) -> Refusal {
    let said = [
        (err.is_status(), Refusal::Status),
        (err.is_type_uri(), Refusal::TypeUri),
        (err.is_instance(), Refusal::Instance),
        (
            err.is_extension_name() && !err.is_reserved_member(),
            Refusal::ExtensionName,
        ),
        (err.is_reserved_member(), Refusal::ReservedMember),
    ];
    assert!(
        !err.is_reserved_member() || err.is_extension_name(),
        "{err:?}"
    );
    #[cfg(feature = "serde")]
    assert!(
        !err.is_serialize(),
        "a serde_json::Value always serializes: {err:?}"
    );
    let mut said = said.iter().filter(|(yes, _)| *yes);
    let (_, refusal) = said
        .next()
        .unwrap_or_else(|| panic!("no predicate: {err:?}"));
    assert!(said.next().is_none(), "two predicates: {err:?}");
    *refusal
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
    #[cfg(feature = "serde")]
    #[test]
    fn a_problem_round_trips_through_serde(case in case(true)) {
        let problem = case.build().unwrap();
        let read: Problem = serde_json::from_slice(&problem.to_json()).unwrap();
        prop_assert_eq!(&read, &problem);
        let written = serde_json::to_vec(&problem).unwrap();
        prop_assert_eq!(&Bytes::from(written.clone()), &problem.to_json());
        let read: Problem = serde_json::from_slice(&written).unwrap();
        prop_assert_eq!(read, problem);
    }

    #[test]
    fn a_built_problem_renders_json_that_parses_back_in_member_order(case in case(true)) {
        let problem = case.build().unwrap();
        let json = problem.to_json();
        prop_assert!(std::str::from_utf8(&json).is_ok());
        let Members(members) = parse(&json);
        prop_assert_eq!(members, case.expected_members());
    }

    #[test]
    fn accessors_agree_with_the_model(case in case(true)) {
        let problem = case.build().unwrap();
        let expected = case.expected().unwrap();
        prop_assert_eq!(problem.status(), Some(case.status));
        prop_assert_eq!(problem.type_uri(), expected.type_uri.as_deref());
        prop_assert_eq!(problem.title(), expected.title.as_deref());
        prop_assert_eq!(problem.detail(), expected.detail.as_deref());
        prop_assert_eq!(problem.instance(), expected.instance.as_deref());

        let keys: Vec<&str> = problem.extensions().map(|(k, _)| k).collect();
        let expected_keys: Vec<&str> = expected.extensions.iter().map(|(k, _)| k.as_str()).collect();
        prop_assert_eq!(keys, expected_keys);
        for (key, value) in &expected.extensions {
            let got = problem.extension(key).expect("a kept extension is found");
            prop_assert_eq!(&to_value(got), value);
        }
        for key in RESERVED {
            prop_assert!(problem.extension(key).is_none());
        }
    }

    #[test]
    fn build_refuses_exactly_the_documented_and_reports_the_first(case in case(false)) {
        match (case.build(), case.expected()) {
            (Ok(problem), Ok(_)) => {
                let Members(members) = parse(&problem.to_json());
                prop_assert_eq!(members, case.expected_members());
            }
            (Err(err), Err(refusal)) => {
                prop_assert_eq!(refusal_of(&err), refusal, "{}", err);
                // The message quotes what was refused, escaped and cut.
                let message = err.to_string();
                prop_assert!(!message.chars().any(char::is_control), "{:?}", message);
                prop_assert!(message.len() < 1_000, "{:?}", message);
                let debug = format!("{:?}", err);
                prop_assert!(!debug.chars().any(char::is_control), "{:?}", debug);
            }
            (got, expected) => prop_assert!(false, "built {:?}, expected {:?}", got, expected),
        }
    }

    #[test]
    fn into_builder_goes_on_where_build_stopped(case in case(false), split in any::<Index>()) {
        let split = split.index(case.ops.len() + 1);
        let (first, rest) = case.ops.split_at(split);
        let in_two = apply(Problem::builder(case.status), first)
            .build()
            .map(|problem| apply(problem.into_builder(), rest).build());
        match (in_two, case.build()) {
            (Ok(Ok(two)), Ok(one)) => prop_assert_eq!(two, one),
            (Ok(Err(two)), Err(one)) | (Err(two), Err(one)) => {
                prop_assert_eq!(refusal_of(&two), refusal_of(&one));
                prop_assert_eq!(two.to_string(), one.to_string());
            }
            (two, one) => prop_assert!(false, "in two {:?}, in one {:?}", two, one),
        }
    }

    #[test]
    fn the_response_is_exact(case in case(true)) {
        let problem = case.build().unwrap();
        let body: Bytes = problem.to_json();
        let res = http::Response::from(problem);
        prop_assert_eq!(res.status(), case.status);
        prop_assert_eq!(res.headers().get_all(CONTENT_TYPE).iter().count(), 1);
        prop_assert_eq!(&res.headers()[CONTENT_TYPE], "application/problem+json");
        prop_assert_eq!(res.headers().get_all(CACHE_CONTROL).iter().count(), 1);
        prop_assert_eq!(&res.headers()[CACHE_CONTROL], "no-store");
        // The length is the body's own, which a server states.
        prop_assert!(!res.headers().contains_key(CONTENT_LENGTH));
        prop_assert_eq!(res.body(), &body);
    }

    #[test]
    fn uri_references_from_the_grammar_are_taken(uri in uri_reference()) {
        let problem = Problem::builder(StatusCode::BAD_REQUEST)
            .type_uri(uri.clone())
            .instance(uri.clone())
            .build();
        let problem = problem.map_err(|err| err.to_string());
        prop_assert!(problem.is_ok(), "{:?}: {:?}", uri, problem);
        let problem = problem.unwrap();
        prop_assert_eq!(problem.type_uri(), Some(uri.as_str()));
        prop_assert_eq!(problem.instance(), Some(uri.as_str()));
    }

    #[test]
    fn a_character_no_uri_holds_is_refused(
        base in prop_oneof![uri_reference(), any_string().boxed()],
        c in outside_uri_alphabet(),
        at in any::<Index>(),
    ) {
        let text = insert(&base, c, at);
        let err = Problem::builder(StatusCode::BAD_REQUEST).type_uri(text.clone()).build().unwrap_err();
        prop_assert!(err.is_type_uri(), "{:?}", err);
        let err = Problem::builder(StatusCode::BAD_REQUEST).instance(text).build().unwrap_err();
        prop_assert!(err.is_instance(), "{:?}", err);
    }

    #[test]
    fn the_uri_check_stands_any_string(s in prop_oneof![uri_alphabet_string(), any_string().boxed()]) {
        match Problem::builder(StatusCode::BAD_REQUEST).type_uri(s.clone()).build() {
            Ok(problem) => {
                prop_assert_eq!(problem.type_uri(), Some(s.as_str()));
                prop_assert!(s.chars().all(in_uri_alphabet), "{:?}", s);
            }
            Err(err) => {
                prop_assert!(err.is_type_uri());
                prop_assert!(!err.to_string().is_empty());
            }
        }
    }

    #[test]
    fn extension_names_are_taken_as_rfc_9457_advises(name in any_name(), value in any::<i64>()) {
        let built = Problem::builder(StatusCode::BAD_REQUEST).extension(name.clone(), value).build();
        match (built, name_refusal(&name)) {
            (Ok(problem), None) => prop_assert_eq!(problem.extension(&name), Some(&value.into())),
            (Err(err), Some(refusal)) => prop_assert_eq!(refusal_of(&err), refusal),
            (got, expected) => prop_assert!(false, "{:?}: built {:?}, expected {:?}", name, got, expected),
        }
    }
}

/// Every reserved name is refused whatever the value, and a near miss is
/// taken (case) or refused as advised against (whitespace, a control), not
/// as reserved.
#[test]
fn reserved_names_are_exact() {
    for key in RESERVED {
        for builder in [
            Problem::builder(StatusCode::INTERNAL_SERVER_ERROR).extension(key, 1),
            Problem::builder(StatusCode::INTERNAL_SERVER_ERROR).extension(key, "x"),
            Problem::builder(StatusCode::INTERNAL_SERVER_ERROR).extension(key, true),
        ] {
            let err = builder.build().unwrap_err();
            assert!(
                err.is_reserved_member() && err.is_extension_name(),
                "{err:?}"
            );
        }
    }
    for key in [" status", "detail ", "instance\0", "ty pe"] {
        let err = Problem::builder(StatusCode::INTERNAL_SERVER_ERROR)
            .extension(key, 1)
            .build()
            .unwrap_err();
        assert!(
            err.is_extension_name() && !err.is_reserved_member(),
            "{err:?}"
        );
    }
    let problem = ["Type", "TITLE", "Status", "details", "instances"]
        .into_iter()
        .fold(
            Problem::builder(StatusCode::INTERNAL_SERVER_ERROR),
            |b, key| b.extension(key, 1),
        )
        .build()
        .unwrap();
    let Members(members) = parse(&problem.to_json());
    let keys: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["status", "Type", "TITLE", "Status", "details", "instances"]
    );
}
