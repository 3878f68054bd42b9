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

/// The iterator of [`sources`].
pub(crate) struct Sources<'a> {
    next: Option<&'a (dyn Error + 'static)>,
}

impl<'a> Iterator for Sources<'a> {
    type Item = &'a (dyn Error + 'static);

    fn next(&mut self) -> Option<Self::Item> {
        let level = self.next?;
        self.next = match wrapped_by_io(level) {
            Some(inner) => Some(inner),
            None => level.source(),
        };
        Some(level)
    }
}

/// The error an `io::Error` wraps, if `level` is one that does.
fn wrapped_by_io<'a>(level: &'a (dyn Error + 'static)) -> Option<&'a (dyn Error + 'static)> {
    let inner = level.downcast_ref::<io::Error>()?.get_ref()?;
    Some(inner)
}

/// Displays an error and its causes as `outer: middle: root`, each level
/// once: an `io::Error` that wraps an error displays as that error, so only
/// the wrapped one is written.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for level in sources(self.0) {
            if wrapped_by_io(level).is_some() {
                continue;
            }
            if !first {
                f.write_str(": ")?;
            }
            first = false;
            fmt::Display::fmt(level, f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Level(&'static str, Option<Box<dyn Error + Send + Sync>>);

    impl fmt::Display for Level {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Level {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    fn chain() -> Level {
        let root = Level("root", None);
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            Level("tls", Some(Box::new(root))),
        );
        Level("outer", Some(Box::new(io)))
    }

    #[test]
    fn the_walk_enters_io_errors() {
        let outer = chain();
        let texts: Vec<String> = sources(&outer).map(ToString::to_string).collect();
        // The io::Error displays as the error it wraps.
        assert_eq!(texts, ["outer", "tls", "tls", "root"]);
        let levels: Vec<_> = sources(&outer).collect();
        assert!(levels[1].is::<io::Error>());
        assert_eq!(levels[2].downcast_ref::<Level>().unwrap().0, "tls");
    }

    #[test]
    fn the_chain_prints_each_level_once() {
        assert_eq!(ErrorChain(&chain()).to_string(), "outer: tls: root");
        let plain = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(ErrorChain(&plain).to_string(), plain.to_string());
    }
}
