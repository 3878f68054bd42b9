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

/// The builder methods that plug a responder and a classifier into a
/// layer, one text for both: `respond_with` and `classify_with` for
/// closures (bounded by their own signatures, so that closures infer),
/// `responder` and `classifier` for types of one's own. Expands inside an
/// `impl<C, R> $Layer<C, R>` whose module has its `Failure` and `Kind`;
/// `respond` and `classify` add the layer's own docs.
macro_rules! customisation_methods {
    (
        $Layer:ident,
        respond: { $(#[$respond:meta])* },
        classify: { $(#[$classify:meta])* },
    ) => {
        /// Builds the failure responses with the closure `respond` instead of
        /// the default problem+json: `|failure, request, problem|` (a
        /// [`&Failure`](Failure), a [`&RequestContext`](crate::RequestContext)
        /// and the default [`Problem`](crate::problem::Problem)), returning
        /// a `Problem`, an `http::Response<Bytes>` or, with the `axum`
        /// feature, an axum response
        /// ([`IntoFailureResponse`](crate::IntoFailureResponse)); its
        /// argument types need no annotation. A type of your own goes through
        /// [`responder`](Self::responder).
        ///
        /// The responder is cloned into every request's future, as
        /// [`ResponseForFailure`](crate::ResponseForFailure) says.
        ///
        $(#[$respond])*
        pub fn respond_with<F, T>(self, respond: F) -> $Layer<C, F>
        where
            F: Fn(&Failure, &crate::RequestContext, crate::problem::Problem) -> T
                + Clone
                + Send
                + Sync
                + 'static,
            T: crate::IntoFailureResponse,
        {
            self.responder(respond)
        }

        /// Builds the failure responses with `responder`, a
        /// [`ResponseForFailure`](crate::ResponseForFailure) of your own
        /// (which can answer gRPC requests its own way too); a closure goes
        /// through [`respond_with`](Self::respond_with).
        pub fn responder<R2: crate::ResponseForFailure<Failure>>(
            self,
            responder: R2,
        ) -> $Layer<C, R2> {
            $Layer {
                parts: self.parts.with_respond(responder),
            }
        }

        /// Classifies errors with the closure `classify` first,
        /// `|error| -> Option<Kind>` (the error a `&(dyn Error + 'static)`,
        /// needing no annotation), asked of each level of the error's chain,
        /// outermost first, falling back to the layer's own rules where it
        /// names none. A [`Classify`](crate::Classify) type of your own goes
        /// through [`classifier`](Self::classifier). The classifier is
        /// cloned into every request's future, as the responder is.
        ///
        $(#[$classify])*
        pub fn classify_with<F>(self, classify: F) -> $Layer<F, R>
        where
            F: Fn(&(dyn std::error::Error + 'static)) -> Option<Kind>
                + Clone
                + Send
                + Sync
                + 'static,
        {
            self.classifier(classify)
        }

        /// Classifies with `classifier`, a [`Classify`](crate::Classify) of
        /// your own, as [`classify_with`](Self::classify_with) does with a
        /// closure.
        pub fn classifier<C2: crate::Classify<Kind>>(self, classifier: C2) -> $Layer<C2, R> {
            $Layer {
                parts: self.parts.with_classify(classifier),
            }
        }
    };
}
pub(crate) use customisation_methods;
