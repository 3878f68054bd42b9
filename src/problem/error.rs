use std::borrow::Cow;
use std::error::Error;
use std::fmt;

use fluent_uri::ParseError;
use http::StatusCode;

use super::extension::NameError;
use super::uri;

/// The error of [`ProblemBuilder::build`](super::ProblemBuilder::build): a
/// member that RFC 9457 refuses, or advises against.
///
/// Which member it was is told by the `is_*` methods, and why by `Display`,
/// which quotes the refused value (escaped, and cut after 64 characters).
/// See the [module docs](super).
///
/// ```
/// use http::StatusCode;
/// use tower_problem::problem::Problem;
///
/// let err = Problem::builder(StatusCode::BAD_REQUEST)
///     .extension("id", 7)
///     .build()
///     .unwrap_err();
/// assert!(err.is_extension_name());
/// assert_eq!(
///     err.to_string(),
///     r#"extension member name "id" is advised against by RFC 9457 §3.2: it has fewer than three characters"#
/// );
/// ```
pub struct InvalidProblem {
    inner: Box<Invalid>,
}

#[derive(Debug)]
enum Invalid {
    Status(StatusCode),
    TypeUri(Refused, ParseError),
    Instance(Refused, ParseError),
    ExtensionName(Refused, NameError),
    #[cfg(feature = "serde")]
    Serialize(Refused, serde_json::Error),
}

impl InvalidProblem {
    fn new(kind: Invalid) -> Self {
        Self {
            inner: Box::new(kind),
        }
    }

    pub(super) fn status(status: StatusCode) -> Self {
        Self::new(Invalid::Status(status))
    }

    pub(super) fn type_uri(value: Cow<'static, str>, err: ParseError) -> Self {
        Self::new(Invalid::TypeUri(Refused(value), err))
    }

    pub(super) fn instance(value: Cow<'static, str>, err: ParseError) -> Self {
        Self::new(Invalid::Instance(Refused(value), err))
    }

    pub(super) fn extension_name(name: Cow<'static, str>, err: NameError) -> Self {
        Self::new(Invalid::ExtensionName(Refused(name), err))
    }

    #[cfg(feature = "serde")]
    pub(super) fn serialize(name: Cow<'static, str>, err: serde_json::Error) -> Self {
        Self::new(Invalid::Serialize(Refused(name), err))
    }

    /// Whether the `status` is outside 100..=599, the range of RFC 9110
    /// §15 and of RFC 9457's JSON schema (`http::StatusCode` takes up to 999).
    pub fn is_status(&self) -> bool {
        matches!(*self.inner, Invalid::Status(_))
    }

    /// Whether the `type` is not a URI reference (RFC 3986 §4.1).
    pub fn is_type_uri(&self) -> bool {
        matches!(*self.inner, Invalid::TypeUri(..))
    }

    /// Whether the `instance` is not a URI reference (RFC 3986 §4.1).
    pub fn is_instance(&self) -> bool {
        matches!(*self.inner, Invalid::Instance(..))
    }

    /// Whether an extension member's name is refused: a standard member's
    /// (see [`is_reserved_member`](Self::is_reserved_member)), or one that
    /// RFC 9457 §3.2 advises against (not an ASCII letter followed by ASCII
    /// letters, digits and `_`, three characters or more).
    pub fn is_extension_name(&self) -> bool {
        matches!(*self.inner, Invalid::ExtensionName(..))
    }

    /// Whether an extension member's name is a standard member's: `type`,
    /// `title`, `status`, `detail` or `instance`. Implies
    /// [`is_extension_name`](Self::is_extension_name).
    pub fn is_reserved_member(&self) -> bool {
        matches!(*self.inner, Invalid::ExtensionName(_, NameError::Reserved))
    }

    /// Whether an extension member's value could not be serialized as JSON
    /// (a map with non-string keys, say); [`source`](Error::source) is
    /// serde_json's error.
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn is_serialize(&self) -> bool {
        matches!(*self.inner, Invalid::Serialize(..))
    }
}

impl fmt::Debug for InvalidProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("InvalidProblem").field(&self.inner).finish()
    }
}

impl fmt::Display for InvalidProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.inner {
            Invalid::Status(status) => write!(
                f,
                "problem status {} is outside 100..=599, the range of HTTP status codes",
                status.as_u16()
            ),
            Invalid::TypeUri(value, err) => write!(
                f,
                "problem type {value} is not a URI reference: {} at byte {}",
                uri::reason(err),
                err.index()
            ),
            Invalid::Instance(value, err) => write!(
                f,
                "problem instance {value} is not a URI reference: {} at byte {}",
                uri::reason(err),
                err.index()
            ),
            Invalid::ExtensionName(name, NameError::Reserved) => write!(
                f,
                "extension member name {name} is taken by a standard problem member"
            ),
            Invalid::ExtensionName(name, err) => {
                write!(
                    f,
                    "extension member name {name} is advised against by RFC 9457 §3.2: "
                )?;
                match err {
                    NameError::Reserved => unreachable!("matched above"),
                    NameError::NotLetterFirst => {
                        f.write_str("it does not start with an ASCII letter")
                    }
                    NameError::Character { at } => {
                        let c = name.0[*at..].chars().next().unwrap_or_default();
                        write!(f, "{c:?} at byte {at} is not an ASCII letter, digit or '_'")
                    }
                    NameError::TooShort => f.write_str("it has fewer than three characters"),
                }
            }
            #[cfg(feature = "serde")]
            Invalid::Serialize(name, _) => {
                write!(f, "extension member {name} could not be serialized as JSON")
            }
        }
    }
}

impl Error for InvalidProblem {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match &*self.inner {
            #[cfg(feature = "serde")]
            Invalid::Serialize(_, err) => Some(err),
            _ => None,
        }
    }
}

/// A refused value, quoted and escaped by `{:?}`, and cut after
/// [`Refused::SHOWN`] characters: it may be long, or come from a client.
struct Refused(Cow<'static, str>);

impl Refused {
    const SHOWN: usize = 64;
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(Self::SHOWN) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => write!(f, "{:?}…", &self.0[..cut]),
        }
    }
}

impl fmt::Debug for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
