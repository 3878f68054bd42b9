//! Telling what failed from an error, in both layers: [`Classify`] and the
//! [`DefaultClassifier`].

use std::error::Error;

/// Tells the kind `K` of an error (an [`app::Kind`] or a
/// [`gateway::Kind`]) before the layer's own rules do: plug in your own
/// with the layer's `classify_with`, for a domain's errors (a "not found"
/// returned through `?` answered 404) or another upstream client's.
///
/// The layer asks it of each level of the error's chain (`source()`),
/// outermost first, in the one walk the layer makes of it: the first level
/// it names decides, so a domain error under anyhow's or eyre's context is
/// found where it sits. Return `None` to pass a level; where no level is
/// named, the layer's rules decide (its `classify_with` documents them).
/// If the classifier panics, the layer logs the panic and uses its rules. The layer keeps the classifier by
/// value and clones it into every request's future, as it does the
/// responder.
///
/// A closure is given to a layer's `classify_with`, which types its
/// argument (no annotation needed); a type of your own that implements this
/// trait to its `classifier`:
///
/// ```
/// use std::error::Error;
/// use tower_problem::app::{AppErrorLayer, Kind};
///
/// #[derive(Debug)]
/// struct NoSuchOrder;
/// # impl std::fmt::Display for NoSuchOrder {
/// #     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("no such order") }
/// # }
/// # impl Error for NoSuchOrder {}
///
/// let layer = AppErrorLayer::new()
///     .classify_with(|error| error.is::<NoSuchOrder>().then_some(Kind::NotFound));
/// ```
///
/// [`app::Kind`]: crate::app::Kind
/// [`gateway::Kind`]: crate::gateway::Kind
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot classify errors as `{K}`",
    label = "not a `Classify<{K}>`",
    note = "implement `Classify<{K}>` and pass it to `classifier`, or pass a closure `|error| -> Option<{K}>` to `classify_with`"
)]
pub trait Classify<K>: Clone + Send + Sync + 'static {
    /// The kind of `error`, one level of a chain, or `None` to ask the next
    /// level and, after the last, the layer's own rules.
    fn classify(&self, error: &(dyn Error + 'static)) -> Option<K>;
}

impl<F, K> Classify<K> for F
where
    F: Fn(&(dyn Error + 'static)) -> Option<K> + Clone + Send + Sync + 'static,
{
    fn classify(&self, error: &(dyn Error + 'static)) -> Option<K> {
        self(error)
    }
}

/// The default [`Classify`]: leaves every error to the layer's own rules
/// (it returns `None`), which then run once, in the layer's one walk of
/// the error's chain.
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct DefaultClassifier;

impl<K> Classify<K> for DefaultClassifier {
    fn classify(&self, _error: &(dyn Error + 'static)) -> Option<K> {
        None
    }
}
