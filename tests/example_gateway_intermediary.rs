//! The example gateway's duties as an HTTP intermediary (RFC 9110 §7.6,
//! §8.6), each tried over loopback against a hyper upstream that records
//! what reaches it: the fields RFC 2616 called hop-by-hop and RFC 9110 does
//! not (`Trailer`, `Proxy-Authenticate`, `Proxy-Authorization`) forwarded,
//! no `Content-Length` in a 204, `Via` on every forwarded request, and
//! `TRACE` and `Max-Forwards` answered as a proxy must; the fields of one
//! hop (RFC 9110 §7.6.1) go no further, and none crosses into HTTP/2 (RFC
//! 9113 §8.2.2).

mod example_support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{Empty, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};

use example_support::{answer_to, Example};

/// Each request the upstream received: its method and headers.
type Seen = Arc<Mutex<Vec<(Method, HeaderMap)>>>;

type UpstreamBody =
    StreamBody<futures_util::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

/// The upstream's answer to `path`.
fn upstream_answer(path: &str) -> Response<UpstreamBody> {
    let body = |frames: Vec<Frame<Bytes>>| {
        StreamBody::new(futures_util::stream::iter(
            frames.into_iter().map(Ok).collect::<Vec<_>>(),
        ))
    };
    let ok = || Frame::data(Bytes::from_static(b"ok"));
    match path {
        // A 204 that states its length, which hyper's server sends in
        // answer to a `HEAD`, and over HTTP/2, its stream ended by a frame
        // of its own after the head (the body is a stream).
        "/no-content" => Response::builder()
            .status(StatusCode::NO_CONTENT)
            .header(header::CONTENT_LENGTH, "0")
            .body(body(Vec::new())),
        "/trailers" => {
            let mut trailers = HeaderMap::new();
            trailers.insert("x-checksum", HeaderValue::from_static("abc"));
            Response::builder()
                .header(header::TRAILER, "x-checksum")
                .body(body(vec![ok(), Frame::trailers(trailers)]))
        }
        "/proxy-auth" => Response::builder()
            .status(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
            .header(header::PROXY_AUTHENTICATE, r#"Basic realm="upstream""#)
            .body(body(Vec::new())),
        // Fields for this hop alone, and one that `Connection` names.
        "/hop-by-hop" => Response::builder()
            .header(header::CONNECTION, "keep-alive, x-hop")
            .header("keep-alive", "timeout=5")
            .header("proxy-connection", "keep-alive")
            .header(header::UPGRADE, "example/1")
            .header("x-hop", "1")
            .header("x-end", "1")
            .body(body(vec![ok()])),
        _ => Response::builder().body(body(vec![ok()])),
    }
    .unwrap()
}

/// A hyper upstream, HTTP/1.1 and h2c, answering [`upstream_answer`] and
/// keeping what it receives.
async fn upstream() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = Arc::clone(&record);
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let res = upstream_answer(req.uri().path());
                let (parts, _) = req.into_parts();
                record.lock().unwrap().push((parts.method, parts.headers));
                async move { Ok::<_, Infallible>(res) }
            });
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

/// The example gateway in front of `upstream`, with `env`.
async fn gateway(upstream: SocketAddr, env: &[(&str, &str)]) -> Example {
    let target = format!("http://{upstream}");
    let mut all = vec![("GATEWAY_ADDR", "127.0.0.1:0"), ("UPSTREAM", &target)];
    all.extend_from_slice(env);
    example_support::start("gateway", &all).await
}

/// The answer to `raw`, its head's field names lowercased by hyper.
async fn answer(example: &Example, raw: &str) -> String {
    answer_to(example.addr, raw.as_bytes()).await
}

/// The values of `name` the upstream's last request carried, joined as one
/// list.
fn last_seen(seen: &Seen, name: &str) -> Option<String> {
    let seen = seen.lock().unwrap();
    let (_, headers) = seen.last().expect("a request reached the upstream");
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|value| value.to_str().unwrap())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// `req`'s response from `example`, over h2c with prior knowledge.
async fn over_http2(example: &Example, req: Request<Empty<Bytes>>) -> Response<Incoming> {
    let stream = TcpStream::connect(example.addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    sender.send_request(req).await.unwrap()
}

#[tokio::test]
async fn a_204_in_answer_to_a_head_keeps_no_content_length() {
    let (upstream, _seen) = upstream().await;
    let example = gateway(upstream, &[]).await;
    let head = answer(
        &example,
        "HEAD /no-content HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 204 No Content\r\n"), "{head}");
    assert!(!head.contains("content-length"), "{head}");
}

#[tokio::test]
async fn a_204_over_http2_keeps_no_content_length() {
    let (upstream, _seen) = upstream().await;
    // Over HTTP/2 both ways: hyper's HTTP/1 server, upstream, would drop a
    // `GET`'s.
    let example = gateway(upstream, &[("UPSTREAM_HTTP2", "1")]).await;
    let req = Request::get("http://gw/no-content")
        .body(Empty::new())
        .unwrap();
    let res = over_http2(&example, req).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers().get(header::CONTENT_LENGTH), None);
}

