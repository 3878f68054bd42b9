//! The examples' line format: tracing-subscriber's default (`full`) line,
//! written in one pass.
//!
//! `2026-12-06T09:51:13.091872Z ERROR span{field=1}: target: message
//! key="text" n=3`: the time in UTC to the microsecond, the level, the
//! spans from the root with their fields, the target, the message and the
//! event's fields. A text value is quoted and escaped as `{:?}` would, and
//! every other value has its control characters escaped, so nothing a
//! client sends can end a line or colour a terminal. On a terminal the
//! level is coloured, as tracing-subscriber colours it.

use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The line of an event.
pub struct Line;

impl<S> FormatEvent<S, Fields> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, Fields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // Made in a string of its own and handed over whole: a line is some
        // fifty pieces, and each write to `writer` is a call through `dyn
        // fmt::Write`.
        let mut line = String::with_capacity(512);
        write_utc(&mut line, SystemTime::now())?;
        // A `log` record's own target and level, not those of the bridge.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let (level, colour) = match *meta.level() {
            Level::ERROR => ("ERROR", "31"),
            Level::WARN => (" WARN", "33"),
            Level::INFO => (" INFO", "32"),
            Level::DEBUG => ("DEBUG", "34"),
            Level::TRACE => ("TRACE", "35"),
        };
        if writer.has_ansi_escapes() {
            write!(line, " \x1b[{colour}m{level}\x1b[0m ")?;
        } else {
            line.push(' ');
            line.push_str(level);
            line.push(' ');
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                line.push_str(span.name());
                if let Some(fields) = span.extensions().get::<FormattedFields<Fields>>() {
                    if !fields.is_empty() {
                        write!(line, "{{{fields}}}")?;
                    }
                }
                line.push(':');
            }
            line.push(' ');
        }
        line.push_str(meta.target());
        line.push_str(": ");
        let mut visitor = Visitor::new(&mut line);
        event.record(&mut visitor);
        visitor.result?;
        line.push('\n');
        writer.write_str(&line)
    }
}

/// How fields are written, on events and spans alike.
pub struct Fields;

impl<'writer> FormatFields<'writer> for Fields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Visitor::new(writer);
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<W> {
    out: W,
    first: bool,
    result: fmt::Result,
}

impl<W: Write> Visitor<W> {
    fn new(out: W) -> Self {
        Self {
            out,
            first: true,
            result: Ok(()),
        }
    }

    /// After an error, and for the fields a `log` record carries about
    /// itself (`log.target`, `log.line`...), which its metadata gives.
    fn skips(&self, field: &Field) -> bool {
        self.result.is_err() || field.name().starts_with("log.")
    }

    /// `name=` after a space, or nothing for the message.
    fn name(&mut self, field: &Field) -> fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.out.write_char(' ')?;
        }
        if field.name() == "message" {
            return Ok(());
        }
        self.out.write_str(field.name())?;
        self.out.write_char('=')
    }
}

