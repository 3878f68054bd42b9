use std::borrow::Cow;

use super::extension::check_name;
use super::uri::check_uri_reference;
use super::{ExtensionValue, InvalidProblem, Problem};

/// Builds a [`Problem`], checking each member as it is given.
///
/// Made by [`Problem::builder`], or by [`Problem::into_builder`] to add to a
/// problem. As with `http::response::Builder`, the methods never fail: the
/// first member refused is kept, the calls after it do nothing, and
/// [`build`](Self::build) returns it. See the [module docs](super).
///
/// ```
/// use http::StatusCode;
/// use tower_problem::problem::Problem;
///
/// let problem = Problem::builder(StatusCode::FORBIDDEN)
///     .type_uri("https://example.com/probs/out-of-credit")
///     .title("You do not have enough credit.")
///     .detail("Your current balance is 30, but that costs 50.")
///     .instance("/account/12345/msgs/abc")
///     .extension("balance", 30)
///     .build()?;
/// assert_eq!(problem.title(), Some("You do not have enough credit."));
/// # Ok::<(), tower_problem::problem::InvalidProblem>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `.build()` is called"]
pub struct ProblemBuilder {
    inner: Result<Problem, InvalidProblem>,
}

impl ProblemBuilder {
    pub(super) fn start(inner: Result<Problem, InvalidProblem>) -> Self {
        Self { inner }
    }

    fn and_then(self, f: impl FnOnce(Problem) -> Result<Problem, InvalidProblem>) -> Self {
        Self {
            inner: self.inner.and_then(f),
        }
    }

    /// Sets `type`, a URI reference naming the problem type (RFC 9457
    /// §3.1.1), replacing any before.
    ///
    /// Refused unless it is an RFC 3986 `URI-reference`: an absolute URI
    /// such as `https://example.com/probs/out-of-credit`, `about:blank` or
    /// `urn:example:out-of-credit`, or a relative reference such as
    /// `/probs/out-of-credit`. RFC 9457 recommends an absolute URI, which
    /// clients need not resolve; a relative one is resolved against the
    /// request's URI.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_problem::problem::Problem;
    ///
    /// let err = Problem::builder(StatusCode::FORBIDDEN)
    ///     .type_uri("https://example.com/out of credit")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.is_type_uri());
    /// ```
    pub fn type_uri(self, type_uri: impl Into<Cow<'static, str>>) -> Self {
        self.and_then(|mut problem| {
            let type_uri = type_uri.into();
            match check_uri_reference(&type_uri) {
                Ok(()) => {
                    problem.type_uri = Some(type_uri);
                    Ok(problem)
                }
                Err(err) => Err(InvalidProblem::type_uri(type_uri, err)),
            }
        })
    }

    /// Sets `title`, a short, human-readable summary of the problem type
    /// (RFC 9457 §3.1.3), replacing any before. Any string is taken.
    pub fn title(self, title: impl Into<Cow<'static, str>>) -> Self {
        self.and_then(|mut problem| {
            problem.title = Some(title.into());
            Ok(problem)
        })
    }

    /// Sets `detail`, a human-readable explanation of this occurrence
    /// (RFC 9457 §3.1.4), replacing any before. Any string is taken.
    pub fn detail(self, detail: impl Into<Cow<'static, str>>) -> Self {
        self.and_then(|mut problem| {
            problem.detail = Some(detail.into());
            Ok(problem)
        })
    }

    /// Sets `instance`, a URI reference naming this occurrence (RFC 9457
    /// §3.1.5), replacing any before.
    ///
    /// Refused unless it is an RFC 3986 `URI-reference`, as
    /// [`type_uri`](Self::type_uri) is.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_problem::problem::Problem;
    ///
    /// let problem = Problem::builder(StatusCode::FORBIDDEN)
    ///     .instance("/account/12345/msgs/abc")
    ///     .build()?;
    /// assert_eq!(problem.instance(), Some("/account/12345/msgs/abc"));
    /// # Ok::<(), tower_problem::problem::InvalidProblem>(())
    /// ```
    pub fn instance(self, instance: impl Into<Cow<'static, str>>) -> Self {
        self.and_then(|mut problem| {
            let instance = instance.into();
            match check_uri_reference(&instance) {
                Ok(()) => {
                    problem.instance = Some(instance);
                    Ok(problem)
                }
                Err(err) => Err(InvalidProblem::instance(instance, err)),
            }
        })
    }

