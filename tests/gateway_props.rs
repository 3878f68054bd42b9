//! Property tests of every user string that can reach a header or a `type`
//! URI: the gateway's proxy name, the opt-in `Proxy-Status` `details` (an
//! upstream error's `Display` chain) and `next-hop` (the request URI's
//! authority), the request id, and the `type_base` of both layers (any URI
//! reference; one that is not is refused at set-up, which a test here
//! shows too).
//!
//! Whatever the strings, the layers never panic, every header is a valid
//! field value of printable ASCII, `Proxy-Status` parses as an RFC 9651
//! List whose first member is the proxy name with `error=` a token, and the
//! problem body parses as JSON with the expected members.
//!
//! Driven through the public API with `oneshot`; no sockets.

mod gateway_support;

use std::error::Error as StdError;
use std::fmt;

use bytes::Bytes;
use gateway_support::{oneshot, parse_list};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use proptest::prelude::*;
use serde_json::Value;
use tower::{service_fn, ServiceBuilder};
use tower_problem::app::AppErrorLayer;
use tower_problem::gateway::{GatewayErrorLayer, RequestBody};

/// The longest sf-string the gateway writes, in characters, before `...`.
const MAX_STRING: usize = 1024;

// ---------------------------------------------------------------------------
// Strategies

/// Characters that need care in structured fields, JSON and HTTP headers.
const TRICKY: &[char] = &[
    '"', '\\', ',', ';', '=', ' ', '\t', '\r', '\n', '\0', '\x7f', '\u{80}', '\u{ff}', 'é',
    '\u{2028}', '\u{feff}', '🦀', '*', ':', '/', '?', '%',
];

fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        3 => proptest::sample::select(TRICKY),
        4 => proptest::char::range(' ', '~'),
    ]
}

/// Any string, biased to tricky characters; sometimes past the 1 KiB cut.
fn user_string() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::collection::vec(tricky_char(), 0..40),
        1 => proptest::collection::vec(tricky_char(), 1000..1100),
    ]
    .prop_map(|chars| chars.into_iter().collect())
}

/// A proxy name: often a valid sf-token, else anything.
fn proxy_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z*][a-zA-Z0-9!#$%&'*+.^_`|~:/-]{0,30}", user_string(),]
}

/// Authority-like text; those that do not parse into a URI are not
/// reachable and fall back to a plain host.
fn authority() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.:@%_~!$&'()*+,;=\\[\\]-]{1,40}"
}

// ---------------------------------------------------------------------------
// Models

/// What an sf-string of `s` must read back as: non-printable-ASCII
/// characters replaced by `?`, cut at [`MAX_STRING`] characters then `...`.
/// What an sf-string of `s` decodes to: at most `MAX_STRING` characters
/// (RFC 9651 §3.3.3), a longer `s` cut to leave room for `...`.
fn sf_text(s: &str) -> String {
    let cut = s.chars().count() > MAX_STRING;
    let keep = if cut { MAX_STRING - 3 } else { MAX_STRING };
    let mut out: String = s
        .chars()
        .take(keep)
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect();
    if cut {
        out.push_str("...");
    }
    out
}

fn is_sf_token(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'*')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&b))
}

/// An error whose `Display` is any string, with an optional source.
#[derive(Debug)]
struct TextError {
    text: String,
    source: Option<Box<TextError>>,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl StdError for TextError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

/// Asserts that every header is a valid field value of printable ASCII.
fn assert_headers_valid<B>(res: &Response<B>) {
    for (name, value) in res.headers() {
        assert!(
            value.as_bytes().iter().all(|b| (0x20..=0x7e).contains(b)),
            "{name}: {value:?}"
        );
        assert!(value.to_str().is_ok());
        // What a peer would parse back.
        http::HeaderValue::from_bytes(value.as_bytes()).expect("a valid header value");
    }
}

async fn body_json<B>(body: B) -> Value
where
    B: http_body::Body,
    B::Error: fmt::Debug,
{
    json_of(&body.collect().await.expect("a complete body").to_bytes())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): {}",
            String::from_utf8_lossy(bytes).escape_debug()
        )
    })
}

// ---------------------------------------------------------------------------
// The gateway

#[derive(Debug)]
struct GatewayCase {
    name: String,
    error: String,
    cause: Option<String>,
    authority: String,
    type_base: String,
    request_id: String,
}

/// A start of `type` URIs that the layers take: a URI reference ending
/// where a token can follow (a base that is neither is refused when the
/// layer is set up).
fn type_base() -> impl Strategy<Value = String> {
    "(https?://[a-z0-9.-]{1,20}(:[0-9]{1,5})?/)?(/[A-Za-z0-9._~!$&'()*+,;=:@-]{1,10}|/%[0-9A-F]{2}){0,3}([/#]|[?]kind=)"
}

fn gateway_case() -> impl Strategy<Value = GatewayCase> {
    (
        proxy_name(),
        user_string(),
        proptest::option::of(user_string()),
        authority(),
        type_base(),
        user_string(),
    )
        .prop_map(
            |(name, error, cause, authority, type_base, request_id)| GatewayCase {
                name,
                error,
                cause,
                authority,
                type_base,
                request_id,
            },
        )
}

