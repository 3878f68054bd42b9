//! What the problem schemas of the OpenAPI integrations say, once: the
//! members, their types and their descriptions.

/// A problem's description in a schema.
pub(super) const DESCRIPTION: &str =
    "An RFC 9457 problem details object (application/problem+json).";

/// A member of the schema: a string (a URI reference when `uri`), or the
/// integer `status`.
pub(super) struct Member {
    pub(super) name: &'static str,
    pub(super) uri: bool,
    pub(super) description: &'static str,
}

/// The required member, an integer from 100 to 599.
pub(super) const STATUS: Member = Member {
    name: "status",
    uri: false,
    description: "The HTTP status code of this occurrence.",
};

/// The string members: RFC 9457's, and the two the layers add.
pub(super) const STRINGS: [Member; 6] = [
    Member {
        name: "type",
        uri: true,
        description: "A URI reference that identifies the problem type (about:blank when absent).",
    },
    Member {
        name: "title",
        uri: false,
        description: "A short, human-readable summary of the problem type.",
    },
    Member {
        name: "detail",
        uri: false,
        description: "A human-readable explanation of this occurrence.",
    },
    Member {
        name: "instance",
        uri: true,
        description: "A URI reference that identifies this occurrence.",
    },
    Member {
        name: "kind",
        uri: false,
        description: "What failed, as a stable token (tower-problem's layers).",
    },
    Member {
        name: "request_id",
        uri: false,
        description: "The request's id, when it had one (tower-problem's layers).",
    },
];

/// JSON Schema's format of a URI reference.
pub(super) const URI_REFERENCE: &str = "uri-reference";
