//! The colours of the reports, in one place so that `error` is the same red everywhere.
//!
//! A report is written through a [`Paint`]: [`Paint::PLAIN`] writes no escape codes at all
//! (the text that pipes, files and tests get), a painting one writes anstyle's. Whether a
//! stream is painted is anstream's decision ([`Paint::stdout`], [`Paint::stderr`]), from the
//! `--color` choice written into it at start-up, `NO_COLOR`, `CLICOLOR_FORCE` and whether the
//! stream is a terminal. The reports go to the std streams as they are: campaignctl runs on
//! Unix, whose terminals take the codes as written, and an anstream stream would also strip
//! any escape bytes of the user's own data from the plain text, which must stay as it is.

use std::io;

use anstream::ColorChoice;
use anstream::stream::RawStream;
use anstyle::{AnsiColor, Style};

/// `error:` and what failed: red, bold.
pub(crate) const ERROR: Style = AnsiColor::Red.on_default().bold();
/// `warning:`: yellow, bold.
pub(crate) const WARNING: Style = AnsiColor::Yellow.on_default().bold();
/// `help:`: cyan, bold.
pub(crate) const HELP: Style = AnsiColor::Cyan.on_default().bold();
/// The gutter of a diagnostic (`3 |`): blue, bold, as compilers print it.
pub(crate) const GUTTER: Style = AnsiColor::Blue.on_default().bold();
/// Headers: a campaign in the plan, the plan's summary.
pub(crate) const HEADER: Style = Style::new().bold();
/// A send that is due, a run that went well: green.
pub(crate) const ADDED: Style = AnsiColor::Green.on_default();
/// A send already sent: dim.
pub(crate) const UNCHANGED: Style = Style::new().dimmed();
/// A send changed since it was sent, a stopped run: yellow.
pub(crate) const CHANGED: Style = AnsiColor::Yellow.on_default();
/// A send that failed, is unknown or in flight: red.
pub(crate) const FAILED: Style = AnsiColor::Red.on_default();

/// Whether a report is written with styles or without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paint(bool);

impl Paint {
    /// No escape codes: the plain text.
    pub(crate) const PLAIN: Paint = Paint(false);
    /// How stdout is painted.
    pub(crate) fn stdout() -> Paint {
        Paint::of(&io::stdout())
    }

    /// How stderr is painted.
    pub(crate) fn stderr() -> Paint {
        Paint::of(&io::stderr())
    }

    fn of(stream: &impl RawStream) -> Paint {
        Paint(anstream::AutoStream::choice(stream) != ColorChoice::Never)
    }

    pub(crate) fn is_color(self) -> bool {
        self.0
    }

    /// `style` when painting, and the empty style (which prints nothing) otherwise. Write it
    /// as `{style}text{style:#}`: `{:#}` is the reset.
    pub(crate) fn get(self, style: Style) -> Style {
        if self.0 { style } else { Style::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_prints_nothing() {
        let style = Paint::PLAIN.get(ERROR);
        assert_eq!(format!("{style}error{style:#}"), "error");
        let style = Paint(true).get(ERROR);
        assert_eq!(
            format!("{style}error{style:#}"),
            "\u{1b}[1m\u{1b}[31merror\u{1b}[0m"
        );
    }
}
