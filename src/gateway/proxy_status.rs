//! The `Proxy-Status` header (RFC 9209): an RFC 9651 structured-field List
//! whose members name an intermediary, with parameters.
//!
//! Everything written here comes out as a valid field value whatever the
//! input: user strings become sf-strings, with `"` and `\` escaped and
//! anything outside printable ASCII replaced by `?`, cut at a length limit.

use http::{HeaderName, HeaderValue, StatusCode};

/// `proxy-status`.
pub(super) const PROXY_STATUS: HeaderName = HeaderName::from_static("proxy-status");

/// The longest sf-string written for `details` or `next-hop`, in characters
/// after decoding: the least every parser must accept (RFC 9651 §3.3.3).
/// Longer text is cut to leave room for a closing `...`.
const MAX_STRING: usize = 1024;

/// The member's parameters.
#[derive(Debug, Default)]
pub(super) struct Params<'a> {
    pub(super) error: Option<&'static str>,
    pub(super) details: Option<&'a str>,
    pub(super) next_hop: Option<&'a str>,
    pub(super) received_status: Option<StatusCode>,
    /// A TLS alert's id, for `tls_alert_received`: `alert-id`, and
    /// `alert-message` where the TLS Alerts registry names it.
    pub(super) alert: Option<u8>,
}

/// The proxy's name as an sf-item: a token when it is a valid sf-token,
/// else an sf-string (RFC 9209 allows both).
pub(super) fn serialize_name(name: &str) -> String {
    if is_token(name) {
        name.to_owned()
    } else {
        let mut out = String::with_capacity(name.len() + 2);
        write_string(&mut out, name, MAX_STRING);
        out
    }
}

/// One list member: the serialized name (from [`serialize_name`]) and
/// `params`.
pub(super) fn member(name: &str, params: &Params<'_>) -> HeaderValue {
    // The exact length when no string is written (the usual member), so the
    // text becomes the header value without a second allocation.
    let mut len = name.len();
    if let Some(error) = params.error {
        len += "; error=".len() + error.len();
    }
    if params.received_status.is_some() {
        len += "; received-status=000".len();
    }
    if params.next_hop.is_some() || params.details.is_some() || params.alert.is_some() {
        len += 64;
    }
    let mut out = String::with_capacity(len);
    out.push_str(name);
    if let Some(error) = params.error {
        // The error types are sf-tokens.
        out.push_str("; error=");
        out.push_str(error);
    }
    if let Some(status) = params.received_status {
        out.push_str("; received-status=");
        out.push_str(status.as_str());
    }
    if let Some(id) = params.alert {
        out.push_str("; alert-id=");
        out.push_str(&id.to_string());
        if let Some(message) = alert_message(id) {
            out.push_str("; alert-message=");
            write_string(&mut out, message, MAX_STRING);
        }
    }
    if let Some(next_hop) = params.next_hop {
        out.push_str("; next-hop=");
        write_string(&mut out, next_hop, MAX_STRING);
    }
    if let Some(details) = params.details {
        out.push_str("; details=");
        write_string(&mut out, details, MAX_STRING);
    }
    // Only printable ASCII was written, so this cannot fail; a fixed value
    // stands in should it ever.
    HeaderValue::try_from(out).unwrap_or(HeaderValue::from_static(super::layer::DEFAULT_PROXY_NAME))
}

/// The description of the TLS alert `id` in IANA's TLS Alerts registry
/// (TLS Parameters, "TLS Alerts"), which RFC 9209 §2.3.15 asks
/// `alert-message` to carry; `None` for an id the registry does not name.
/// Keyed by number, not by a TLS library's names, which are not the
/// registry's (rustls's `UnknownCA` is `unknown_ca`, its
/// `EncryptedClientHelloRequired` is `ech_required`, and it has none for
/// 52).
fn alert_message(id: u8) -> Option<&'static str> {
    Some(match id {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        22 => "record_overflow",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        52 => "too_many_cids_requested",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        109 => "missing_extension",
        110 => "unsupported_extension",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        117 => "general_error",
        120 => "no_application_protocol",
        121 => "ech_required",
        // Alerts of older TLS versions that TLS 1.3 retired: the registry
        // names them with `_RESERVED`, and that is the string RFC 9209
        // asks for. They are still named, not left to `alert-id` alone:
        // an upstream of an older TLS can send one, and the name says
        // which it was.
        21 => "decryption_failed_RESERVED",
        30 => "decompression_failure_RESERVED",
        41 => "no_certificate_RESERVED",
        60 => "export_restriction_RESERVED",
        100 => "no_renegotiation_RESERVED",
        111 => "certificate_unobtainable_RESERVED",
        114 => "bad_certificate_hash_value_RESERVED",
        _ => return None,
    })
}

