//! An exact, allocation-free checker of RFC 3986's `URI-reference` (§4.1),
//! for the `type` and `instance` members.
//!
//! ```text
//! URI-reference = URI / relative-ref
//! URI           = scheme ":" hier-part [ "?" query ] [ "#" fragment ]
//! relative-ref  = relative-part [ "?" query ] [ "#" fragment ]
//! hier-part     = "//" authority path-abempty / path-absolute / path-rootless / path-empty
//! relative-part = "//" authority path-abempty / path-absolute / path-noscheme / path-empty
//! ```
//!
//! The grammar is checked in one pass over the bytes, using what its parts
//! cannot hold to find where each ends: a path, a query and a fragment never
//! hold `#`, a path and an authority never `?`, an authority never `/`, a
//! userinfo and a host never `@`, a host other than an IP literal never `:`.
//! RFC 6874's zone identifiers (`[fe80::1%25eth0]`) are not RFC 3986 and are
//! refused.

use std::fmt;

/// Why a string is not a URI reference, and the byte where it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct UriError {
    at: usize,
    reason: Reason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    /// A character no part of a URI may hold: space, a control, non-ASCII,
    /// or one of `"<>\^`{|}`.
    Forbidden,
    /// `%` not followed by two hex digits.
    PercentEncoding,
    /// A character the part it is in may not hold.
    NotAllowedIn(Part),
    /// `:` in the first segment of a relative reference, whose start is
    /// not a scheme.
    ColonInFirstSegment,
    /// `[..]` holding neither an IPv6 address nor an IPvFuture.
    IpLiteral,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Userinfo,
    Host,
    Port,
    Path,
    Query,
    Fragment,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Self::Userinfo => "userinfo",
            Self::Host => "host",
            Self::Port => "port",
            Self::Path => "path",
            Self::Query => "query",
            Self::Fragment => "fragment",
        }
    }
}

impl UriError {
    const fn new(at: usize, reason: Reason) -> Self {
        Self { at, reason }
    }

    /// Writes why `uri`, the string that was checked, was refused.
    pub(super) fn describe(&self, uri: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.at;
        // `at` is always a char boundary: bytes before a refused one are ASCII.
        let c = uri.get(at..).and_then(|rest| rest.chars().next());
        let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
        match self.reason {
            Reason::Forbidden => write!(f, "{c:?} at byte {at} is not allowed in a URI"),
            Reason::PercentEncoding => {
                write!(f, "'%' at byte {at} is not followed by two hex digits")
            }
            Reason::NotAllowedIn(part) => {
                write!(
                    f,
                    "{c:?} at byte {at} is not allowed in the {}",
                    part.name()
                )
            }
            Reason::ColonInFirstSegment => write!(
                f,
                "':' at byte {at} ends no valid scheme, and a relative reference \
                 may not have one in its first segment"
            ),
            Reason::IpLiteral => write!(
                f,
                "the IP literal at byte {at} is neither an IPv6 address nor an IPvFuture"
            ),
        }
    }
}

/// Checks that `s` is an RFC 3986 `URI-reference`.
pub(super) fn check_uri_reference(s: &str) -> Result<(), UriError> {
    let b = s.as_bytes();
    // Characters that no part may hold first: the clearest message.
    if let Some(at) = b.iter().position(|&c| !is_uri_char(c)) {
        return Err(UriError::new(at, Reason::Forbidden));
    }
    let scheme = scheme_len(b);
    let start = scheme.map_or(0, |len| len + 1);
    let end = find(b, start, b.len(), |c| c == b'?' || c == b'#');

    if b[start..end].starts_with(b"//") {
        let authority_end = find(b, start + 2, end, |c| c == b'/');
        check_authority(b, start + 2, authority_end)?;
        check_run(b, authority_end, end, is_path_char, Part::Path)?;
    } else {
        let mut rest = start;
        if scheme.is_none() {
            // path-noscheme: its first segment cannot hold ':'.
            let segment_end = find(b, start, end, |c| c == b'/');
            let colon = find(b, start, segment_end, |c| c == b':');
            check_run(b, start, colon, is_path_char, Part::Path)?;
            if colon < segment_end {
                return Err(UriError::new(colon, Reason::ColonInFirstSegment));
            }
            rest = colon;
        }
        check_run(b, rest, end, is_path_char, Part::Path)?;
    }

    let mut at = end;
    if b.get(at) == Some(&b'?') {
        let query_end = find(b, at + 1, b.len(), |c| c == b'#');
        check_run(b, at + 1, query_end, is_query_char, Part::Query)?;
        at = query_end;
    }
    if b.get(at) == Some(&b'#') {
        check_run(b, at + 1, b.len(), is_query_char, Part::Fragment)?;
    }
    Ok(())
}

