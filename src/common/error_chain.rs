//! The one walk of an error's cause chain, for classification and for logs.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::OnceLock;

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
            match level.io {
                Some(io) => write_io_error(io, f)?,
                None => fmt::Display::fmt(level.error, f)?,
            }
        }
        Ok(())
    }
}

impl ErrorChain<'_> {
    /// The chain as a string, with room for a usual chain from the start:
    /// `to_string` grows its string from nothing, a reallocation at every
    /// doubling.
    pub(crate) fn text(&self) -> String {
        let mut text = String::with_capacity(128);
        // Writing to a `String` fails only if a `Display` impl does.
        let _ = fmt::Write::write_fmt(&mut text, format_args!("{self}"));
        text
    }
}

/// `io::Error`'s own text, kept once per OS error code: std asks the C
/// library for an OS error's description (`strerror_r`, through gettext)
/// and allocates it each time, and in an outage every failure's line
/// carries the same one.
fn write_io_error(error: &io::Error, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    /// Linux's error codes end at 133; any other is written afresh.
    static TEXTS: [OnceLock<Box<str>>; 134] = [const { OnceLock::new() }; 134];
    let kept = error
        .raw_os_error()
        .and_then(|code| TEXTS.get(usize::try_from(code).ok()?));
    match kept {
        Some(text) => f.write_str(text.get_or_init(|| error.to_string().into())),
        None => fmt::Display::fmt(error, f),
    }
}

/// The `Debug` form of `error`, where anyhow and eyre write the backtrace
/// they captured, for a log line: only when the process asks errors for
/// backtraces (`RUST_LIB_BACKTRACE`, else `RUST_BACKTRACE`, set and not
/// `0`, as anyhow decides); otherwise it says no more than the chain.
pub(crate) fn debug_form(error: &(dyn Error + 'static)) -> Option<String> {
    static ASKED: OnceLock<bool> = OnceLock::new();
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

    #[test]
    fn an_os_error_reads_as_std_writes_it_each_time() {
        for code in [-1, 0, 1, 32, 104, 111, 133, 134, 4000] {
            let error = io::Error::from_raw_os_error(code);
            for _ in 0..2 {
                assert_eq!(ErrorChain(&error).text(), error.to_string());
            }
        }
        let wrapped = Wrap("connect", Some(Box::new(io::Error::from_raw_os_error(111))));
        assert_eq!(
            ErrorChain(&wrapped).text(),
            format!("connect: {}", io::Error::from_raw_os_error(111))
        );
    }
}
