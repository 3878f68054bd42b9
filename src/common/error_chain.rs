//! The one walk of an error's cause chain, for classification and for logs.

use std::error::Error;
use std::fmt;
use std::io;

/// The levels of `error`'s cause chain, outermost first.
///
/// It looks inside an `io::Error` with [`io::Error::get_ref`]: an
/// `io::Error` that wraps another error returns that error's *source* from
/// `source()`, skipping the wrapped error itself (tokio-rustls and
/// hyper-rustls hide TLS errors that way), so the walk goes to the wrapped
/// error instead.
pub(crate) fn sources<'a>(error: &'a (dyn Error + 'static)) -> Sources<'a> {
    Sources { next: Some(error) }
}

/// One level of a chain, and the same level as an `io::Error` if it is
/// one: the walk has looked already.
#[derive(Clone, Copy)]
pub(crate) struct Level<'a> {
    pub(crate) error: &'a (dyn Error + 'static),
    pub(crate) io: Option<&'a io::Error>,
}

/// The iterator of [`sources`].
pub(crate) struct Sources<'a> {
    next: Option<&'a (dyn Error + 'static)>,
}

impl<'a> Iterator for Sources<'a> {
    type Item = Level<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let error = self.next?;
        let io = error.downcast_ref::<io::Error>();
        self.next = match io.and_then(io::Error::get_ref) {
            Some(inner) => Some(inner),
            None => error.source(),
        };
        Some(Level { error, io })
    }
}

/// Displays an error and its causes as `outer: middle: root`, each level
/// once: an `io::Error` that wraps an error displays as that error, so only
/// the wrapped one is written.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for level in sources(self.0) {
            if level.io.and_then(io::Error::get_ref).is_some() {
                continue;
            }
            if !first {
                f.write_str(": ")?;
            }
            first = false;
            fmt::Display::fmt(level.error, f)?;
        }
        Ok(())
    }
}

/// The `Debug` form of `error`, where anyhow and eyre write the backtrace
/// they captured, for a log line: only when the process asks errors for
/// backtraces (`RUST_LIB_BACKTRACE`, else `RUST_BACKTRACE`, set and not
/// `0`, as anyhow decides); otherwise it says no more than the chain.
pub(crate) fn debug_form(error: &(dyn Error + 'static)) -> Option<String> {
    static ASKED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let asked = *ASKED.get_or_init(|| {
        let var = |name| std::env::var(name).ok();
        var("RUST_LIB_BACKTRACE")
            .or_else(|| var("RUST_BACKTRACE"))
            .is_some_and(|value| value != "0")
    });
    asked.then(|| format!("{error:?}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A level of a test's error chain: its text and its source.
    #[derive(Debug)]
    pub(crate) struct Wrap(
        pub(crate) &'static str,
        pub(crate) Option<Box<dyn Error + Send + Sync>>,
    );

    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Wrap {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    fn chain() -> Wrap {
        let root = Wrap("root", None);
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            Wrap("tls", Some(Box::new(root))),
        );
        Wrap("outer", Some(Box::new(io)))
    }

    #[test]
    fn the_walk_enters_io_errors() {
        let outer = chain();
        let texts: Vec<String> = sources(&outer)
            .map(|level| level.error.to_string())
            .collect();
        // The io::Error displays as the error it wraps.
        assert_eq!(texts, ["outer", "tls", "tls", "root"]);
        let levels: Vec<_> = sources(&outer).collect();
        assert!(levels[1].io.is_some() && levels[0].io.is_none());
        assert_eq!(levels[2].error.downcast_ref::<Wrap>().unwrap().0, "tls");
    }

    #[test]
    fn the_chain_prints_each_level_once() {
        assert_eq!(ErrorChain(&chain()).to_string(), "outer: tls: root");
        let plain = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(ErrorChain(&plain).to_string(), plain.to_string());
    }
}