/// The length of `scheme` when `b` starts with `scheme ":"`.
fn scheme_len(b: &[u8]) -> Option<usize> {
    let (first, rest) = b.split_first()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let len = 1 + rest
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        .count();
    (b.get(len) == Some(&b':')).then_some(len)
}

/// `authority = [ userinfo "@" ] host [ ":" port ]`, in `b[start..end]`.
fn check_authority(b: &[u8], start: usize, end: usize) -> Result<(), UriError> {
    let mut host = start;
    let at_sign = find(b, start, end, |c| c == b'@');
    if at_sign < end {
        check_run(b, start, at_sign, is_userinfo_char, Part::Userinfo)?;
        host = at_sign + 1;
    }

    let host_end = if host < end && b[host] == b'[' {
        let close = find(b, host, end, |c| c == b']');
        if close == end || !is_ip_literal(&b[host + 1..close]) {
            return Err(UriError::new(host, Reason::IpLiteral));
        }
        let after = close + 1;
        if after < end && b[after] != b':' {
            return Err(UriError::new(after, Reason::NotAllowedIn(Part::Host)));
        }
        after
    } else {
        // reg-name, which IPv4address is a subset of.
        let host_end = find(b, host, end, |c| c == b':');
        check_run(b, host, host_end, is_reg_name_char, Part::Host)?;
        host_end
    };

    if host_end < end {
        let port = host_end + 1;
        if let Some(bad) = b[port..end].iter().position(|c| !c.is_ascii_digit()) {
            return Err(UriError::new(port + bad, Reason::NotAllowedIn(Part::Port)));
        }
    }
    Ok(())
}

/// `IP-literal` without its brackets: `IPv6address / IPvFuture`.
fn is_ip_literal(s: &[u8]) -> bool {
    match s.split_first() {
        Some((b'v' | b'V', rest)) => is_ipv_future(rest),
        _ => is_ipv6(s),
    }
}

/// `IPvFuture` after its `v`: `1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`.
fn is_ipv_future(s: &[u8]) -> bool {
    let version = s.iter().take_while(|c| c.is_ascii_hexdigit()).count();
    match s[version..].split_first() {
        Some((b'.', rest)) if version > 0 && !rest.is_empty() => rest
            .iter()
            .all(|&c| is_unreserved(c) || is_sub_delim(c) || c == b':'),
        _ => false,
    }
}

/// `IPv6address`: the nine alternatives of RFC 3986 §3.2.2 come to eight
/// 16-bit pieces without `::`, at most seven around one `::`, and an IPv4
/// address only as the last two pieces.
fn is_ipv6(s: &[u8]) -> bool {
    let double = s.windows(2).position(|w| w == b"::");
    match double {
        None => pieces(s, true) == Some(8),
        Some(p) => {
            let before = &s[..p];
            let after = &s[p + 2..];
            let before = if before.is_empty() {
                Some(0)
            } else {
                pieces(before, false)
            };
            let after = if after.is_empty() {
                Some(0)
            } else {
                pieces(after, true)
            };
            matches!((before, after), (Some(x), Some(y)) if x + y <= 7)
        }
    }
}

/// The 16-bit pieces of `h16 *( ":" h16 )`, whose last may be an IPv4
/// address (two pieces) when `ipv4_last`; `None` if `s` is not that.
fn pieces(s: &[u8], ipv4_last: bool) -> Option<usize> {
    let mut count = 0;
    let mut parts = s.split(|&c| c == b':').peekable();
    while let Some(part) = parts.next() {
        if (1..=4).contains(&part.len()) && part.iter().all(u8::is_ascii_hexdigit) {
            count += 1;
        } else if ipv4_last && parts.peek().is_none() && is_ipv4(part) {
            count += 2;
        } else {
            return None;
        }
    }
    Some(count)
}

