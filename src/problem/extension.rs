use std::borrow::Cow;

use super::json::ObjectWriter;

/// The value of a [`Problem`](super::Problem) extension member.
///
/// Made with `From`: strings, integers and booleans; with the `serde`
/// feature, any `Serialize` value through
/// [`Problem::with_serialized_extension`](super::Problem::with_serialized_extension).
#[derive(Clone, Debug, PartialEq)]
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
}

impl ExtensionValue {
    #[cfg(feature = "serde")]
    pub(super) fn serialize<T: serde::Serialize + ?Sized>(
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(|json| Self::Json(SerializedJson(json)))
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    pub(super) fn json_size_hint(&self) -> usize {
        match self {
            Self::String(s) => s.len() + 2,
            Self::Integer(_) | Self::Unsigned(_) => 20,
            Self::Bool(_) => 5,
            #[cfg(feature = "serde")]
            Self::Json(json) => json.0.len(),
        }
    }

    pub(super) fn write(&self, key: &str, json: &mut ObjectWriter) {
        match self {
            Self::String(s) => json.string(key, s),
            Self::Integer(n) => json.i64(key, *n),
            Self::Unsigned(n) => json.u64(key, *n),
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
