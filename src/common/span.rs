//! The kind on the request's span, as OpenTelemetry's `error.type`.

/// The attribute and field name: OpenTelemetry's HTTP semantic conventions
/// ask for a low-cardinality `error.type` on a failed request's span; the
/// kinds are that list.
pub(crate) const ERROR_TYPE: &str = "error.type";

/// Puts `kind` on the current span (the request's, when a tracing layer
/// such as tower-http's `TraceLayer` is outside the layer): as an
/// OpenTelemetry attribute with the `opentelemetry` feature, and into an
/// `error.type` field wherever the span declares one (tracing drops a
/// field the span did not declare when it was made). Where nothing records
/// even errors (no subscriber) there is no span to put it on.
pub(crate) fn record_error_type(kind: &'static str) {
    if !tracing::level_enabled!(tracing::Level::ERROR) {
        return;
    }
    let span = tracing::Span::current();
    #[cfg(feature = "opentelemetry")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        span.set_attribute(ERROR_TYPE, kind);
    }
    span.record(ERROR_TYPE, kind);
}
