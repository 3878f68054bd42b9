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
        let value = value.into();
        if value < 0 {
            self.buf.push(b'-');
        }
        let mut digits = [0u8; 39];
        let mut rest = value.unsigned_abs();
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.buf.extend_from_slice(&digits[at..]);
    }

    pub(super) fn bool(&mut self, key: &str, value: bool) {
        self.raw(key, if value { "true" } else { "false" });
    }

    /// A string member holding a URI reference, as `type` and `instance`
    /// always do (the builder and `Deserialize` check them): RFC 3986 lets
    /// no character JSON escapes into one, so it is copied as it is.
    pub(super) fn uri_reference(&mut self, key: &str, value: &str) {
        debug_assert!(!value.bytes().any(needs_escape), "{value:?}");
        self.key(key);
        self.buf.push(b'"');
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.push(b'"');
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
/// escaped, anything else (non-ASCII text too) as it is, copied a run at a
/// time between the bytes to escape.
fn write_string(buf: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    buf.push(b'"');
    if !bytes.iter().any(|&byte| needs_escape(byte)) {
        buf.extend_from_slice(bytes);
        buf.push(b'"');
        return;
    }
    let mut run = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if !needs_escape(byte) {
            continue;
        }
        let escape: &[u8] = match byte {
            b'"' => br#"\""#,
            b'\\' => br"\\",
            b'\n' => br"\n",
            b'\r' => br"\r",
            b'\t' => br"\t",
            0x08 => br"\b",
            0x0c => br"\f",
            _ => b"",
        };
        buf.extend_from_slice(&bytes[run..at]);
        if escape.is_empty() {
            write!(buf, "\\u{byte:04x}").expect("a Vec takes any write");
        } else {
            buf.extend_from_slice(escape);
        }
        run = at + 1;
    }
    buf.extend_from_slice(&bytes[run..]);
    buf.push(b'"');
}

/// Whether JSON escapes `byte` inside a string: `"`, `\\` and the control
/// characters (RFC 8259 §7). A table, as serde_json keeps it: one look-up
/// a byte.
fn needs_escape(byte: u8) -> bool {
    static ESCAPED: [bool; 256] = {
        let mut table = [false; 256];
        let mut byte = 0;
        while byte < 0x20 {
            table[byte] = true;
            byte += 1;
        }
        table[b'"' as usize] = true;
        table[b'\\' as usize] = true;
        table
    };
    ESCAPED[usize::from(byte)]
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
