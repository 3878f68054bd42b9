//! Many concurrent requests mixing successes, panics and handler errors over
//! keep-alive connections: every response is well-formed, and the server
//! keeps serving.

mod support;

use axum::routing::get;
use axum::Router;
use tokio::task::JoinSet;
use tower_problem::app::{AppErrorLayer, HandlerError};

use support::*;

/// Concurrent keep-alive connections, HTTP/1.1 and h2c.
const CONNECTIONS: usize = 50;
/// Requests per connection; 1,000 in all.
const PER_CONNECTION: usize = 20;

async fn panics() -> &'static str {
    panic!("the handler panicked under load")
}

async fn fails() -> Result<String, HandlerError> {
    Err(std::io::Error::other("the database went away").into())
}

fn app() -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/panic", get(panics))
        .route("/error", get(fails))
        .layer(AppErrorLayer::new())
}

/// The path of request `n`, and the `kind` its problem must carry (none for
/// a success): a third of each.
fn nth(n: usize) -> (&'static str, Option<&'static str>) {
    match n % 3 {
        0 => ("/ok", None),
        1 => ("/panic", Some("panic")),
        _ => ("/error", Some("handler_error")),
    }
}

fn check(reply: &Reply, n: usize, id: &str) {
    match nth(n) {
        (_, None) => {
            assert_eq!(reply.status, 200, "request {n}: {reply:?}");
            reply.assert_complete();
            assert_eq!(reply.body, "ok");
        }
        (_, Some(kind)) => {
            assert_problem(reply, kind, Some(id));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_mixed_requests_are_all_answered_well_formed() {
    // Quiet: the panics are expected and std's hook would print each one.
    tower_problem::app::panic_hook::install();
    let addr = serve_router(app()).await;

    let mut connections = JoinSet::new();
    for c in 0..CONNECTIONS {
        connections.spawn(async move {
            let mut answered = 0;
            if c % 2 == 0 {
                let mut conn = H1::connect(addr).await;
                for i in 0..PER_CONNECTION {
                    let n = c * PER_CONNECTION + i;
                    let id = format!("load-{n}");
                    let reply = conn.send(get_with_id(nth(n).0, &id)).await;
                    check(&reply, n, &id);
                    answered += 1;
                }
            } else {
                let conn = H2::connect(addr).await;
                // Streams of one h2c connection run concurrently too.
                let mut streams = JoinSet::new();
                for i in 0..PER_CONNECTION {
                    let mut conn = conn.clone();
                    let n = c * PER_CONNECTION + i;
                    streams.spawn(async move {
                        let id = format!("load-{n}");
                        let reply = conn.send(get_with_id(nth(n).0, &id)).await;
                        check(&reply, n, &id);
                    });
                }
                while let Some(stream) = streams.join_next().await {
                    stream.expect("stream task");
                    answered += 1;
                }
            }
            answered
        });
    }

    let mut answered = 0;
    let all = bounded("1,000 requests", async {
        while let Some(connection) = connections.join_next().await {
            answered += connection.expect("connection task");
        }
    });
    all.await;
    assert_eq!(answered, CONNECTIONS * PER_CONNECTION);
    assert_still_serving(addr, "/ok").await;
}
