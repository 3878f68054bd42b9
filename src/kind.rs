//! What both layers' `Kind` enums have: one macro writes each enum and its
//! tokens, titles and default statuses from one table.

use crate::problem::{ExtensionValue, Problem};
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
}

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
    (
        $(#[$meta:meta])*
        pub enum Kind {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident => $token:literal, $status:ident, $title:literal;
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
                match self { $(Self::$variant => http::StatusCode::$status,)* }
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
        }
    };
}
pub(crate) use kinds;

#[cfg(test)]
mod tests {
    /// RFC 9457 §4: the documentation a `type` URI points to gives the
    /// type's title and status; the kinds page has a section per kind that
    /// says both, as the code has them.
    #[test]
    fn the_kinds_page_gives_every_kind_its_title_and_status() {
        let page = include_str!("../docs/kinds.md");
        let mut kinds: Vec<(&str, &str, http::StatusCode)> = crate::app::Kind::ALL
            .iter()
            .map(|kind| (kind.as_str(), kind.title(), kind.default_status()))
            .collect();
        #[cfg(feature = "gateway")]
        kinds.extend(
            crate::gateway::Kind::ALL
                .iter()
                .map(|kind| (kind.as_str(), kind.title(), kind.default_status())),
        );
        for (token, title, status) in kinds {
            let line = format!(
                "## {token}\n\n**Title:** {title}. **Status:** {} {}.\n",
                status.as_str(),
                status.canonical_reason().unwrap()
            );
            assert!(page.contains(&line), "the kinds page lacks {line:?}");
        }
    }
}
