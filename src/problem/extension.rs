use std::borrow::Cow;

use super::json::ObjectWriter;

/// Members that RFC 9457 defines; an extension member may not take their names.
pub(super) const STANDARD_MEMBERS: [&str; 5] = ["type", "title", "status", "detail", "instance"];

/// Why a name is refused as an extension member's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NameError {
    /// A standard member's name.
    Reserved,
    /// RFC 9457 §3.2: names SHOULD start with a letter...
    NotLetterFirst,
    /// ...and SHOULD comprise ALPHA, DIGIT and `_`: the byte where another is...
    Character { at: usize },
    /// ...and SHOULD be three characters or longer.
    TooShort,
}

/// Checks `name` for an extension member: not a standard member's name, and
/// as RFC 9457 §3.2 advises, so that it can be carried in formats other than
/// JSON: an ASCII letter, then ASCII letters, digits and `_`, three or more
/// characters in all.
pub(super) fn check_name(name: &str) -> Result<(), NameError> {
    if STANDARD_MEMBERS.contains(&name) {
        return Err(NameError::Reserved);
    }
    let bytes = name.as_bytes();
    if bytes.first().is_some_and(|c| !c.is_ascii_alphabetic()) {
        return Err(NameError::NotLetterFirst);
    }
    if let Some(at) = bytes
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
    {
        return Err(NameError::Character { at });
    }
    if bytes.len() < 3 {
        return Err(NameError::TooShort);
    }
    Ok(())
}

/// The value of a [`Problem`](super::Problem) extension member.
///
/// Made with `From`: strings, integers and booleans; with the `serde`
/// feature, any `Serialize` value through
/// [`ProblemBuilder::serialized_extension`](super::ProblemBuilder::serialized_extension).
/// Two integers are equal when their numbers are, whatever their variants:
/// JSON has one kind of number.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ExtensionValue {
    /// A JSON string.
    String(Cow<'static, str>),
    /// A JSON number from a signed integer.
    Integer(i64),
    /// A JSON number from an unsigned integer.
    Unsigned(u64),
    /// A JSON boolean.
    Bool(bool),
    /// JSON written by serde_json.
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    Json(SerializedJson),
}

/// JSON text that serde_json wrote, so it is known to be valid.
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerializedJson(String);

#[cfg(feature = "serde")]
impl SerializedJson {
    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The text of `value`, as serde_json writes a value: the same text for
    /// the same data, so that a problem read back equals the one written.
    pub(super) fn from_value(value: &serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Self)
    }
}

impl PartialEq for ExtensionValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::String(a), Self::String(b)) => a == b,
            (Self::Bool(a), Self::Bool(b)) => a == b,
            (Self::Integer(a), Self::Integer(b)) => a == b,
            (Self::Unsigned(a), Self::Unsigned(b)) => a == b,
            (Self::Integer(a), Self::Unsigned(b)) | (Self::Unsigned(b), Self::Integer(a)) => {
                i128::from(*a) == i128::from(*b)
            }
            #[cfg(feature = "serde")]
            (Self::Json(a), Self::Json(b)) => a == b,
            _ => false,
        }
    }
}

impl ExtensionValue {
    #[cfg(feature = "serde")]
    pub(super) fn serialize<T: serde::Serialize + ?Sized>(
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        Self::from_value(serde_json::to_value(value)?)
    }

    /// A JSON value as an extension's: a string, an integer or a boolean as
    /// itself, anything else as its JSON; so a value reads back as it was
    /// written.
    #[cfg(feature = "serde")]
    pub(crate) fn from_value(value: serde_json::Value) -> Result<Self, serde_json::Error> {
        use serde_json::Value;
        Ok(match value {
            Value::String(s) => Self::String(Cow::Owned(s)),
            Value::Bool(b) => Self::Bool(b),
            Value::Number(n) if n.is_u64() => Self::Unsigned(n.as_u64().unwrap_or_default()),
            Value::Number(n) if n.is_i64() => Self::Integer(n.as_i64().unwrap_or_default()),
            other => Self::Json(SerializedJson::from_value(&other)?),
        })
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn write(&self, key: &str, json: &mut ObjectWriter) {
        match self {
            Self::String(s) => json.string(key, s),
            Self::Integer(n) => json.integer(key, *n),
            Self::Unsigned(n) => json.integer(key, *n),
            Self::Bool(b) => json.bool(key, *b),
            #[cfg(feature = "serde")]
            Self::Json(raw) => json.raw(key, &raw.0),
        }
    }
}

impl From<&'static str> for ExtensionValue {
    fn from(value: &'static str) -> Self {
        Self::String(Cow::Borrowed(value))
    }
}

impl From<String> for ExtensionValue {
    fn from(value: String) -> Self {
        Self::String(Cow::Owned(value))
    }
}

impl From<Cow<'static, str>> for ExtensionValue {
    fn from(value: Cow<'static, str>) -> Self {
        Self::String(value)
    }
}

impl From<bool> for ExtensionValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

macro_rules! from_integer {
    ($variant:ident as $wide:ty: $($narrow:ty),*) => {$(
        impl From<$narrow> for ExtensionValue {
            fn from(value: $narrow) -> Self {
                Self::$variant(<$wide>::from(value))
            }
        }
    )*};
}

from_integer!(Integer as i64: i8, i16, i32, i64);
from_integer!(Unsigned as u64: u8, u16, u32, u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_rfc_9457_advises() {
        for name in [
            "abc",
            "kind",
            "request_id",
            "retry_in_minutes",
            "A1_",
            "x__",
            "Type",
            "TITLE",
            "statuses",
        ] {
            assert_eq!(check_name(name), Ok(()), "{name:?}");
        }
        for name in STANDARD_MEMBERS {
            assert_eq!(check_name(name), Err(NameError::Reserved));
        }
        for (name, err) in [
            ("", NameError::TooShort),
            ("a", NameError::TooShort),
            ("ab", NameError::TooShort),
            ("_ab", NameError::NotLetterFirst),
            ("1ab", NameError::NotLetterFirst),
            (" status", NameError::NotLetterFirst),
            ("\u{e9}tat", NameError::NotLetterFirst),
            ("a", NameError::TooShort),
            ("a-b", NameError::Character { at: 1 }),
            ("ab ", NameError::Character { at: 2 }),
            ("detail ", NameError::Character { at: 6 }),
            ("instance\0", NameError::Character { at: 8 }),
            ("caf\u{e9}", NameError::Character { at: 3 }),
            ("a.b.c", NameError::Character { at: 1 }),
            ("a\u{e9}", NameError::Character { at: 1 }),
        ] {
            assert_eq!(check_name(name), Err(err), "{name:?}");
        }
    }
}
