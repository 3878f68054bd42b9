use axum::body::Body;
use axum::response::{IntoResponse, Response};

use super::Problem;

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        http::Response::<bytes::Bytes>::from(self).map(Body::from)
    }
}
