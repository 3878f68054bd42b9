//! The problem+json writer: members written in order into one buffer,
//! strings escaped as RFC 8259 §7 requires (a problem read from another
//! server may hold anything, in its names too).

use std::io::Write as _;

use bytes::Bytes;

/// Writes one JSON object, member by member.
pub(super) struct ObjectWriter {
    buf: Vec<u8>,
}

impl ObjectWriter {
    /// A writer whose buffer takes `capacity` bytes before it grows: a
    /// guess, which text to escape may pass.
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        buf.push(b'{');
        Self { buf }
    }

    pub(super) fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        write_string(&mut self.buf, value);
    }

    /// An integer, as its decimal digits.
    pub(super) fn integer(&mut self, key: &str, value: impl Into<i128>) {
        self.key(key);
        write!(self.buf, "{}", value.into()).expect("a Vec takes any write");
    }

    pub(super) fn bool(&mut self, key: &str, value: bool) {
        self.raw(key, if value { "true" } else { "false" });
    }

    /// A member whose value is JSON text already.
    pub(super) fn raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.buf.extend_from_slice(json.as_bytes());
    }

    pub(super) fn finish(mut self) -> Bytes {
        self.buf.push(b'}');
        Bytes::from(self.buf)
    }

    fn key(&mut self, key: &str) {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        write_string(&mut self.buf, key);
        self.buf.push(b':');
    }
}

/// Writes `value` as a JSON string: `"`, `\` and the control characters
/// escaped, anything else (non-ASCII text too) as it is.
fn write_string(buf: &mut Vec<u8>, value: &str) {
    buf.push(b'"');
    for &byte in value.as_bytes() {
        match byte {
            b'"' => buf.extend_from_slice(br#"\""#),
            b'\\' => buf.extend_from_slice(br"\\"),
            b'\n' => buf.extend_from_slice(br"\n"),
            b'\r' => buf.extend_from_slice(br"\r"),
            b'\t' => buf.extend_from_slice(br"\t"),
            0x08 => buf.extend_from_slice(br"\b"),
            0x0c => buf.extend_from_slice(br"\f"),
            0..=0x1f => write!(buf, "\\u{byte:04x}").expect("a Vec takes any write"),
            _ => buf.push(byte),
        }
    }
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_json(value: &str) -> String {
        let mut buf = Vec::new();
        write_string(&mut buf, value);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn every_char_below_0x80_round_trips_through_serde_json() {
        for byte in 0u8..0x80 {
            let text = format!("a{}b", byte as char);
            let json = string_json(&text);
            let back: String = serde_json::from_str(&json).unwrap();
            assert_eq!(back, text, "byte {byte:#x} as {json}");
        }
    }

    #[test]
    fn short_escapes_are_used_where_json_has_them() {
        assert_eq!(string_json("\"\\\n\r\t\x08\x0c"), r#""\"\\\n\r\t\b\f""#);
        assert_eq!(string_json("\x00\x1f"), r#""\u0000\u001f""#);
    }

    #[test]
    fn non_ascii_and_long_strings_pass_unchanged() {
        let text = "é漢字🦀\u{2028}".repeat(10_000);
        let json = string_json(&text);
        assert_eq!(json.len(), text.len() + 2);
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
        // Past the capacity guess, escapes included.
        let text = "a\"\\\n\x00".repeat(10_000);
        let mut w = ObjectWriter::with_capacity(8);
        w.string("t", &text);
        let json: serde_json::Value = serde_json::from_slice(&w.finish()).unwrap();
        assert_eq!(json["t"], text.as_str());
    }

    #[test]
    fn integers_cover_their_whole_range() {
        let mut w = ObjectWriter::with_capacity(0);
        w.integer("max", u64::MAX);
        w.integer("min", i64::MIN);
        w.integer("zero", 0);
        w.bool("t", true);
        w.bool("f", false);
        let json = String::from_utf8(w.finish().to_vec()).unwrap();
        assert_eq!(
            json,
            r#"{"max":18446744073709551615,"min":-9223372036854775808,"zero":0,"t":true,"f":false}"#
        );
    }

    #[test]
    fn an_empty_object_is_two_braces() {
        assert_eq!(ObjectWriter::with_capacity(2).finish(), "{}");
    }
}
