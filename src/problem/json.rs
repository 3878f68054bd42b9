//! The problem+json writer: one buffer, no serializer.
//!
//! The length is counted before anything is written, as if no string needed
//! an escape (nearly none does), so the buffer is allocated once, full, and
//! becomes a `Bytes` without a second allocation (one that is not full
//! needs a shared header); text that needs escapes grows it, and costs the
//! second allocation. `type` and `instance` are checked on the way in (URI
//! references hold no `"`, `\\` or control character), so they are copied as
//! they are; free text and member names (a problem read from another server
//! may have any) are escaped.

use bytes::Bytes;

/// What a byte becomes inside a JSON string: 0 = itself, `u` = `\u00XX`,
/// anything else = a backslash followed by that byte.
static ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[b'\x08' as usize] = b'b';
    table[b'\t' as usize] = b't';
    table[b'\n' as usize] = b'n';
    table[b'\x0c' as usize] = b'f';
    table[b'\r' as usize] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The length of a JSON object's text, counted member by member.
pub(crate) struct ObjectLen(usize);

impl ObjectLen {
    pub(crate) const fn new() -> Self {
        // The braces; a comma per member after the first is counted with
        // the member.
        Self(1)
    }

    /// A member named `key` whose value takes `value_len` bytes.
    pub(crate) fn member(&mut self, key: &str, value_len: usize) {
        // Comma or opening brace, quoted key, colon.
        self.0 += 1 + key.len() + 3 + value_len;
    }

    pub(crate) const fn get(&self) -> usize {
        // The closing brace; an empty object has no comma to stand for its
        // opening one.
        if self.0 == 1 {
            2
        } else {
            self.0
        }
    }
}

/// Writes one JSON object, member by member, into a buffer of the length an
/// [`ObjectLen`] counted.
pub(crate) struct ObjectWriter {
    buf: Vec<u8>,
}

impl ObjectWriter {
    pub(crate) fn with_len(len: usize) -> Self {
        let mut buf = Vec::with_capacity(len);
        buf.push(b'{');
        Self { buf }
    }

    /// A string member whose value is free text, escaped.
    #[inline]
    pub(crate) fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        write_string(&mut self.buf, value);
    }

    /// A string member whose value needs no escape (a checked URI
    /// reference or name).
    #[inline]
    pub(crate) fn verbatim(&mut self, key: &str, value: &str) {
        self.key(key);
        self.buf.push(b'"');
        self.buf.extend_from_slice(value.as_bytes());
        self.buf.push(b'"');
    }

    pub(crate) fn raw(&mut self, key: &str, json: &str) {
        self.key(key);
        self.buf.extend_from_slice(json.as_bytes());
    }

    pub(crate) fn u64(&mut self, key: &str, value: u64) {
        self.key(key);
        write_u64(&mut self.buf, value);
    }

    pub(crate) fn i64(&mut self, key: &str, value: i64) {
        self.key(key);
        if value < 0 {
            self.buf.push(b'-');
        }
        write_u64(&mut self.buf, value.unsigned_abs());
    }

    pub(crate) fn bool(&mut self, key: &str, value: bool) {
        self.raw(key, if value { "true" } else { "false" });
    }

    pub(crate) fn finish(mut self) -> Bytes {
        self.buf.push(b'}');
        Bytes::from(self.buf)
    }

    /// A member's name, escaped: a problem read from another server may
    /// have any.
    #[inline]
    fn key(&mut self, key: &str) {
        if self.buf.len() > 1 {
            self.buf.push(b',');
        }
        write_string(&mut self.buf, key);
        self.buf.push(b':');
    }
}

/// `json`, a whole object, with a `request_id` member added last when
/// there is one: the layers' fixed problems.
pub(crate) fn with_request_id(json: &'static str, request_id: Option<&str>) -> Bytes {
    let Some(id) = request_id else {
        return Bytes::from_static(json.as_bytes());
    };
    const KEY: &str = r#","request_id":"#;
    let members = &json[..json.len() - 1];
    let mut buf = Vec::with_capacity(members.len() + KEY.len() + string_len(id) + 1);
    buf.extend_from_slice(members.as_bytes());
    buf.extend_from_slice(KEY.as_bytes());
    write_string(&mut buf, id);
    buf.push(b'}');
    Bytes::from(buf)
}

/// The length of `value` written as a JSON string with nothing to escape,
/// quotes included.
pub(crate) const fn string_len(value: &str) -> usize {
    value.len() + 2
}

/// How many bytes at the start of `bytes` need no escape: found eight at a
/// time, the last few through one more word that overlaps the ones before
/// (they are clean, so looking at them again changes nothing), so text with
/// nothing to escape (nearly all of it) is never looked at byte by byte.
fn clean_prefix(bytes: &[u8]) -> usize {
    let len = bytes.len();
    if len < 8 {
        return first_to_escape(bytes);
    }
    let word_at =
        |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
    let mut at = 0;
    while at + 8 <= len {
        if may_need_escape(word_at(at)) {
            return at + first_to_escape(&bytes[at..]);
        }
        at += 8;
    }
    if at < len && may_need_escape(word_at(len - 8)) {
        return at + first_to_escape(&bytes[at..]);
    }
    len
}

