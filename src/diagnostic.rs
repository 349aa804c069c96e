//! Problems found in campaign files, printed the way compilers print them:
//! `FILE:LINE:COL: error: MESSAGE`, then the offending line with a caret.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::style::{self, Paint};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A position in a source file. Lines and columns are 1-based; `column == 0` means the
/// position is a whole line (a CSV row) and `line == 0` the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
    /// Width of the underlined text, in characters.
    pub len: usize,
}

impl Pos {
    pub(crate) fn new(line: usize, column: usize, len: usize) -> Pos {
        Pos { line, column, len }
    }

    pub(crate) fn line(line: usize) -> Pos {
        Pos {
            line,
            column: 0,
            len: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    pub severity: Severity,
    pub file: Arc<Path>,
    pub pos: Pos,
    pub message: String,
    pub help: Option<String>,
    /// The text of the offending line, shown under the message with a caret.
    pub snippet: Option<String>,
}

impl Diagnostic {
    pub(crate) fn error(
        file: impl Into<Arc<Path>>,
        pos: Pos,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.into(),
            pos,
            message: message.into(),
            help: None,
            snippet: None,
        }
    }

    pub(crate) fn warning(
        file: impl Into<Arc<Path>>,
        pos: Pos,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, pos, message)
        }
    }

    #[must_use]
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Attaches the offending line of `text` (the file's contents) for the caret display.
    #[must_use]
    pub(crate) fn with_source(mut self, text: &str) -> Diagnostic {
        if self.pos.line > 0 && self.pos.column > 0 {
            self.snippet = text
                .lines()
                .nth(self.pos.line - 1)
                .map(|line| line.trim_end_matches('\r').to_owned());
        }
        self
    }

    pub(crate) fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The `FILE:LINE:COL` prefix alone.
    pub(crate) fn location(&self) -> String {
        location(&self.file, self.pos)
    }
}

pub(crate) fn location(file: &Path, pos: Pos) -> String {
    let file = file.display();
    match (pos.line, pos.column) {
        (0, _) => format!("{file}"),
        (line, 0) => format!("{file}:{line}"),
        (line, column) => format!("{file}:{line}:{column}"),
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.render(f, Paint::PLAIN)
    }
}

impl Diagnostic {
    /// The same text, in colour when `paint` paints: the severity, the gutter, the caret and
    /// `help`.
    pub(crate) fn painted(&self, paint: Paint) -> impl fmt::Display + '_ {
        Painted(self, paint)
    }

    fn render(&self, f: &mut fmt::Formatter<'_>, paint: Paint) -> fmt::Result {
        let severity = paint.get(match self.severity {
            Severity::Error => style::ERROR,
            Severity::Warning => style::WARNING,
        });
        let (bold, gutter_style, help) = (
            paint.get(style::HEADER),
            paint.get(style::GUTTER),
            paint.get(style::HELP),
        );
        writeln!(
            f,
            "{bold}{}:{bold:#} {severity}{}:{severity:#} {bold}{}{bold:#}",
            self.location(),
            self.severity,
            self.message
        )?;
        let gutter = " ".repeat(self.pos.line.to_string().len());
        if let Some(line) = &self.snippet {
            let (snippet, column) = window(line, self.pos.column);
            // Columns count characters; tabs are kept so the caret lines up in a terminal.
            let indent: String = snippet
                .chars()
                .take(column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let rest = snippet
                .chars()
                .count()
                .saturating_sub(indent.chars().count());
            let width = self.pos.len.clamp(1, rest.max(1));
            let g = gutter_style;
            writeln!(f, "{g}{gutter} |{g:#}")?;
            writeln!(f, "{g}{} |{g:#} {snippet}", self.pos.line)?;
            writeln!(
                f,
                "{g}{gutter} |{g:#} {indent}{severity}{}{severity:#}",
                "^".repeat(width)
            )?;
        }
        if let Some(text) = &self.help {
            writeln!(
                f,
                "{gutter_style}{gutter} ={gutter_style:#} {help}help:{help:#} {text}"
            )?;
        }
        Ok(())
    }
}

struct Painted<'a>(&'a Diagnostic, Paint);

impl fmt::Display for Painted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.render(f, self.1)
    }
}

/// Lines longer than this are shown as a window around the column.
const MAX_SNIPPET: usize = 100;

/// The part of `line` to show, and the column within it: long lines (minified JSON, a
/// 20,000-character flow sequence) are cut around `column` and marked with `…`.
fn window(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= MAX_SNIPPET {
        return (line.to_owned(), column);
    }
    let start = column
        .saturating_sub(1 + MAX_SNIPPET / 2)
        .min(chars.len().saturating_sub(MAX_SNIPPET));
    let end = (start + MAX_SNIPPET).min(chars.len());
    let mut shown: String = chars[start..end].iter().collect();
    let mut column = column - start;
    if start > 0 {
        shown.insert(0, '…');
        column += 1;
    }
    if end < chars.len() {
        shown.push('…');
    }
    (shown, column)
}

/// All problems found in one run, in a stable order (by file, then position).
#[derive(Debug, Default, Clone)]
pub(crate) struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub(crate) fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(other);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub(crate) fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub(crate) fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    /// Sorted by file and position; the sort is stable so problems at one position keep
    /// the order in which they were found.
    pub(crate) fn sorted(mut self) -> Vec<Diagnostic> {
        self.items
            .sort_by(|a, b| a.file.cmp(&b.file).then(a.pos.cmp(&b.pos)));
        self.items
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// At most this many recipient problems are listed per campaign; a CSV with a million bad
/// rows needs a fix in the CSV, not a million lines of output.
pub(crate) const MAX_PROBLEMS_PER_CAMPAIGN: usize = 100;

/// The closest known key within a small edit distance.
pub(crate) fn did_you_mean<'a>(key: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// `No such file or directory`, without the `(os error 2)` noise.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_line_and_caret() {
        let text = "name: x\ntempalte: hi\n";
        let d = Diagnostic::error(
            Path::new("c.yaml"),
            Pos::new(2, 1, 8),
            "unknown key `tempalte`",
        )
        .with_help("did you mean `template`?")
        .with_source(text);
        assert_eq!(
            d.to_string(),
            "c.yaml:2:1: error: unknown key `tempalte`\n  |\n2 | tempalte: hi\n  | ^^^^^^^^\n  = help: did you mean `template`?\n"
        );
    }

    #[test]
    fn csv_rows_print_without_column() {
        let d = Diagnostic::error(Path::new("data/a.csv"), Pos::line(7), "bad mobile");
        assert_eq!(d.to_string(), "data/a.csv:7: error: bad mobile\n");
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = format!("{}X{}", "a".repeat(300), "b".repeat(300));
        let d = Diagnostic::error(Path::new("c.yaml"), Pos::new(1, 301, 1), "m").with_source(&line);
        let text = d.to_string();
        let shown = text.lines().nth(2).unwrap();
        let caret = text.lines().nth(3).unwrap();
        assert!(
            shown.starts_with("1 | …a") && shown.ends_with("b…"),
            "{shown}"
        );
        assert!(shown.chars().count() < 120);
        // The caret still points at the X.
        let x = shown.chars().position(|c| c == 'X').unwrap();
        assert_eq!(caret.chars().position(|c| c == '^'), Some(x));
    }

    #[test]
    fn caret_is_clamped_to_the_line() {
        let d =
            Diagnostic::error(Path::new("c.yaml"), Pos::new(1, 7, 500), "m").with_source("cron: x");
        assert!(d.to_string().ends_with("  |       ^\n"), "{d}");
    }
}