async fn check_gateway(case: GatewayCase) {
    let error_text = case.error.clone();
    let cause_text = case.cause.clone();
    let inner = service_fn(move |_req: Request<RequestBody<Full<Bytes>>>| {
        let error = TextError {
            text: error_text.clone(),
            source: cause_text
                .clone()
                .map(|text| Box::new(TextError { text, source: None })),
        };
        async move { Err::<Response<Full<Bytes>>, _>(error) }
    });
    let layer = GatewayErrorLayer::new()
        .proxy_name(case.name.clone())
        .proxy_status_details(true)
        .proxy_status_next_hop(true)
        .expose_details(true)
        .type_base(case.type_base.clone());
    let svc = ServiceBuilder::new().layer(layer).service(inner);

    let uri: http::Uri = format!("http://{}/p", case.authority)
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("http://upstream.example/p"));
    let next_hop = uri.authority().expect("an authority").as_str().to_owned();
    let mut req = Request::get(uri).body(Full::<Bytes>::default()).unwrap();
    // Any bytes a header value may hold; those that are not one are skipped.
    let request_id = http::HeaderValue::from_bytes(case.request_id.as_bytes()).ok();
    if let Some(id) = &request_id {
        req.headers_mut().insert("x-request-id", id.clone());
    }

    let res: Response<_> = oneshot(svc, req).await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert_headers_valid(&res);

    // Proxy-Status: one member, the proxy name, `error` a token.
    let value = res.headers()["proxy-status"].to_str().unwrap().to_owned();
    let members = parse_list(&value).unwrap_or_else(|e| panic!("{e}: {value}"));
    assert_eq!(members.len(), 1, "{value}");
    let member = &members[0];
    if is_sf_token(&case.name) {
        assert!(value.starts_with(&case.name), "{value}");
        assert_eq!(member.name, case.name);
    } else {
        assert!(value.starts_with('"'), "{value}");
        assert_eq!(member.name, sf_text(&case.name));
    }
    let kind = member.token("error").expect("error= a token").to_owned();
    assert!(is_sf_token(&kind), "{kind}");
    let mut chain = case.error.clone();
    if let Some(cause) = &case.cause {
        chain.push_str(": ");
        chain.push_str(cause);
    }
    assert_eq!(member.string("details"), Some(sf_text(&chain).as_str()));
    assert_eq!(member.string("next-hop"), Some(sf_text(&next_hop).as_str()));
    // The length is the body's exact size, which a server states.
    assert!(!res.headers().contains_key("content-length"));
    let exact = http_body::Body::size_hint(res.body()).exact();

    // The body: JSON, with the type URI and the whole chain as given.
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(Some(bytes.len() as u64), exact);
    let problem = json_of(&bytes);
    assert_eq!(problem["kind"], kind.as_str());
    assert_eq!(problem["status"], 502);
    assert_eq!(problem["type"], format!("{}{kind}", case.type_base));
    assert_eq!(problem["detail"], chain.as_str());
    match request_id.as_ref().and_then(|id| id.to_str().ok()) {
        Some(id) => assert_eq!(problem["request_id"], id),
        None => assert!(problem.get("request_id").is_none(), "{problem}"),
    }
}

// ---------------------------------------------------------------------------
// The app layer

async fn check_app(type_base: String, message: String, panics: bool) {
    let message_for_inner = message.clone();
    let inner = service_fn(move |_req: Request<Full<Bytes>>| {
        let message = message_for_inner.clone();
        async move {
            if panics {
                std::panic::panic_any(message);
            }
            Err::<Response<Full<Bytes>>, _>(TextError {
                text: message,
                source: None,
            })
        }
    });
    let layer = AppErrorLayer::new()
        .type_base(type_base.clone())
        .expose_details(true);
    let svc = ServiceBuilder::new().layer(layer).service(inner);
    let res = oneshot(svc, Request::get("/").body(Full::default()).unwrap()).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_headers_valid(&res);
    let problem = body_json(res.into_body()).await;
    let kind = if panics { "panic" } else { "handler_error" };
    assert_eq!(problem["kind"], kind);
    assert_eq!(problem["type"], format!("{type_base}{kind}"));
    let detail = problem["detail"].as_str().expect("a detail");
    assert!(detail.contains(message.as_str()), "{detail:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn gateway_strings_never_break_a_header_or_the_body(case in gateway_case()) {
        runtime().block_on(check_gateway(case));
    }

    #[test]
    fn app_type_base_and_details_never_break_the_response(
        type_base in type_base(),
        message in user_string(),
        panics in any::<bool>(),
    ) {
        tower_problem::app::panic_hook::install();
        runtime().block_on(check_app(type_base, message, panics));
    }
}

#[test]
fn a_type_base_that_makes_no_uri_is_refused_at_set_up() {
    for base in ["https://example.com/my problems/", "/p\"q/", "/%zz/", "é/"] {
        let app =
            std::panic::catch_unwind(|| tower_problem::app::AppErrorLayer::new().type_base(base));
        assert!(app.is_err(), "{base:?}");
        let gateway = std::panic::catch_unwind(|| GatewayErrorLayer::new().type_base(base));
        assert!(gateway.is_err(), "{base:?}");
    }
}