/// The index of the first byte of `bytes` that needs an escape, or its
/// length (a word's alarm can be false).
fn first_to_escape(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&byte| ESCAPE[byte as usize] != 0)
        .unwrap_or(bytes.len())
}

/// The number of digits of `value`.
pub(crate) const fn u64_len(mut value: u64) -> usize {
    let mut len = 1;
    while value >= 10 {
        value /= 10;
        len += 1;
    }
    len
}

/// The length of `value` written as a JSON number.
pub(crate) const fn i64_len(value: i64) -> usize {
    u64_len(value.unsigned_abs()) + (value < 0) as usize
}

/// Writes `value` as a JSON string: the runs that need no escape (found
/// by [`clean_prefix`]) are copied at once; multi-byte UTF-8 never needs
/// one, so non-ASCII text is copied as it is.
pub(crate) fn write_string(buf: &mut Vec<u8>, value: &str) {
    let mut bytes = value.as_bytes();
    buf.push(b'"');
    loop {
        let clean = clean_prefix(bytes);
        buf.extend_from_slice(&bytes[..clean]);
        let Some(&byte) = bytes.get(clean) else { break };
        match ESCAPE[byte as usize] {
            b'u' => buf.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(byte >> 4) as usize],
                HEX[(byte & 0xf) as usize],
            ]),
            escape => buf.extend_from_slice(&[b'\\', escape]),
        }
        bytes = &bytes[clean + 1..];
    }
    buf.push(b'"');
}

/// Whether any of the eight bytes of `word` is a control character, `"` or
/// `\`. Never false when one is (a true can be a false alarm: the bytes are
/// then looked at one by one).
const fn may_need_escape(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte below 0x20, or a zero byte after xor with `"` or `\`: the
    // classic "has a byte less than n" bit trick, exact for n <= 0x80.
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * b'"' as u64);
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = word ^ (ONES * b'\\' as u64);
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & HIGH != 0
}

fn write_u64(buf: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[at..]);
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
    fn text_with_nothing_to_escape_fills_the_counted_buffer() {
        let mut len = ObjectLen::new();
        len.member("title", string_len("plain é漢字🦀"));
        len.member("n", u64_len(42));
        let mut w = ObjectWriter::with_len(len.get());
        w.string("title", "plain é漢字🦀");
        w.u64("n", 42);
        assert_eq!(w.buf.len() + 1, w.buf.capacity());
        let json = w.finish();
        assert_eq!(json.len(), len.get());
        // Escapes grow the buffer: the JSON is still whole.
        let mut w = ObjectWriter::with_len(len.get());
        w.string("title", "\"\\\n\x00");
        let json = String::from_utf8(w.finish().to_vec()).unwrap();
        assert_eq!(json, r#"{"title":"\"\\\n\u0000"}"#);
    }

    #[test]
    fn short_escapes_are_used_where_json_has_them() {
        assert_eq!(string_json("\"\\\n\r\t\x08\x0c"), r#""\"\\\n\r\t\b\f""#);
        assert_eq!(string_json("\x00\x1f"), r#""\u0000\u001f""#);
    }

    #[test]
    fn an_escape_at_every_offset_of_a_word_is_found() {
        for len in 0..24 {
            for at in 0..len {
                for special in ['"', '\\', '\n', '\x00', '\x1f'] {
                    let mut text: Vec<char> = "abcdefghijklmnopqrstuvwx"[..len].chars().collect();
                    text[at] = special;
                    let text: String = text.into_iter().collect();
                    let json = string_json(&text);
                    let back: String = serde_json::from_str(&json).unwrap();
                    assert_eq!(back, text, "{special:?} at {at} of {len}: {json}");
                }
            }
        }
    }

    #[test]
    fn non_ascii_and_long_strings_pass_unchanged() {
        let text = "é漢字🦀\u{2028}".repeat(10_000);
        let json = string_json(&text);
        assert_eq!(json.len(), text.len() + 2);
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), text);
    }

    #[test]
    fn integers_cover_their_whole_range() {
        let mut len = ObjectLen::new();
        len.member("max", u64_len(u64::MAX));
        len.member("min", i64_len(i64::MIN));
        len.member("zero", i64_len(0));
        len.member("t", 4);
        let mut w = ObjectWriter::with_len(len.get());
        w.u64("max", u64::MAX);
        w.i64("min", i64::MIN);
        w.i64("zero", 0);
        w.bool("t", true);
        let json = String::from_utf8(w.finish().to_vec()).unwrap();
        assert_eq!(
            json,
            r#"{"max":18446744073709551615,"min":-9223372036854775808,"zero":0,"t":true}"#
        );
    }
}