#[tokio::test]
async fn via_names_the_clients_version_and_the_gateway_after_earlier_proxies() {
    let (upstream, seen) = upstream().await;
    let example = gateway(upstream, &[]).await;
    let answered = answer(&example, "GET / HTTP/1.0\r\nHost: gw\r\n\r\n").await;
    assert!(answered.starts_with("HTTP/1.0 200 OK"), "{answered}");
    assert_eq!(
        last_seen(&seen, "via").as_deref(),
        Some("1.0 tower-problem")
    );
    let get = "GET / HTTP/1.1\r\nHost: gw\r\nVia: 1.1 edge, 1.0 cache\r\nConnection: close\r\n\r\n";
    let answered = answer(&example, get).await;
    assert!(answered.starts_with("HTTP/1.1 200 OK"), "{answered}");
    assert_eq!(
        last_seen(&seen, "via").as_deref(),
        Some("1.1 edge, 1.0 cache, 1.1 tower-problem")
    );
    let res = over_http2(
        &example,
        Request::get("http://gw/").body(Empty::new()).unwrap(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(last_seen(&seen, "via").as_deref(), Some("2 tower-problem"));
}

#[tokio::test]
async fn an_upstream_trailer_reaches_an_http1_client_that_asked_for_trailers() {
    let (upstream, seen) = upstream().await;
    let example = gateway(upstream, &[]).await;
    let get = "GET /trailers HTTP/1.1\r\nHost: gw\r\nTE: trailers\r\nConnection: close, TE\r\n\r\n";
    let answered = answer(&example, get).await;
    assert!(answered.starts_with("HTTP/1.1 200 OK"), "{answered}");
    assert!(
        answered.contains("\r\ntrailer: x-checksum\r\n"),
        "{answered}"
    );
    assert!(
        answered.ends_with("\r\n2\r\nok\r\n0\r\nx-checksum: abc\r\n\r\n"),
        "{answered}"
    );
    assert_eq!(last_seen(&seen, "te").as_deref(), Some("trailers"));
}

#[tokio::test]
async fn proxy_authorization_goes_upstream_and_proxy_authenticate_comes_back() {
    let (upstream, seen) = upstream().await;
    let example = gateway(upstream, &[]).await;
    let get = "GET /proxy-auth HTTP/1.1\r\nHost: gw\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\nConnection: close\r\n\r\n";
    let answered = answer(&example, get).await;
    assert!(
        answered.starts_with("HTTP/1.1 407 Proxy Authentication Required\r\n"),
        "{answered}"
    );
    assert!(
        answered.contains("\r\nproxy-authenticate: Basic realm=\"upstream\"\r\n"),
        "{answered}"
    );
    assert_eq!(
        last_seen(&seen, "proxy-authorization").as_deref(),
        Some("Basic dXNlcjpwYXNz")
    );
}

#[tokio::test]
async fn trace_is_answered_405_with_allow_and_never_forwarded() {
    let (upstream, seen) = upstream().await;
    let example = gateway(upstream, &[]).await;
    let trace = "TRACE / HTTP/1.1\r\nHost: gw\r\nMax-Forwards: 3\r\nConnection: close\r\n\r\n";
    let answered = answer(&example, trace).await;
    assert!(
        answered.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{answered}"
    );
    assert!(
        answered.contains("\r\nallow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n"),
        "{answered}"
    );
    assert!(
        answered.contains("\r\ncontent-type: application/problem+json\r\n"),
        "{answered}"
    );
    assert!(seen.lock().unwrap().is_empty(), "TRACE was forwarded");
}

#[tokio::test]
async fn options_at_max_forwards_0_is_answered_by_the_gateway() {
    let (upstream, seen) = upstream().await;
    let example = gateway(upstream, &[]).await;
    for target in ["/", "*"] {
        let options = format!(
            "OPTIONS {target} HTTP/1.1\r\nHost: gw\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n"
        );
        let answered = answer(&example, &options).await;
        assert!(answered.starts_with("HTTP/1.1 200 OK\r\n"), "{answered}");
        assert!(
            answered.contains("\r\nallow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\n"),
            "{answered}"
        );
        assert!(answered.contains("\r\ncontent-length: 0\r\n"), "{answered}");
    }
    assert!(seen.lock().unwrap().is_empty(), "OPTIONS was forwarded");
}

#[tokio::test]
async fn options_is_forwarded_with_max_forwards_one_less() {
    let (upstream, seen) = upstream().await;
    let example = gateway(upstream, &[]).await;
    let options = "OPTIONS / HTTP/1.1\r\nHost: gw\r\nMax-Forwards: 5\r\nConnection: close\r\n\r\n";
    let answered = answer(&example, options).await;
    assert!(answered.starts_with("HTTP/1.1 200 OK\r\n"), "{answered}");
    assert_eq!(last_seen(&seen, "max-forwards").as_deref(), Some("4"));
    let options = "OPTIONS / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n";
    answer(&example, options).await;
    assert_eq!(last_seen(&seen, "max-forwards"), None);
    // Other methods' is not the gateway's to read (RFC 9110 §7.6.2).
    let get = "GET / HTTP/1.1\r\nHost: gw\r\nMax-Forwards: 0\r\nConnection: close\r\n\r\n";
    let answered = answer(&example, get).await;
    assert!(answered.starts_with("HTTP/1.1 200 OK\r\n"), "{answered}");
    assert_eq!(last_seen(&seen, "max-forwards").as_deref(), Some("0"));
}

#[tokio::test]
async fn an_invalid_max_forwards_is_answered_400_with_a_problem() {
    let (upstream, seen) = upstream().await;
    let example = gateway(upstream, &[]).await;
    for max_forwards in ["-1", "1.5", "two", "1, 2"] {
        let options = format!(
            "OPTIONS / HTTP/1.1\r\nHost: gw\r\nMax-Forwards: {max_forwards}\r\nConnection: close\r\n\r\n"
        );
        let answered = answer(&example, &options).await;
        assert!(
            answered.starts_with("HTTP/1.1 400 Bad Request\r\n"),
            "{max_forwards}: {answered}"
        );
        assert!(
            answered.contains("\r\ncontent-type: application/problem+json\r\n"),
            "{answered}"
        );
    }
    assert!(seen.lock().unwrap().is_empty(), "OPTIONS was forwarded");
}

/// A chunked `POST` to `path` with the fields of this hop alone (RFC 9110
/// §7.6.1), one of them named only by `Connection`, and `TE` with more
/// than `trailers`.
fn post_with_hop_by_hop_fields(path: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: gw\r\nConnection: close, x-hop, TE\r\n\
         Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nUpgrade: example/1\r\n\
         TE: trailers, deflate\r\nX-Hop: 1\r\nX-End: 1\r\nTransfer-Encoding: chunked\r\n\r\n\
         2\r\nok\r\n0\r\n\r\n"
    )
}

/// The fields RFC 9110 §7.6.1 has a proxy remove, `Connection`'s options
/// among them, go no further than their hop, either way; the end-to-end
/// field goes through.
#[tokio::test]
async fn hop_by_hop_fields_and_those_connection_names_go_no_further() {
    let (upstream, seen) = upstream().await;
    let example = gateway(upstream, &[]).await;
    let answered = answer(&example, &post_with_hop_by_hop_fields("/hop-by-hop")).await;
    assert!(answered.starts_with("HTTP/1.1 200 OK\r\n"), "{answered}");
    for name in ["keep-alive", "proxy-connection", "upgrade", "x-hop"] {
        assert_eq!(last_seen(&seen, name), None, "{name} went upstream");
        assert!(!answered.contains(name), "{name} came back: {answered}");
    }
    assert_eq!(last_seen(&seen, "connection"), None);
    assert_eq!(last_seen(&seen, "te").as_deref(), Some("trailers"));
    assert_eq!(last_seen(&seen, "x-end").as_deref(), Some("1"));
    assert!(answered.contains("\r\nx-end: 1\r\n"), "{answered}");
}

/// RFC 9113 §8.2.2: no connection-specific field in an HTTP/2 message, and
/// `TE` only as `trailers`: from an HTTP/1.1 client to an HTTP/2
/// upstream, and from an HTTP/1.1 upstream to an HTTP/2 client.
#[tokio::test]
async fn no_connection_specific_field_crosses_into_http2() {
    const CONNECTION_SPECIFIC: [&str; 6] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "x-hop",
    ];
    let (upstream, seen) = upstream().await;
    let example = gateway(upstream, &[("UPSTREAM_HTTP2", "1")]).await;
    let answered = answer(&example, &post_with_hop_by_hop_fields("/")).await;
    assert!(answered.starts_with("HTTP/1.1 200 OK\r\n"), "{answered}");
    for name in CONNECTION_SPECIFIC {
        assert_eq!(last_seen(&seen, name), None, "{name} went upstream");
    }
    assert_eq!(last_seen(&seen, "te").as_deref(), Some("trailers"));
    assert_eq!(last_seen(&seen, "x-end").as_deref(), Some("1"));

    let example = gateway(upstream, &[]).await;
    let req = Request::get("http://gw/hop-by-hop")
        .body(Empty::new())
        .unwrap();
    let res = over_http2(&example, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    for name in CONNECTION_SPECIFIC {
        assert_eq!(res.headers().get(name), None, "{name} came back");
    }
    assert_eq!(res.headers()["x-end"], "1");
}
