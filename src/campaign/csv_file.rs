//! CSV files as people export them, read the same way wherever campaignctl reads one (the
//! recipients' files of campaigns, opt-out lists): the delimiter is `,`, `;` or tab, detected
//! from the header line unless given; a UTF-8 byte-order mark is ignored; headers and values
//! are trimmed, and headers matched ignoring case; a file that is not UTF-8 is one error, at
//! its first row that is not, with how to export it again.

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Pos};

/// The header line is read this far, at most, to find the delimiter.
pub(crate) const HEADER_PEEK: usize = 64 * 1024;

/// The help of a file that is not UTF-8.
pub(crate) const NOT_UTF8_HELP: &str = "export the file again as UTF-8 (in Excel: Save As, then \"CSV UTF-8\"; in LibreOffice: character set \"Unicode (UTF-8)\")";

/// The delimiter of the first line of `head`: the most frequent of `,`, `;` and tab outside
/// quotes (`,` when there is none). A byte-order mark is skipped.
pub(crate) fn detect_delimiter(head: &[u8]) -> u8 {
    let line = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in line {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t'];
    let best = (0..3)
        .max_by_key(|i| (counts[*i], std::cmp::Reverse(*i)))
        .unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        candidates[best]
    }
}

/// The start of `source`, up to its first line break or [`HEADER_PEEK`] bytes: enough for
/// [`detect_delimiter`].
pub(crate) fn read_head(source: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    while head.len() < HEADER_PEEK && !head.contains(&b'\n') {
        let n = source.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(head)
}

/// A reader of `source`'s rows split at `delimiter`, the header row first, headers and
/// values trimmed (the byte-order mark is csv's to skip).
pub(crate) fn reader<R: Read>(delimiter: u8, source: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(source)
}

/// A header row, its names trimmed.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    names: Vec<String>,
}

/// Why a header row cannot be read.
#[derive(Debug)]
pub(crate) enum HeaderError {
    /// Not UTF-8: an error at `FILE.csv:1`, with how to export the file again.
    NotUtf8(Diagnostic),
    /// Anything else (an I/O error): a message about the file.
    Unreadable(String),
}

impl Header {
    /// The header row of `reader`, reading the file `path`.
    pub(crate) fn read<R: Read>(
        reader: &mut csv::Reader<R>,
        path: &Path,
    ) -> Result<Header, HeaderError> {
        match reader.headers() {
            Ok(headers) => Ok(Header {
                names: headers.iter().map(|h| h.trim().to_owned()).collect(),
            }),
            Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => Err(HeaderError::NotUtf8(
                Diagnostic::error(
                    path,
                    Pos::line(1),
                    "the header row is not UTF-8: this file is in another encoding",
                )
                .with_help(NOT_UTF8_HELP),
            )),
            Err(e) => Err(HeaderError::Unreadable(format!(
                "cannot read the header row of CSV file `{}`: {e}",
                path.display()
            ))),
        }
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// The index of `column`, matched trimmed and ignoring case.
    pub(crate) fn find(&self, column: &str) -> Option<usize> {
        let column = column.trim();
        self.names
            .iter()
            .position(|h| h.eq_ignore_ascii_case(column))
    }

    /// The header row for messages: `` `mobile`, `name` ``, or `empty`.
    pub(crate) fn shown(&self) -> String {
        if self.names.iter().all(String::is_empty) {
            "empty".to_owned()
        } else {
            let quoted: Vec<String> = self.names.iter().map(|h| format!("`{h}`")).collect();
            quoted.join(", ")
        }
    }
}

/// The problems of the rows of one file that could not be read, each at its row
/// (`FILE.csv:ROW`). A file that is not UTF-8 is one problem, at its first row that is not:
/// the rows after it are likely in the same encoding.
#[derive(Debug)]
pub(crate) struct RowErrors {
    path: Arc<Path>,
    not_utf8_reported: bool,
}

impl RowErrors {
    pub(crate) fn new(path: Arc<Path>) -> RowErrors {
        RowErrors {
            path,
            not_utf8_reported: false,
        }
    }

