//! The examples' log line (`examples/logging/line.rs`): tracing-subscriber's
//! default line, one per event, and nothing in a value can end it early or
//! colour a terminal.

#[path = "../examples/logging/line.rs"]
mod line;

use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// What `log` writes through the examples' formatter.
fn logged(ansi: bool, log: impl FnOnce()) -> String {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(ansi)
        .fmt_fields(line::Fields)
        .event_format(line::Line)
        .with_writer(captured.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, log);
    let bytes = captured.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_line_is_tracing_subscribers_default_line() {
    let line = logged(false, || {
        let span = tracing::info_span!("request", method = "GET", id = 7);
        let _entered = span.enter();
        tracing::error!(
            kind = "connection_refused",
            status = 502_u64,
            ok = false,
            "upstream request failed"
        );
    });
    let (time, rest) = line.split_once(' ').unwrap();
    assert_eq!(
        rest,
        "ERROR request{method=\"GET\" id=7}: example_log_line: upstream request failed \
         kind=\"connection_refused\" status=502 ok=false\n"
    );
    // 2026-12-06T09:51:13.091872Z
    assert_eq!(time.len(), 27, "{time}");
    let digits = time.replace(['-', 'T', ':', '.', 'Z'], "");
    assert!(
        digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()),
        "{time}"
    );
    assert!(time.ends_with('Z') && &time[10..11] == "T", "{time}");
}

#[test]
fn no_value_can_end_the_line_or_colour_a_terminal() {
    let line = logged(false, || {
        let shown = "x\n2026-12-06T00:00:00.000000Z ERROR forged";
        tracing::warn!(
            path = "/a\nb\u{1b}[31m\"",
            shown = %shown,
            debugged = ?"c\rd",
            // C1's CSI, which some terminals obey; U+00A0 starts as it does.
            c1 = %"\u{9b}31m\u{a0}é",
            "message\nwith\u{1b}[0m a break"
        );
    });
    assert_eq!(line.matches('\n').count(), 1, "{line:?}");
    assert!(!line.contains(['\u{1b}', '\r', '\u{9b}']), "{line:?}");
    assert!(
        line.ends_with(
            " WARN example_log_line: message\\nwith\\u{1b}[0m a break \
             path=\"/a\\nb\\u{1b}[31m\\\"\" \
             shown=x\\n2026-12-06T00:00:00.000000Z ERROR forged \
             debugged=\"c\\rd\" c1=\\u{9b}31m\u{a0}é\n"
        ),
        "{line:?}"
    );
}

#[test]
fn the_level_is_coloured_only_where_asked() {
    let plain = logged(false, || tracing::info!("hello"));
    assert!(
        plain.ends_with("Z  INFO example_log_line: hello\n"),
        "{plain:?}"
    );
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    let coloured = logged(true, || tracing::info!("hello"));
    assert!(
        coloured.contains(" \u{1b}[32m INFO\u{1b}[0m example_log_line: hello\n"),
        "{coloured:?}"
    );
}

#[test]
fn a_log_record_has_its_own_target_and_no_log_fields() {
    let line = logged(false, || {
        let record = log::Record::builder()
            .level(log::Level::Warn)
            .target("rustls::client")
            .module_path(Some("rustls::client::hs"))
            .file(Some("hs.rs"))
            .line(Some(7))
            .args(format_args!("a warning through log"))
            .build();
        tracing_log::format_trace(&record).unwrap();
    });
    assert!(
        line.ends_with("Z  WARN rustls::client: a warning through log\n"),
        "{line:?}"
    );
}