/// `IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet`.
fn is_ipv4(s: &[u8]) -> bool {
    let mut octets = 0;
    for octet in s.split(|&c| c == b'.') {
        octets += 1;
        // dec-octet: 0 to 255, without leading zeros.
        let ok = matches!(octet.len(), 1..=3)
            && octet.iter().all(u8::is_ascii_digit)
            && (octet.len() == 1 || octet[0] != b'0')
            && octet
                .iter()
                .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'))
                <= 255;
        if !ok || octets > 4 {
            return false;
        }
    }
    octets == 4
}

/// Checks `b[start..end]`: each byte `allowed` or part of a `%HH`.
fn check_run(
    b: &[u8],
    start: usize,
    end: usize,
    allowed: fn(u8) -> bool,
    part: Part,
) -> Result<(), UriError> {
    let mut i = start;
    while i < end {
        let c = b[i];
        if c == b'%' {
            if i + 2 >= end || !b[i + 1].is_ascii_hexdigit() || !b[i + 2].is_ascii_hexdigit() {
                return Err(UriError::new(i, Reason::PercentEncoding));
            }
            i += 3;
        } else if allowed(c) {
            i += 1;
        } else {
            return Err(UriError::new(i, Reason::NotAllowedIn(part)));
        }
    }
    Ok(())
}

/// The index of the first byte of `b[start..end]` that `stop`, or `end`.
fn find(b: &[u8], start: usize, end: usize, stop: impl Fn(u8) -> bool) -> usize {
    b[start..end]
        .iter()
        .position(|&c| stop(c))
        .map_or(end, |p| start + p)
}