/// Whether `s` is an RFC 9651 sf-token: `( ALPHA / "*" ) *( tchar / ":" / "/" )`.
pub(super) fn is_token(s: &str) -> bool {
    let mut bytes = s.bytes();
    match bytes.next() {
        Some(first) if first.is_ascii_alphabetic() || first == b'*' => {}
        _ => return false,
    }
    bytes.all(|b| is_tchar(b) || b == b':' || b == b'/')
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Appends `s` as an sf-string of at most `max` characters once decoded:
/// `"` and `\` escaped, every character outside printable ASCII replaced
/// by `?`; a longer `s` is cut to `max - 3` characters and `...`.
pub(super) fn write_string(out: &mut String, s: &str, max: usize) {
    out.push('"');
    let cut = s.chars().nth(max).is_some();
    for (i, c) in s.chars().enumerate() {
        if cut && i == max - 3 {
            out.push_str("...");
            break;
        }
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses an sf-string at the start of `s` (RFC 9651 §4.2.5), returning
    /// it and the rest; `None` if it is not one.
    fn parse_string(s: &str) -> Option<(String, &str)> {
        let mut chars = s.strip_prefix('"')?.char_indices();
        let mut out = String::new();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next()? {
                    (_, c @ ('"' | '\\')) => out.push(c),
                    _ => return None,
                },
                '"' => return Some((out, &s[i + 2..])),
                ' '..='~' => out.push(c),
                _ => return None,
            }
        }
        None
    }

    const HOSTILE: [&str; 8] = [
        "",
        "plain",
        "\"quoted\"",
        "back\\slash\\",
        "ctl\u{0}\u{1}\r\n\t\u{7f}end",
        "ünïcødé 🦀 \u{2028}",
        "\\\"\\\"",
        "; error=injected, other; x=1",
    ];

    #[test]
    fn hostile_strings_become_valid_sf_strings() {
        for input in HOSTILE {
            let mut out = String::new();
            write_string(&mut out, input, MAX_STRING);
            let value = HeaderValue::try_from(out.as_str()).expect("a valid header value");
            let (parsed, rest) = parse_string(value.to_str().unwrap()).expect(&out);
            assert_eq!(rest, "");
            let expected: String = input
                .chars()
                .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
                .collect();
            assert_eq!(parsed, expected, "{input:?}");
        }
    }

    #[test]
    fn huge_strings_are_cut() {
        let huge = "\"\\".repeat(1_000_000);
        let mut out = String::new();
        write_string(&mut out, &huge, MAX_STRING);
        assert!(out.len() < 3 * MAX_STRING);
        let (parsed, rest) = parse_string(&out).unwrap();
        assert_eq!(rest, "");
        assert!(parsed.ends_with("..."));
        assert_eq!(parsed.chars().count(), MAX_STRING);
        // Exactly the limit is not cut.
        let exact = "a".repeat(MAX_STRING);
        let mut out = String::new();
        write_string(&mut out, &exact, MAX_STRING);
        assert_eq!(parse_string(&out).unwrap().0, exact);
        HeaderValue::try_from(out).unwrap();
    }

    /// RFC 9209 §2.3.15: `alert-message` is the registry's description,
    /// which a TLS library's names are not, case aside.
    #[test]
    fn alert_messages_are_the_tls_alerts_registrys() {
        for (id, message) in [
            (40, "handshake_failure"),
            (48, "unknown_ca"),
            (52, "too_many_cids_requested"),
            (112, "unrecognized_name"),
            (113, "bad_certificate_status_response"),
            (115, "unknown_psk_identity"),
            (120, "no_application_protocol"),
            (121, "ech_required"),
            (100, "no_renegotiation_RESERVED"),
        ] {
            assert_eq!(alert_message(id), Some(message), "{id}");
        }
        for id in [1, 53, 118, 122, 255] {
            assert_eq!(alert_message(id), None, "{id}");
        }
    }

    /// Every alert rustls knows has its name in the table.
    #[cfg(feature = "rustls")]
    #[test]
    fn every_alert_rustls_knows_is_named() {
        for id in 0..=u8::MAX {
            let alert = rustls::AlertDescription::from(id);
            if !matches!(alert, rustls::AlertDescription::Unknown(_)) {
                assert!(alert_message(id).is_some(), "{alert:?} ({id})");
            }
        }
    }

    #[test]
    fn names_are_tokens_or_strings() {
        assert_eq!(serialize_name("tower-problem"), "tower-problem");
        assert_eq!(
            serialize_name("proxy.example.com:8080/a"),
            "proxy.example.com:8080/a"
        );
        assert_eq!(serialize_name("*star"), "*star");
        assert_eq!(serialize_name("1proxy"), "\"1proxy\"");
        assert_eq!(serialize_name("my proxy"), "\"my proxy\"");
        assert_eq!(serialize_name(""), "\"\"");
        assert_eq!(serialize_name("a\"b"), "\"a\\\"b\"");
        assert_eq!(serialize_name("é"), "\"?\"");
        for input in HOSTILE {
            let name = serialize_name(input);
            let value = member(
                &name,
                &Params {
                    error: Some("connection_refused"),
                    details: Some(input),
                    next_hop: Some(input),
                    received_status: Some(StatusCode::SERVICE_UNAVAILABLE),
                    alert: Some(40),
                },
            );
            assert!(value.to_str().is_ok());
        }
    }

    #[test]
    fn a_member_with_every_parameter() {
        let value = member(
            "tower-problem",
            &Params {
                error: Some("http_protocol_error"),
                details: Some("invalid \"status\""),
                next_hop: Some("backend:8080"),
                received_status: None,
                alert: None,
            },
        );
        assert_eq!(
            value,
            r#"tower-problem; error=http_protocol_error; next-hop="backend:8080"; details="invalid \"status\"""#
        );
        let value = member(
            "tower-problem",
            &Params {
                error: Some("tls_alert_received"),
                alert: Some(70),
                ..Params::default()
            },
        );
        assert_eq!(
            value,
            r#"tower-problem; error=tls_alert_received; alert-id=70; alert-message="protocol_version""#
        );
        // An alert the registry does not name: its id alone.
        let value = member(
            "tower-problem",
            &Params {
                error: Some("tls_alert_received"),
                alert: Some(255),
                ..Params::default()
            },
        );
        assert_eq!(
            value,
            "tower-problem; error=tls_alert_received; alert-id=255"
        );
        let value = member(
            "tower-problem",
            &Params {
                received_status: Some(StatusCode::SERVICE_UNAVAILABLE),
                ..Params::default()
            },
        );
        assert_eq!(value, "tower-problem; received-status=503");
    }
}
