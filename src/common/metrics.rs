//! The failure counter (feature `metrics`), one for both layers.

/// The counter's name: the crate's namespace and what it counts, as
/// OpenTelemetry names metrics (a Prometheus exporter writes it
/// `tower_problem_failures_total`).
pub(crate) const FAILURES: &str = "tower_problem.failures";

/// Counts one failure of `layer` (`app` or `gateway`) of `kind`, answered
/// with `status` (`None` once the head was sent: the response was
/// aborted, and the label is empty), and the upstream's authority where
/// the gateway was told to label it.
pub(crate) fn failure(
    layer: &'static str,
    kind: &'static str,
    status: Option<http::StatusCode>,
    upstream: Option<&str>,
) {
    let status = status_label(status);
    let counter = match upstream {
        Some(upstream) => metrics::counter!(
            FAILURES,
            "layer" => layer,
            "kind" => kind,
            "status" => status,
            "upstream" => upstream.to_owned()
        ),
        None => metrics::counter!(FAILURES, "layer" => layer, "kind" => kind, "status" => status),
    };
    counter.increment(1);
}

/// `status` as a label: the statuses the layers answer with by default are
/// static strings, so that counting their failures allocates no label.
fn status_label(status: Option<http::StatusCode>) -> metrics::SharedString {
    let Some(status) = status else {
        return metrics::SharedString::const_str("");
    };
    let label = match status.as_u16() {
        400 => "400",
        404 => "404",
        413 => "413",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => return status.as_str().to_owned().into(),
    };
    label.into()
}
