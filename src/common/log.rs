//! What both layers need to write their log lines.
//!
//! Untrusted text (an error's message, a panic's, a request's path or id)
//! is recorded as a string value, never with `%` (`Display`) or `?`
//! (`Debug`): tracing-subscriber's text output writes a string quoted and
//! escaped, so a `\r\n` in it cannot start a forged line, and a JSON or
//! OpenTelemetry exporter takes the string as it is, escaping it once.

/// A layer's event with the request's method, path and id, the fields
/// every failure line has, written here once. A missing path or id (not
/// captured, or an id that is not visible ASCII) is left out of the line,
/// so it cannot be taken for an id of `-`.
macro_rules! request_event {
    ($level:ident, $target:expr, $request:expr, $($rest:tt)+) => {{
        let request: &$crate::RequestContext = $request;
        tracing::$level!(
            target: $target,
            method = %request.method(),
            path = request.path(),
            request_id = request.request_id_str(),
            $($rest)+
        )
    }};
}
pub(crate) use request_event;
