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
    /// The `type` URI under [`DEFAULT_TYPE_BASE`](crate::DEFAULT_TYPE_BASE).
    fn default_type(self) -> &'static str;
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
    common: &Common<X, F>,
) -> Option<&'static str> {
    let default = TypeId::of::<R>() == TypeId::of::<DefaultResponse>()
        && common.type_base().is_none()
        && !common.expose_details
        && status == kind.default_status();
    default.then(|| kind.fixed_json())
}

/// What the core needs of a layer's failure marker.
pub(crate) trait LayerFailure: Clone + Send + Sync + 'static {
    type Kind: FailureKind;
    fn kind(&self) -> Self::Kind;
    fn status(&self) -> StatusCode;
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
        }
    };
}
pub(crate) use layer_failure;

/// The consistent body of a failure of `kind` answered with `status`:
/// `type`, `title`, `status`, `detail` when the layer exposes details, and
/// the `kind` and `request_id` members.
pub(crate) fn default_problem<K: FailureKind, X, F>(
    kind: K,
    status: StatusCode,
    details: Option<&str>,
    request_id: Option<&str>,
    common: &Common<X, F>,
) -> Problem {
    let type_uri = match common.type_base() {
        None => Cow::Borrowed(kind.default_type()),
        Some(base) => Cow::Owned(format!("{base}{}", kind.token())),
    };
    let detail = details.filter(|_| common.expose_details).map(str::to_owned);
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
/// `default_status`, `Display`, and the core's [`FailureKind`].
macro_rules! kinds {
    // With `extra = name;` first: the table also goes to the layer's macro
    // `name!`, as `Variant => "token";` rows, for what only that layer has.
    (
        extra = $extra:ident;
        $(#[$meta:meta])*
        pub enum Kind {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident => $token:literal, $status:literal, $title:literal;
            )*
        }
    ) => {
        crate::kind::kinds! {
            $(#[$meta])*
            pub enum Kind {
                $($(#[$variant_meta])* $variant => $token, $status, $title;)*
            }
        }
        $extra! { $($variant => $token;)* }
    };
    (
        $(#[$meta:meta])*
        pub enum Kind {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident => $token:literal, $status:literal, $title:literal;
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
                    $(Self::$variant => concat!(crate::default_type_base!(), $token),)*
                }
            }

            fn default_status(self) -> http::StatusCode {
                Kind::default_status(self)
            }

            fn fixed_json(self) -> &'static str {
                match self {
                    $(Self::$variant => concat!(
                        r#"{"type":""#, crate::default_type_base!(), $token,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of both layers: token, title, status.
    fn kinds() -> Vec<(&'static str, &'static str, StatusCode)> {
        fn row<K: FailureKind>(kind: K) -> (&'static str, &'static str, StatusCode) {
            (kind.token(), kind.title(), kind.default_status())
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
        for (token, title, status) in kinds() {
            let line = format!(
                "## {token}\n\n**Title:** {title}. **Status:** {} {}.\n",
                status.as_str(),
                status.canonical_reason().unwrap()
            );
            assert!(page.contains(&line), "the kinds page lacks {line:?}");
        }
    }
}
