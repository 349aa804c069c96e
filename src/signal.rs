//! Signals, for `apply` and `run`: SIGTERM and SIGINT (Ctrl-C) stop a run; for the daemon,
//! SIGHUP asks for a reload instead of killing the process.

use std::io;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Stop,
    Reload,
}

pub(crate) struct Signals {
    term: Signal,
    int: Signal,
    hup: Option<Signal>,
}

impl Signals {
    /// Takes over SIGTERM and SIGINT, and SIGHUP with `reload` (its default action, ending
    /// the process, stays otherwise). Needs a tokio runtime context.
    pub(crate) fn install(reload: bool) -> io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: if reload {
                Some(signal(SignalKind::hangup())?)
            } else {
                None
            },
        })
    }

    /// The next signal.
    pub(crate) async fn next(&mut self) -> Event {
        let hup = async {
            match self.hup.as_mut() {
                Some(hup) => hup.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.term.recv() => Event::Stop,
            _ = self.int.recv() => Event::Stop,
            _ = hup => Event::Reload,
        }
    }

    /// Waits for a stop.
    pub(crate) async fn stopped(&mut self) {
        while self.next().await != Event::Stop {}
    }
}