    /// Adds the extension member `name`, or replaces the value of the one
    /// with that name, keeping its place in the member order.
    ///
    /// Refused for a standard member's name (`type`, `title`, `status`,
    /// `detail`, `instance`), and for a name RFC 9457 §3.2 advises against,
    /// so that the problem can be carried in formats other than JSON: one
    /// that does not start with an ASCII letter, holds anything but ASCII
    /// letters, digits and `_`, or is shorter than three characters.
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_problem::problem::Problem;
    ///
    /// let problem = Problem::builder(StatusCode::SERVICE_UNAVAILABLE)
    ///     .extension("retry_in_minutes", 15)
    ///     .extension("region", "eu-west-1")
    ///     .build()?;
    /// assert_eq!(problem.extension("region").and_then(|v| v.as_str()), Some("eu-west-1"));
    ///
    /// let err = Problem::builder(StatusCode::SERVICE_UNAVAILABLE)
    ///     .extension("retry-in", 15)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.is_extension_name());
    /// # Ok::<(), tower_problem::problem::InvalidProblem>(())
    /// ```
    pub fn extension(
        self,
        name: impl Into<Cow<'static, str>>,
        value: impl Into<ExtensionValue>,
    ) -> Self {
        self.and_then(|mut problem| {
            let name = checked_name(name.into())?;
            problem.insert(name, value.into());
            Ok(problem)
        })
    }

    /// Adds an extension member holding any [`serde::Serialize`] value, as
    /// [`extension`](Self::extension) does; the name is checked the same way.
    ///
    /// Refused too when `value` cannot be written as JSON (a map with
    /// non-string keys, say).
    ///
    /// ```
    /// use http::StatusCode;
    /// use tower_problem::problem::Problem;
    ///
    /// #[derive(serde::Serialize)]
    /// struct InvalidParam {
    ///     name: &'static str,
    ///     reason: &'static str,
    /// }
    ///
    /// let problem = Problem::builder(StatusCode::BAD_REQUEST)
    ///     .serialized_extension(
    ///         "invalid_params",
    ///         &[InvalidParam { name: "age", reason: "must be a positive integer" }],
    ///     )
    ///     .build()?;
    /// assert_eq!(
    ///     problem.to_json(),
    ///     r#"{"status":400,"invalid_params":[{"name":"age","reason":"must be a positive integer"}]}"#
    /// );
    /// # Ok::<(), tower_problem::problem::InvalidProblem>(())
    /// ```
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    pub fn serialized_extension<T: serde::Serialize + ?Sized>(
        self,
        name: impl Into<Cow<'static, str>>,
        value: &T,
    ) -> Self {
        self.and_then(|mut problem| {
            let name = checked_name(name.into())?;
            match ExtensionValue::serialize(value) {
                Ok(value) => {
                    problem.insert(name, value);
                    Ok(problem)
                }
                Err(err) => Err(InvalidProblem::serialize(name, err)),
            }
        })
    }

    /// The problem, or the first member refused.
    ///
    /// # Errors
    ///
    /// An [`InvalidProblem`] that tells which, for the first of these:
    ///
    /// - [`is_status`](InvalidProblem::is_status): the status given to
    ///   [`Problem::builder`] is outside 100..=599.
    /// - [`is_type_uri`](InvalidProblem::is_type_uri): the
    ///   [`type_uri`](Self::type_uri) is not an RFC 3986 URI reference.
    /// - [`is_instance`](InvalidProblem::is_instance): the
    ///   [`instance`](Self::instance) is not an RFC 3986 URI reference.
    /// - [`is_extension_name`](InvalidProblem::is_extension_name): an
    ///   [`extension`](Self::extension)'s name is a standard member's (then
    ///   [`is_reserved_member`](InvalidProblem::is_reserved_member) too) or
    ///   one RFC 9457 §3.2 advises against.
    /// - `is_serialize` (with the `serde` feature): a
    ///   `serialized_extension`'s value could not be serialized as JSON.
    ///
    /// What [`Problem::into_builder`] starts from is not checked again:
    /// only what is added to it.
    pub fn build(self) -> Result<Problem, InvalidProblem> {
        self.inner
    }
}

fn checked_name(name: Cow<'static, str>) -> Result<Cow<'static, str>, InvalidProblem> {
    match check_name(&name) {
        Ok(()) => Ok(name),
        Err(err) => Err(InvalidProblem::extension_name(name, err)),
    }
}
