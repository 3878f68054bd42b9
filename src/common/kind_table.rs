//! What both layers' failures have: a `Kind` enum written from one table,
//! and what the core needs of a layer's failure marker to answer it.

use std::borrow::Cow;

use http::StatusCode;

use crate::grpc;
use crate::problem::ExtensionValue;

/// What the core needs of a layer's failure marker (`app::Failure`,
/// `gateway::Failure`) to build its response.
pub(crate) trait LayerFailure: Clone + Send + Sync + 'static {
    /// The kind's token: the `kind` member, the end of the `type` URI.
    fn token(&self) -> &'static str;
    /// The kind's title.
    fn title(&self) -> &'static str;
    /// Whether the kind has a `type` of its own under the type base, or
    /// means no more than its status (`about:blank`, RFC 9457 §4.2.1).
    fn has_own_type(&self) -> bool;
    /// The status the failure is answered with.
    fn status(&self) -> StatusCode;
    /// The gRPC code a gRPC request's failure is answered with.
    fn grpc_code(&self) -> grpc::Code;
    /// Whether the kind is one of the application's own problem types,
    /// whose `type` only the application's `type_base` can name.
    fn is_the_applications(&self) -> bool {
        false
    }
    /// Adds the extension members the failure has of its own.
    fn add_members(&self, extensions: &mut Vec<(Cow<'static, str>, ExtensionValue)>) {
        let _ = extensions;
    }
}

/// The reason phrase RFC 9110 §15 gives `status`, the title of a problem
/// that means no more than its status (RFC 9457 §4.2.1): the http crate's,
/// but for the two RFC 9110 renamed, which it keeps under their RFC 7231
/// names ("Payload Too Large", "Unprocessable Entity").
pub(crate) fn status_phrase(status: StatusCode) -> Option<&'static str> {
    match status.as_u16() {
        413 => Some("Content Too Large"),
        422 => Some("Unprocessable Content"),
        _ => status.canonical_reason(),
    }
}

/// A layer's `Kind` enum from a table of `Variant => "token", STATUS,
/// "title";` rows, each with its docs: the enum, `as_str`, `title`,
/// `default_status`, `has_own_type` and `Display`. A row that ends in
/// `, about_blank` is a kind that means no more than its status: its
/// `type` is `about:blank` and its title the status's phrase.
macro_rules! kinds {
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

            /// Whether the kind has a `type` of its own under the type base;
            /// one that means no more than its status has `about:blank`.
            pub(crate) const fn has_own_type(self) -> bool {
                match self { $(Self::$variant => stringify!($($blank)?).is_empty(),)* }
            }
        }

        impl std::fmt::Display for Kind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use kinds;

#[cfg(test)]
mod tests {
    /// Every kind of both layers: token, title, status, whether it has a
    /// type of its own, gRPC code.
    fn kinds() -> Vec<(
        &'static str,
        &'static str,
        http::StatusCode,
        bool,
        crate::grpc::Code,
    )> {
        let mut kinds: Vec<_> = crate::app::Kind::ALL
            .iter()
            .map(|kind| {
                let k = *kind;
                (
                    k.as_str(),
                    k.title(),
                    k.default_status(),
                    k.has_own_type(),
                    k.grpc_code(),
                )
            })
            .collect();
        #[cfg(feature = "gateway")]
        kinds.extend(crate::gateway::Kind::ALL.iter().map(|kind| {
            let k = *kind;
            (
                k.as_str(),
                k.title(),
                k.default_status(),
                k.has_own_type(),
                k.grpc_code(),
            )
        }));
        kinds
    }

    /// RFC 9457 §4: the documentation a `type` URI points to gives the
    /// type's title and status; the kinds page has a section per kind that
    /// says both, as the code has them.
    #[test]
    fn the_kinds_page_gives_every_kind_its_title_and_status() {
        let page = include_str!("../../docs/kinds.md");
        for (token, title, status, own_type, _) in kinds() {
            let line = if own_type {
                format!(
                    "## {token}\n\n**Title:** {title}. **Status:** {} {}.\n",
                    status.as_str(),
                    super::status_phrase(status).unwrap()
                )
            } else {
                // A status kind: its title is its status's phrase.
                format!("| `{token}` | {} {title} |\n", status.as_str())
            };
            assert!(page.contains(&line), "the kinds page lacks {line:?}");
        }
    }

    /// RFC 9457 §4: the page a `type` points at states the title the body
    /// carries. Rustdoc renders the kinds page with smart punctuation,
    /// which turns `'` and `"` into typographic quotes, `--` into a dash
    /// and `...` into an ellipsis: a title with any of them would read
    /// otherwise on the page than in the body.
    #[test]
    fn no_title_has_what_rustdoc_rewrites() {
        for (token, title, _, _, _) in kinds() {
            for rewritten in ["'", "\"", "--", "..."] {
                assert!(!title.contains(rewritten), "{token}: {title:?}");
            }
        }
    }

    /// RFC 9110's phrases, where the http crate keeps older ones.
    #[test]
    fn status_phrases_are_rfc_9110s() {
        use http::StatusCode;

        let phrase = |code| super::status_phrase(StatusCode::from_u16(code).unwrap());
        assert_eq!(phrase(413), Some("Content Too Large"));
        assert_eq!(phrase(422), Some("Unprocessable Content"));
        assert_eq!(phrase(404), Some("Not Found"));
        assert_eq!(phrase(599), None);
    }

    /// The kinds page's gRPC table gives each kind the code the layers
    /// answer a gRPC request with (at the kind's default status).
    #[test]
    fn the_kinds_page_gives_every_kind_its_grpc_code() {
        let page = include_str!("../../docs/kinds.md");
        for (token, _, _, _, code) in kinds() {
            let line = format!("| `{token}` | {} `{code}` |\n", code.as_i32());
            assert!(page.contains(&line), "the kinds page lacks {line:?}");
        }
    }
}