impl<W: Write> Visit for Visitor<W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.skips(field) {
            return;
        }
        self.result = self.name(field).and_then(|()| {
            if field.name() == "message" {
                Escaped(&mut self.out).write_str(value)
            } else {
                write_quoted(&mut self.out, value)
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.skips(field) {
            return;
        }
        self.result = self
            .name(field)
            .and_then(|()| write_u64(&mut self.out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.skips(field) {
            return;
        }
        self.result = self.name(field).and_then(|()| {
            if value < 0 {
                self.out.write_char('-')?;
            }
            write_u64(&mut self.out, value.unsigned_abs())
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.skips(field) {
            return;
        }
        self.result = self
            .name(field)
            .and_then(|()| self.out.write_str(if value { "true" } else { "false" }));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.skips(field) {
            return;
        }
        self.result = self
            .name(field)
            .and_then(|()| write!(Escaped(&mut self.out), "{value:?}"));
    }
}

/// Writes through to `W` with control characters escaped.
struct Escaped<'a, W>(&'a mut W);

impl<W: Write> Write for Escaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // Control characters are U+0000 to U+001F, U+007F, and U+0080 to
        // U+009F, which UTF-8 starts with 0xC2: told by their first byte,
        // and the rare 0xC2 by its character.
        let starts_control = |byte: u8| byte < 0x20 || byte == 0x7f || byte == 0xc2;
        // Checked first without an early exit: vector instructions.
        if !text
            .bytes()
            .fold(false, |found, byte| found | starts_control(byte))
        {
            return self.0.write_str(text);
        }
        let mut rest = text;
        while let Some(at) = rest.bytes().position(starts_control) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().expect("a character at `at`");
            if c.is_control() {
                write!(self.0, "{}", c.escape_debug())?;
            } else {
                self.0.write_char(c)?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

/// `time` as RFC 3339 in UTC, to the microsecond.
fn write_utc(writer: &mut impl Write, time: SystemTime) -> fmt::Result {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, day_secs) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    put_digits(&mut text[0..4], year.clamp(0, 9999) as u64);
    put_digits(&mut text[5..7], month.into());
    put_digits(&mut text[8..10], day.into());
    put_digits(&mut text[11..13], day_secs / 3600);
    put_digits(&mut text[14..16], day_secs / 60 % 60);
    put_digits(&mut text[17..19], day_secs % 60);
    put_digits(&mut text[20..26], since.subsec_micros().into());
    writer.write_str(std::str::from_utf8(&text).expect("ASCII digits"))
}

/// `n`'s last `digits.len()` decimal digits, zero-padded.
fn put_digits(digits: &mut [u8], mut n: u64) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

fn write_u64(writer: &mut impl Write, n: u64) -> fmt::Result {
    let mut text = [0u8; 20];
    let len = n.checked_ilog10().map_or(1, |log| log as usize + 1);
    put_digits(&mut text[..len], n);
    writer.write_str(std::str::from_utf8(&text[..len]).expect("ASCII digits"))
}

/// `text` quoted and escaped as `{:?}` writes it, in runs: printable
/// ASCII is told by its byte alone.
fn write_quoted(writer: &mut impl Write, text: &str) -> fmt::Result {
    writer.write_char('"')?;
    // Most text needs no escape, which a check without an early exit tells
    // in a few vector instructions.
    if text
        .bytes()
        .fold(true, |plain, byte| plain & is_plain(byte))
    {
        writer.write_str(text)?;
        return writer.write_char('"');
    }
    let (mut run, mut at) = (0, 0);
    while let Some(skip) = text.as_bytes()[at..].iter().position(|&b| !is_plain(b)) {
        at += skip;
        let c = text[at..]
            .chars()
            .next()
            .expect("a character starts at `at`");
        let next = at + c.len_utf8();
        if c.is_ascii() || c.escape_debug().len() > 1 {
            writer.write_str(&text[run..at])?;
            write!(writer, "{}", c.escape_debug())?;
            run = next;
        }
        at = next;
    }
    writer.write_str(&text[run..])?;
    writer.write_char('"')
}

/// Whether `byte` is written as it is between quotes: printable ASCII but
/// `"` and `\`.
fn is_plain(byte: u8) -> bool {
    matches!(byte, b' '..=b'~') && byte != b'"' && byte != b'\\'
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn days_are_gregorian_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn text_is_quoted_as_debug_quotes_it() {
        for text in [
            "",
            "plain",
            "a\"b\\c",
            "tab\tnl\ncr\r\u{1b}[31m\u{7f}",
            "é ü ✓ 'x'",
            "\u{301}start",
            "a\u{200b}b",
        ] {
            let mut quoted = String::new();
            super::write_quoted(&mut quoted, text).unwrap();
            assert_eq!(quoted, format!("{text:?}"));
        }
    }

    #[test]
    fn numbers_are_written_whole() {
        for n in [0, 7, 10, 502, 99_999, u64::MAX] {
            let mut text = String::new();
            super::write_u64(&mut text, n).unwrap();
            assert_eq!(text, n.to_string());
        }
    }
}
