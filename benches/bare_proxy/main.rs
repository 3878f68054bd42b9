//! `UPSTREAM=http://host:port bare_proxy`: forwards every request's path
//! and query to `UPSTREAM` through hyper-util's pooled client, on tokio's
//! multi-thread runtime as the example gateway runs; answers an empty 502
//! when the upstream fails. Prints `listening on ADDR` once bound
//! (`GATEWAY_ADDR`, default `127.0.0.1:0`).

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::main]
async fn main() {
    let upstream = std::env::var("UPSTREAM").expect("UPSTREAM=http://host:port");
    let upstream: &'static str = upstream.trim_end_matches('/').to_owned().leak();
    let addr = std::env::var("GATEWAY_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("bind GATEWAY_ADDR");
    println!(
        "listening on {}",
        listener.local_addr().expect("a bound address")
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let client = client.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
                let uri: Uri = format!("{upstream}{target}").parse().expect("a valid URI");
                let (mut parts, _) = req.into_parts();
                parts.uri = uri;
                parts.headers.remove(http::header::HOST);
                let response = client.request(Request::from_parts(parts, Empty::new()));
                async move {
                    Ok::<_, Infallible>(match response.await {
                        Ok(response) => response.map(Either::Left),
                        Err(_) => {
                            let mut bad = Response::new(Either::Right(Empty::new()));
                            *bad.status_mut() = StatusCode::BAD_GATEWAY;
                            bad
                        }
                    })
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
