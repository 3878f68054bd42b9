//! The state both layers' response futures move through.

use pin_project_lite::pin_project;

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
