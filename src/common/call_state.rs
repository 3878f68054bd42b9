//! The state both layers' response futures move through.

use std::future::Future;

use bytes::Bytes;
use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use crate::BoxError;

/// The response future of the service inside either layer: a response
/// whose body yields `Bytes`, or an error, both errors converting into
/// [`BoxError`]. Every such future is one; there is nothing to implement.
pub trait InnerFuture: Future<Output = Result<Response<Self::Body>, Self::Error>> {
    /// The response's body.
    type Body: Body<Data = Bytes, Error: Into<BoxError>>;
    /// The service's error.
    type Error: Into<BoxError>;
}

impl<F, B, E> InnerFuture for F
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes, Error: Into<BoxError>>,
    E: Into<BoxError>,
{
    type Body = B;
    type Error = E;
}

pin_project! {
    /// The inner service's future while it runs; what failed before there
    /// was one (`E`), until it is answered; then nothing.
    #[project = CallStateProj]
    pub(crate) enum CallState<F, E> {
        Running { #[pin] future: F },
        Failed { failure: Option<E> },
        Done,
    }
}

impl<F, E> CallState<F, E> {
    pub(crate) fn failed(failure: E) -> Self {
        Self::Failed {
            failure: Some(failure),
        }
    }
}