    /// The problem of the row `e` could not read; `None` for a row that is not UTF-8 after
    /// the first (left out unreported).
    pub(crate) fn problem(&mut self, e: &csv::Error) -> Option<Diagnostic> {
        let line = e.position().map_or(0, |p| p.line() as usize);
        let message = match e.kind() {
            csv::ErrorKind::Utf8 { .. } if self.not_utf8_reported => return None,
            csv::ErrorKind::Utf8 { .. } => {
                self.not_utf8_reported = true;
                return Some(
                    Diagnostic::error(
                        &*self.path,
                        Pos::line(line),
                        "the file is not UTF-8: this is its first row that is not (later ones are not listed)",
                    )
                    .with_help(NOT_UTF8_HELP),
                );
            }
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => format!("row has {len} fields, the header has {expected_len}"),
            _ => e.to_string(),
        };
        Some(Diagnostic::error(&*self.path, Pos::line(line), message))
    }
}

/// Whether the rows after `e` can still be read: after a bad row, yes; after anything else
/// (an I/O error), no.
pub(crate) fn can_go_on(e: &csv::Error) -> bool {
    matches!(
        e.kind(),
        csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_the_header_lines_most_frequent_outside_quotes() {
        for (text, expected) in [
            (&b"mobile,name\n"[..], b','),
            (b"mobile;name;city\n", b';'),
            (b"mobile\tname\n", b'\t'),
            (b"\xEF\xBB\xBFmobile;name\n", b';'),
            (b"\"a,b,c\";mobile\n", b';'),
            (b"mobile\n", b','),
            (b"mobile;name", b';'),
            (b"mobile;name\r\na,b,c,d\n", b';'),
            (b"", b','),
        ] {
            assert_eq!(
                detect_delimiter(text),
                expected,
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn the_head_stops_at_the_first_line_break() {
        let text = b"mobile;name\n919739978284;A\n".repeat(1000);
        let head = read_head(&mut &text[..]).unwrap();
        assert!(head.len() <= 4096 && head.starts_with(b"mobile;name\n"));
        let long = vec![b'a'; 3 * HEADER_PEEK];
        assert_eq!(read_head(&mut &long[..]).unwrap().len(), HEADER_PEEK);
    }

    #[test]
    fn headers_are_trimmed_and_found_ignoring_case() {
        let mut reader = reader(b';', &b"\xEF\xBB\xBF Phone Number ;Note\n"[..]);
        let header = Header::read(&mut reader, Path::new("x.csv")).unwrap();
        assert_eq!(header.names(), ["Phone Number", "Note"]);
        assert_eq!(header.find(" phone number"), Some(0));
        assert_eq!(header.find("NOTE"), Some(1));
        assert_eq!(header.find("mobile"), None);
        assert_eq!(header.shown(), "`Phone Number`, `Note`");

        let mut reader = super::reader(b',', &b"mobile,T\xe9l\n"[..]);
        match Header::read(&mut reader, Path::new("x.csv")) {
            Err(HeaderError::NotUtf8(d)) => {
                assert_eq!(d.location(), "x.csv:1");
                assert_eq!(d.help.as_deref(), Some(NOT_UTF8_HELP));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_file_not_in_utf8_is_one_problem_at_its_first_row_that_is_not() {
        let text = b"mobile,name\n1,Jos\xe9\n2\n3,Ren\xe9e\n";
        let mut reader = reader(b',', &text[..]);
        // Read first, as every caller does: a row's position is where the one before ended.
        Header::read(&mut reader, Path::new("x.csv")).unwrap();
        let mut errors = RowErrors::new(Path::new("x.csv").into());
        let mut problems = Vec::new();
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    assert!(can_go_on(&e));
                    problems.extend(errors.problem(&e));
                }
            }
        }
        let problems: Vec<String> = problems
            .iter()
            .map(|d| format!("{}: {}", d.location(), d.message))
            .collect();
        assert_eq!(
            problems,
            [
                "x.csv:2: the file is not UTF-8: this is its first row that is not (later ones are not listed)",
                "x.csv:3: row has 1 fields, the header has 2",
            ]
        );
    }
}
