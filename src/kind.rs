//! What both layers' `Kind` enums have: one macro writes each enum and its
//! tokens, titles and default statuses from one table.

use std::any::TypeId;

use crate::problem::{ExtensionValue, Problem};
use crate::respond::DefaultResponse;
use crate::settings::Common;
use http::StatusCode;
use std::borrow::Cow;

/// What the core needs of a layer's kind to write its problem.
pub(crate) trait FailureKind: Copy {
    /// The `kind` member, the end of the `type` URI.
    fn token(self) -> &'static str;
    /// The problem's `title`.
    fn title(self) -> &'static str;
    /// The `type` URI under [`DEFAULT_TYPE_BASE`](crate::DEFAULT_TYPE_BASE),
    /// or `about:blank` for a kind that means no more than its status.
    fn default_type(self) -> &'static str;
    /// Whether the kind has a `type` of its own, under the type base; a
    /// kind that means no more than its status has `about:blank` (RFC 9457
    /// §4.2.1), whatever the base.
    fn has_own_type(self) -> bool;
    /// The whole default problem of this kind at its default status, under
    /// the default type base, without a detail or a request id: what
    /// [`default_problem`] renders then, written at compile time.
    fn fixed_json(self) -> &'static str;
    /// The status of [`fixed_json`](Self::fixed_json).
    fn default_status(self) -> StatusCode;
}

/// The kind's [fixed JSON](FailureKind::fixed_json) when it is the body
/// the layer would render: the default responder, type base and status, no
/// detail. Writing it costs a copy where rendering the [`Problem`] costs
/// building it and writing it member by member, which the error path's
/// bound cannot afford (BENCHMARKS.md).
pub(crate) fn fixed_json<R: 'static, K: FailureKind, X, F>(
    kind: K,
    status: StatusCode,
    detail: Option<&str>,
    common: &Common<X, F>,
) -> Option<&'static str> {
    let default = TypeId::of::<R>() == TypeId::of::<DefaultResponse>()
        && (common.type_base().is_none() || !kind.has_own_type())
        && detail.is_none()
        && status == kind.default_status();
    default.then(|| kind.fixed_json())
}

/// What the core needs of a layer's failure marker.
pub(crate) trait LayerFailure: Clone + Send + Sync + 'static {
    type Kind: FailureKind;
    fn kind(&self) -> Self::Kind;
    fn status(&self) -> StatusCode;
    fn grpc_code(&self) -> crate::grpc::Code;
}

/// `LayerFailure` for the layer's `Failure`, through its own `kind` and
/// `status`.
macro_rules! layer_failure {
    () => {
        impl crate::kind::LayerFailure for Failure {
            type Kind = Kind;

            fn kind(&self) -> Kind {
                Failure::kind(self)
            }

            fn status(&self) -> http::StatusCode {
                Failure::status(self)
            }

            fn grpc_code(&self) -> crate::grpc::Code {
                Failure::grpc_code(self)
            }
        }
    };
}
pub(crate) use layer_failure;

/// The consistent body of a failure of `kind` answered with `status`:
/// `type`, `title`, `status`, the `detail` the layer chose, and the `kind`
/// and `request_id` members.
pub(crate) fn default_problem<K: FailureKind, X, F>(
    kind: K,
    status: StatusCode,
    detail: Option<&str>,
    request_id: Option<&str>,
    common: &Common<X, F>,
) -> Problem {
    let type_uri = match common.type_base() {
        Some(base) if kind.has_own_type() => Cow::Owned(format!("{base}{}", kind.token())),
        _ => Cow::Borrowed(kind.default_type()),
    };
    let detail = detail.map(str::to_owned);
    let mut extensions = Vec::with_capacity(1 + usize::from(request_id.is_some()));
    extensions.push((Cow::Borrowed("kind"), ExtensionValue::from(kind.token())));
    if let Some(id) = request_id {
        extensions.push((
            Cow::Borrowed("request_id"),
            ExtensionValue::from(id.to_owned()),
        ));
    }
    Problem::layer_problem(status, type_uri, kind.title(), detail, extensions)
}

