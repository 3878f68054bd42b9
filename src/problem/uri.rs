//! The check of the `type` and `instance` members: RFC 9457 §3.1.1 and
//! §3.1.5 ask for a URI reference (RFC 3986 §4.1, relative ones
//! included), which fluent-uri's `UriRef` parses exactly.

use fluent_uri::{ParseError, ParseErrorKind, UriRef};

/// Checks that `s` is an RFC 3986 `URI-reference`.
pub(super) fn check_uri_reference(s: &str) -> Result<(), ParseError> {
    UriRef::parse(s).map(drop)
}

/// Why fluent-uri refused a URI reference; [`ParseError::index`] says where.
pub(super) fn reason(err: &ParseError) -> &'static str {
    match err.kind() {
        ParseErrorKind::InvalidPctEncodedOctet => "invalid percent-encoded octet",
        ParseErrorKind::UnexpectedChar => "unexpected character",
        ParseErrorKind::InvalidIpv6Addr => "invalid IPv6 address",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) {
        assert_eq!(check_uri_reference(s), Ok(()), "{s:?} should be accepted");
    }

    fn refused(s: &str) -> ParseError {
        check_uri_reference(s).expect_err(s)
    }

    #[test]
    fn absolute_uris() {
        for s in [
            "https://example.com/p#x",
            "about:blank",
            "urn:x",
            "urn:ietf:rfc:9457",
            "mailto:someone@example.com",
            "tel:+1-201-555-0123",
            "http:",
            "http:/",
            "http://",
            "http:///path",
            "a:",
            "A+b-c.d9:x",
            "https://example.com/problems/out-of-credit",
            "https://example.com:8443/a/b/c/?q=1&r=two;s#frag/ment?",
            "ftp://ftp.is.co.za/rfc/rfc1808.txt",
            "ldap://[2001:db8::7]/c=GB?objectClass?one",
            "news:comp.infosystems.www.servers.unix",
            "telnet://192.0.2.16:80/",
            "urn:oasis:names:specification:docbook:dtd:xml:4.1.2",
            "x:%41%7a%7A",
            "x:!$&'()*+,;=:@",
            "x:a//b",
            "h+t-t.p://x",
            "HTTPS://EXAMPLE.COM",
        ] {
            ok(s);
        }
    }

    #[test]
    fn relative_references() {
        for s in [
            "",
            "/problems/x",
            "#frag",
            "x?y",
            "?",
            "#",
            "?#",
            "/",
            ".",
            "..",
            "./a:b",
            "./h~ttp:x",
            "a/b:c",
            "/a:b",
            "//example.com",
            "//example.com/a?b#c",
            "//",
            "//@",
            "g;x?y#s",
            "../../g",
            "a%20b",
            "x?a/b?c:d@e",
            "#a/b?c:d@e!$&'()*+,;=",
            "~user/._-",
        ] {
            ok(s);
        }
    }

    #[test]
    fn authorities() {
        for s in [
            "//user@host",
            "//user:pass@host:80",
            "//u%20ser:p:a:s:s@host",
            "//:@:",
            "//host:",
            "//host:65536",
            "//host:000123",
            "//[::1]",
            "//[::1]:8080",
            "//[::]",
            "//[1:2:3:4:5:6:7:8]",
            "//[1:2:3:4:5:6:1.2.3.4]",
            "//[::ffff:192.0.2.1]",
            "//[1::]",
            "//[1:2:3:4:5:6:7::]",
            "//[::2:3:4:5:6:7:8]",
            "//[1::2:3:4:5:6:7]",
            "//[1:2:3:4:5::1.2.3.4]",
            "//[abcd:EF01::]",
            "//[::1.2.3.4]",
            "//[::255.255.255.255]",
            "//[v1.x]",
            "//[V1F.a:b!$]",
            "//192.0.2.1",
            "//999.999.999.999",
            "//1.2.3",
            "//ex%41mple.com",
            "//!$&'()*+,;=-._~",
            "x://host",
        ] {
            ok(s);
        }
        for s in [
            "//a@b@c",
            "//us[er@host",
            "//host:8x",
            "//host:80:81",
            "//ho[st",
            "//host]",
            "//[::1]x",
            "//[::1",
            "//[]",
            "//u@[]",
            "//%zz",
            "//u%4@h",
            "//h:%38",
        ] {
            refused(s);
        }
    }

    #[test]
    fn ip_literals() {
        for bad in [
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::8",
            "1::2::3",
            ":::",
            ":1::",
            "1::2:",
            ":1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:",
            "12345::",
            "g::",
            "::1.2.3",
            "::1.2.3.4.5",
            "::1.2.3.256",
            "::01.2.3.4",
            "::1.2.3.4:1",
            "1.2.3.4::",
            "1:2:3:4:5:6:7:1.2.3.4",
            "1:2:3:4:5:6::1.2.3.4",
            "1.2.3.4",
            // RFC 6874's zone identifiers are not RFC 3986.
            "::1%25eth0",
            "fe80::1%eth0",
            "v",
            "v1",
            "v1.",
            "v.x",
            "vg.x",
            "v1.x/y",
            "v1.x%20",
            "host",
        ] {
            refused(&format!("//[{bad}]"));
        }
    }

    #[test]
    fn paths_queries_fragments_and_schemes() {
        for s in [
            // `:` in the first segment of a relative reference: no scheme
            // before it.
            "1a:b",
            "1http://example.com",
            "-x:y",
            ":",
            ":x",
            "h%74tp://x",
            "ht~tp:x",
            "+x:y",
            "/a[b",
            "x:a]b",
            "//h/a[b",
            "?a[",
            "x:?]",
            "#a#b",
            "x:#[",
            "a/b%2:c",
            "a%",
            "a%4",
            "a%4g",
            "a%4/b",
            "a%?41",
            "?%4#1",
            "#%",
            "x:%",
            "%x:",
        ] {
            refused(s);
        }
    }

    #[test]
    fn characters_no_uri_holds() {
        let alphabet = br#"-._~:/?#[]@!$&'()*+,;=%"#;
        for byte in (0..0x80u8).filter(|b| !b.is_ascii_alphanumeric() && !alphabet.contains(b)) {
            let c = char::from(byte);
            for s in [
                format!("{c}"),
                format!("x:a{c}b"),
                format!("//h{c}/"),
                format!("/a?{c}"),
                format!("#{c}"),
            ] {
                refused(&s);
            }
        }
        for s in [
            "/caf\u{e9}",
            "/\u{1f980}",
            "//h\u{ff0f}x",
            "#\u{2028}",
            "x:\u{80}",
        ] {
            refused(s);
        }
    }

    #[test]
    fn the_reason_and_the_byte_are_fluent_uris() {
        for (s, at, why) in [
            ("https://example.com/a b", 21, "unexpected character"),
            ("/caf\u{e9}", 4, "unexpected character"),
            ("a%4g", 1, "invalid percent-encoded octet"),
            ("//[::1::]", 3, "invalid IPv6 address"),
        ] {
            let err = refused(s);
            assert_eq!((err.index(), reason(&err)), (at, why), "{s:?}");
        }
    }
}
