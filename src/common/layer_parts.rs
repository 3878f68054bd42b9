//! What a layer hands to each of its services, and each service to each
//! request's future.

use std::fmt;

/// A layer's settings `S`, its classifier `C` and its responder `R`: kept
/// by the layer, cloned into each service and into each request's future,
/// where a failure is answered with them.
#[derive(Clone)]
pub(crate) struct LayerParts<S, C, R> {
    pub(crate) settings: S,
    pub(crate) classify: C,
    pub(crate) respond: R,
}

impl<S, C, R> LayerParts<S, C, R> {
    /// The same parts with another classifier.
    pub(crate) fn with_classify<C2>(self, classify: C2) -> LayerParts<S, C2, R> {
        LayerParts {
            settings: self.settings,
            classify,
            respond: self.respond,
        }
    }

    /// The same parts with another responder.
    pub(crate) fn with_respond<R2>(self, respond: R2) -> LayerParts<S, C, R2> {
        LayerParts {
            settings: self.settings,
            classify: self.classify,
            respond,
        }
    }
}

impl<S: fmt::Debug, C, R> fmt::Debug for LayerParts<S, C, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerParts")
            .field("settings", &self.settings)
            .field("classify", &std::any::type_name::<C>())
            .field("respond", &std::any::type_name::<R>())
            .finish()
    }
}