/// A layer's `Kind` enum from a table of `Variant => "token", STATUS,
/// "title";` rows, each with its docs: the enum, `as_str`, `title`,
/// `default_status`, `Display`, and the core's [`FailureKind`]. A row that
/// ends in `, about_blank` is a kind that means no more than its status:
/// its `type` is `about:blank` and its title the status's phrase.
macro_rules! kinds {
    // With `extra = name;` first: the table also goes to the layer's macro
    // `name!`, as `Variant => "token";` rows, for what only that layer has.
    (
        extra = $extra:ident;
        $(#[$meta:meta])*
        pub enum Kind {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident => $token:literal, $status:literal, $title:literal $(, $blank:ident)?;
            )*
        }
    ) => {
        crate::kind::kinds! {
            $(#[$meta])*
            pub enum Kind {
                $($(#[$variant_meta])* $variant => $token, $status, $title $(, $blank)?;)*
            }
        }
        $extra! { $($variant => $token;)* }
    };
    (
        $(#[$meta:meta])*
        pub enum Kind {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident => $token:literal, $status:literal, $title:literal $(, $blank:ident)?;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Kind {
            $($(#[$variant_meta])* $variant,)*
        }

        impl Kind {
            /// Every kind, in the order of the table.
            #[cfg(test)]
            pub(crate) const ALL: &'static [Kind] = &[$(Self::$variant),*];

            /// The snake_case token: the problem's `kind` member and the end
            /// of its `type` URI.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $token,)* }
            }

            /// The problem's `title`: the same for every occurrence of the
            /// kind, as the [kinds page](crate::kinds) gives it.
            pub const fn title(self) -> &'static str {
                match self { $(Self::$variant => $title,)* }
            }

            /// The status a failure of this kind is answered with unless the
            /// layer is told otherwise.
            pub const fn default_status(self) -> http::StatusCode {
                let status = match self { $(Self::$variant => $status,)* };
                match http::StatusCode::from_u16(status) {
                    Ok(status) => status,
                    Err(_) => panic!("a kind's status is a status"),
                }
            }
        }

        impl std::fmt::Display for Kind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl crate::kind::FailureKind for Kind {
            fn token(self) -> &'static str {
                self.as_str()
            }

            fn title(self) -> &'static str {
                Kind::title(self)
            }

            fn default_type(self) -> &'static str {
                match self {
                    $(Self::$variant => crate::kind::kind_type!($token $(, $blank)?),)*
                }
            }

            fn has_own_type(self) -> bool {
                match self {
                    $(Self::$variant => crate::kind::own_type!($($blank)?),)*
                }
            }

            fn default_status(self) -> http::StatusCode {
                Kind::default_status(self)
            }

            fn fixed_json(self) -> &'static str {
                match self {
                    $(Self::$variant => concat!(
                        r#"{"type":""#, crate::kind::kind_type!($token $(, $blank)?),
                        r#"","title":""#, $title,
                        r#"","status":"#, $status,
                        r#","kind":""#, $token, r#""}"#
                    ),)*
                }
            }
        }
    };
}
pub(crate) use kinds;

/// The `type` URI of a kind: under the default base, or `about:blank`.
macro_rules! kind_type {
    ($token:literal) => {
        concat!(crate::default_type_base!(), $token)
    };
    ($token:literal, about_blank) => {
        "about:blank"
    };
}
pub(crate) use kind_type;

/// Whether a kind's row gives it a type of its own.
macro_rules! own_type {
    () => {
        true
    };
    (about_blank) => {
        false
    };
}
pub(crate) use own_type;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of both layers: token, title, status, whether it has a
    /// type of its own.
    fn kinds() -> Vec<(&'static str, &'static str, StatusCode, bool)> {
        fn row<K: FailureKind>(kind: K) -> (&'static str, &'static str, StatusCode, bool) {
            (
                kind.token(),
                kind.title(),
                kind.default_status(),
                kind.has_own_type(),
            )
        }
        let mut kinds: Vec<_> = crate::app::Kind::ALL
            .iter()
            .map(|kind| row(*kind))
            .collect();
        #[cfg(feature = "gateway")]
        kinds.extend(crate::gateway::Kind::ALL.iter().map(|kind| row(*kind)));
        kinds
    }

    /// The fixed JSON is what rendering the default problem writes, with
    /// and without a request id that needs escaping.
    #[test]
    fn every_kinds_fixed_json_is_its_default_problem() {
        let common = Common::<(), ()>::new(());
        fn check<K: FailureKind>(kind: K, common: &Common<(), ()>) {
            for id in [None, Some("abc-123"), Some(r#"quote" back\slash"#)] {
                let problem = default_problem(kind, kind.default_status(), None, id, common);
                let fixed = crate::problem::json::with_request_id(kind.fixed_json(), id);
                assert_eq!(fixed, problem.to_json(), "{} {id:?}", kind.token());
            }
        }
        for kind in crate::app::Kind::ALL {
            check(*kind, &common);
        }
        #[cfg(feature = "gateway")]
        for kind in crate::gateway::Kind::ALL {
            check(*kind, &common);
        }
    }
    /// RFC 9457 §4: the documentation a `type` URI points to gives the
    /// type's title and status; the kinds page has a section per kind that
    /// says both, as the code has them.
    #[test]
    fn the_kinds_page_gives_every_kind_its_title_and_status() {
        let page = include_str!("../docs/kinds.md");
        for (token, title, status, own_type) in kinds() {
            let line = if own_type {
                format!(
                    "## {token}\n\n**Title:** {title}. **Status:** {} {}.\n",
                    status.as_str(),
                    status.canonical_reason().unwrap()
                )
            } else {
                // A status kind: its title is its status's phrase.
                format!("| `{token}` | {} {title} |\n", status.as_str())
            };
            assert!(page.contains(&line), "the kinds page lacks {line:?}");
        }
    }

    /// The kinds page's gRPC table gives each kind the code the layers
    /// answer a gRPC request with (at the kind's default status).
    #[test]
    fn the_kinds_page_gives_every_kind_its_grpc_code() {
        let page = include_str!("../docs/kinds.md");
        let mut rows = Vec::new();
        for kind in crate::app::Kind::ALL {
            rows.push((kind.as_str(), kind.grpc_code()));
        }
        #[cfg(feature = "gateway")]
        for kind in crate::gateway::Kind::ALL {
            rows.push((kind.as_str(), kind.grpc_code()));
        }
        for (token, code) in rows {
            let line = format!("| `{token}` | {} `{code}` |\n", code.as_i32());
            assert!(page.contains(&line), "the kinds page lacks {line:?}");
        }
    }
}
