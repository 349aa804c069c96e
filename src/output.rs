//! Writing to stdout and stderr when their reader may go away (`campaignctl plan | head`).
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with `BrokenPipe` (and `println!`
//! panics on it): a report ends there, quietly, and what goes on (an apply's sends) is
//! never stopped by it.

use std::fmt;
use std::io::{self, Write};

/// Whether `e` says the reader of stdout or stderr went away.
pub(crate) fn is_closed(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// The result of writing a report, a closed pipe being the end of it rather than an error.
pub(crate) fn ended(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if is_closed(&e) => Ok(()),
        other => other,
    }
}

/// Writes to stderr, best effort: a note, a progress line or a problem that cannot be
/// written (stderr closed) is dropped, never a panic.
pub(crate) fn eprint(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// A writer for which a closed pipe is the end of its output: that write and every one
/// after it are dropped. For reports printed while something goes on that must not be
/// stopped by them; any other error is returned.
pub(crate) struct Lenient<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> Lenient<W> {
    pub(crate) fn new(inner: W) -> Lenient<W> {
        Lenient {
            inner,
            closed: false,
        }
    }

    fn lenient<T>(
        &mut self,
        done: T,
        write: impl FnOnce(&mut W) -> io::Result<T>,
    ) -> io::Result<T> {
        if self.closed {
            return Ok(done);
        }
        match write(&mut self.inner) {
            Err(e) if is_closed(&e) => {
                self.closed = true;
                Ok(done)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for Lenient<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lenient(buf.len(), |w| w.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lenient((), Write::flush)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe whose reader went away after `room` bytes.
    struct Pipe {
        written: Vec<u8>,
        room: usize,
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.written.len() >= self.room {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.room - self.written.len());
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_pipe_ends_the_output_of_a_lenient_writer() {
        let mut out = Lenient::new(Pipe {
            written: Vec::new(),
            room: 4,
        });
        writeln!(out, "first line").unwrap();
        writeln!(out, "second line").unwrap();
        out.flush().unwrap();
        assert!(out.closed);
        assert_eq!(out.inner.written, b"firs");
    }

    #[test]
    fn only_a_closed_pipe_is_the_end_of_a_report() {
        assert!(ended(Err(io::ErrorKind::BrokenPipe.into())).is_ok());
        assert!(ended(Err(io::ErrorKind::StorageFull.into())).is_err());
    }
}