/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`
fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// `sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="`
fn is_sub_delim(c: u8) -> bool {
    matches!(
        c,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// `gen-delims = ":" / "/" / "?" / "#" / "[" / "]" / "@"`
fn is_gen_delim(c: u8) -> bool {
    matches!(c, b':' | b'/' | b'?' | b'#' | b'[' | b']' | b'@')
}

/// A character some part of a URI may hold (with `%` for `pct-encoded`).
fn is_uri_char(c: u8) -> bool {
    is_unreserved(c) || is_sub_delim(c) || is_gen_delim(c) || c == b'%'
}

/// `pchar` but `pct-encoded`.
fn is_pchar(c: u8) -> bool {
    is_unreserved(c) || is_sub_delim(c) || matches!(c, b':' | b'@')
}

/// A path's segments and the `/` between them.
fn is_path_char(c: u8) -> bool {
    is_pchar(c) || c == b'/'
}

/// `query` and `fragment`: `*( pchar / "/" / "?" )`.
fn is_query_char(c: u8) -> bool {
    is_pchar(c) || matches!(c, b'/' | b'?')
}

fn is_userinfo_char(c: u8) -> bool {
    is_unreserved(c) || is_sub_delim(c) || c == b':'
}

fn is_reg_name_char(c: u8) -> bool {
    is_unreserved(c) || is_sub_delim(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) {
        assert_eq!(check_uri_reference(s), Ok(()), "{s:?} should be accepted");
    }

    fn refused(s: &str, at: usize, reason: Reason) {
        assert_eq!(
            check_uri_reference(s),
            Err(UriError::new(at, reason)),
            "{s:?}"
        );
    }

    fn message(s: &str) -> String {
        struct Message<'a>(&'a str, UriError);
        impl fmt::Display for Message<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.1.describe(self.0, f)
            }
        }
        Message(s, check_uri_reference(s).unwrap_err()).to_string()
    }

    use Part::*;
    use Reason::*;

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
        refused("//a@b@c", 5, NotAllowedIn(Host));
        refused("//us[er@host", 4, NotAllowedIn(Userinfo));
        refused("//host:8x", 8, NotAllowedIn(Port));
        refused("//host:80:81", 9, NotAllowedIn(Port));
        refused("//ho[st", 4, NotAllowedIn(Host));
        refused("//host]", 6, NotAllowedIn(Host));
        refused("//[::1]x", 7, NotAllowedIn(Host));
        refused("//[::1", 2, IpLiteral);
        refused("//[]", 2, IpLiteral);
        refused("//u@[]", 4, IpLiteral);
        refused("//%zz", 2, PercentEncoding);
        refused("//u%4@h", 3, PercentEncoding);
        refused("//h:%38", 4, NotAllowedIn(Port));
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
            refused(&format!("//[{bad}]"), 2, IpLiteral);
        }
        for good in [
            "::1.2.3.4",
            "::255.255.255.255",
            "::0.0.0.0",
            "::10.99.100.249",
        ] {
            ok(&format!("//[{good}]"));
        }
    }

    #[test]
    fn paths_queries_and_fragments() {
        refused("1a:b", 2, ColonInFirstSegment);
        refused("a/b%2:c", 3, PercentEncoding);
        refused("1http://example.com", 5, ColonInFirstSegment);
        refused("-x:y", 2, ColonInFirstSegment);
        refused(":", 0, ColonInFirstSegment);
        refused(":x", 0, ColonInFirstSegment);
        refused("/a[b", 2, NotAllowedIn(Path));
        refused("x:a]b", 3, NotAllowedIn(Path));
        refused("//h/a[b", 5, NotAllowedIn(Path));
        refused("?a[", 2, NotAllowedIn(Query));
        refused("x:?]", 3, NotAllowedIn(Query));
        refused("#a#b", 2, NotAllowedIn(Fragment));
        refused("x:#[", 3, NotAllowedIn(Fragment));
        refused("a%", 1, PercentEncoding);
        refused("a%4", 1, PercentEncoding);
        refused("a%4g", 1, PercentEncoding);
        refused("a%4/b", 1, PercentEncoding);
        refused("a%?41", 1, PercentEncoding);
        refused("?%4#1", 1, PercentEncoding);
        refused("#%", 1, PercentEncoding);
        refused("x:%", 2, PercentEncoding);
        refused("%x:", 0, PercentEncoding);
    }

    #[test]
    fn schemes() {
        refused("h%74tp://x", 6, ColonInFirstSegment);
        refused("ht~tp:x", 5, ColonInFirstSegment);
        refused("+x:y", 2, ColonInFirstSegment);
        ok("h+t-t.p://x");
        ok("./h~ttp:x");
        ok("HTTPS://EXAMPLE.COM");
    }

    #[test]
    fn characters_no_uri_holds() {
        for (s, at) in [
            (" ", 0),
            ("https://example.com/a b", 21),
            ("https://example.com/\t", 20),
            ("a\nb", 1),
            ("\0", 0),
            ("\x7f", 0),
            ("x:\"", 2),
            ("<x>", 0),
            ("x>", 1),
            ("\\", 0),
            ("^", 0),
            ("`", 0),
            ("{", 0),
            ("|", 0),
            ("}", 0),
            ("/caf\u{e9}", 4),
            ("/\u{1f980}", 1),
            ("//h\u{ff0f}x", 3),
            ("#\u{2028}", 1),
        ] {
            refused(s, at, Forbidden);
        }
        for byte in 0..=u8::MAX {
            let allowed =
                byte.is_ascii_alphanumeric() || br#"-._~:/?#[]@!$&'()*+,;=%"#.contains(&byte);
            assert_eq!(is_uri_char(byte), allowed, "{byte:#x}");
        }
    }

    #[test]
    fn messages_say_what_and_where() {
        assert_eq!(
            message("https://example.com/a b"),
            "' ' at byte 21 is not allowed in a URI"
        );
        assert_eq!(
            message("/caf\u{e9}"),
            "'é' at byte 4 is not allowed in a URI"
        );
        assert_eq!(message("a\u{0}"), "'\\0' at byte 1 is not allowed in a URI");
        assert_eq!(
            message("a%4g"),
            "'%' at byte 1 is not followed by two hex digits"
        );
        assert_eq!(
            message("//host:8x"),
            "'x' at byte 8 is not allowed in the port"
        );
        assert_eq!(
            message("#a#b"),
            "'#' at byte 2 is not allowed in the fragment"
        );
        assert_eq!(
            message("1http://example.com"),
            "':' at byte 5 ends no valid scheme, and a relative reference may not have one in its first segment"
        );
        assert_eq!(
            message("//[::1::]"),
            "the IP literal at byte 2 is neither an IPv6 address nor an IPvFuture"
        );
    }
}
