//! Opt-outs as the planner sees them: numbers no campaign messages, each with where its
//! opt-out came from; and opt-out lists, CSV files of a mobile column and an optional
//! reason (the project file's `suppressions:`, and `optout import FILE.csv`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::csv_file::{self, Header, HeaderError, RowErrors};
use super::mobile::{Mobile, MobileMap};
use super::numbering::Country;
use crate::diagnostic::{Diagnostic, MAX_PROBLEMS_PER_CAMPAIGN, Pos};

/// Where the opt-out of a number came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OptOutSource {
    /// A row of an opt-out list of the project file.
    File {
        file: Arc<Path>,
        line: u32,
        reason: Option<Box<str>>,
    },
    /// The ledger's opt-out table.
    Ledger {
        /// When it was recorded (RFC 3339); shown as its date.
        at: Box<str>,
        /// Who recorded it (`optout add`, `optout import FILE`, the API): shared between
        /// the rows of one source.
        source: Arc<str>,
        reason: Option<Box<str>>,
    },
}

impl fmt::Display for OptOutSource {
    /// `optouts.csv:12, reason replied STOP`, or
    /// `ledger, 2026-12-01, optout add, reason replied STOP`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = match self {
            OptOutSource::File { file, line, reason } => {
                write!(
                    f,
                    "{}",
                    crate::diagnostic::location(file, Pos::line(*line as usize))
                )?;
                reason
            }
            OptOutSource::Ledger { at, source, reason } => {
                write!(f, "ledger, {}, {source}", at.get(..10).unwrap_or(at))?;
                reason
            }
        };
        match reason {
            Some(reason) => write!(f, ", reason {reason}"),
            None => Ok(()),
        }
    }
}

/// Opted-out numbers, each with the first place it was found opted out.
#[derive(Debug, Default)]
pub(crate) struct OptOuts {
    numbers: MobileMap<OptOutSource>,
}

impl OptOuts {
    /// Adds `mobile` unless it is opted out already (the first source is kept); true if added.
    pub(crate) fn insert(&mut self, mobile: Mobile, source: OptOutSource) -> bool {
        match self.numbers.entry(mobile) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(source);
                true
            }
        }
    }

    pub(crate) fn get(&self, mobile: Mobile) -> Option<&OptOutSource> {
        self.numbers.get(&mobile)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }
}

/// A row of an opt-out list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub mobile: Mobile,
    pub reason: Option<String>,
    /// Its line in the file (the header is line 1).
    pub line: usize,
}

/// An opt-out list, read: its rows, and the problems of the rows that could not be read
/// (`FILE.csv:ROW`, at most [`MAX_PROBLEMS_PER_CAMPAIGN`] listed, the rest counted).
#[derive(Debug, Default)]
pub(crate) struct List {
    pub rows: Vec<Listed>,
    pub problems: Vec<Diagnostic>,
    pub omitted: usize,
}

/// The columns of an opt-out list.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListColumns<'a> {
    /// The column of the numbers (`mobile` by default).
    pub mobile: &'a str,
    /// The column of the reasons (`reason` by default).
    pub reason: &'a str,
    /// Whether a file without the reason column is refused (a column named on the command
    /// line), or has no reasons (the default, and the project file's lists).
    pub reason_required: bool,
}

impl Default for ListColumns<'_> {
    fn default() -> Self {
        ListColumns {
            mobile: "mobile",
            reason: "reason",
            reason_required: false,
        }
    }
}

/// Reads an opt-out list from `bytes` (the contents of `file`) as campaigns' CSV files are
/// read ([`csv_file`](super::csv_file)): split at `delimiter`, or at the one of `,`, `;` and
/// tab its header line has most of; a byte-order mark ignored; the columns found trimmed and
/// ignoring case, other columns ignored. Numbers are read as recipients' are
/// ([`Mobile::read`], with the project's `default_country`). `Err` when the header has no
/// mobile column (or no required reason column); a header row that is not UTF-8 is the
/// list's one problem.
pub(crate) fn read_list(
    file: &Path,
    bytes: &[u8],
    columns: ListColumns<'_>,
    delimiter: Option<u8>,
    default_country: Option<Country>,
) -> Result<List, String> {
    let delimiter = delimiter.unwrap_or_else(|| {
        csv_file::detect_delimiter(&bytes[..bytes.len().min(csv_file::HEADER_PEEK)])
    });
    let mut reader = csv_file::reader(delimiter, bytes);
    let mut list = List::default();
    let header = match Header::read(&mut reader, file) {
        Ok(header) => header,
        Err(HeaderError::NotUtf8(problem)) => {
            list.problems.push(problem);
            return Ok(list);
        }
        Err(HeaderError::Unreadable(message)) => return Err(message),
    };
    let missing = |column: &str| {
        format!(
            "CSV file `{}` has no `{}` column (header row: {})",
            file.display(),
            column.trim(),
            header.shown()
        )
    };
    let mobile = header
        .find(columns.mobile)
        .ok_or_else(|| missing(columns.mobile))?;
    let reason = header.find(columns.reason);
    if reason.is_none() && columns.reason_required {
        return Err(missing(columns.reason));
    }
    let problem = |list: &mut List, problem: Diagnostic| {
        if list.problems.len() < MAX_PROBLEMS_PER_CAMPAIGN {
            list.problems.push(problem);
        } else {
            list.omitted += 1;
        }
    };
    let mut errors = RowErrors::new(file.into());
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line() as usize);
                // A fixed-line number may opt out all the same: its warning is not shown.
                match Mobile::read(&record[mobile], default_country) {
                    Ok(number) => list.rows.push(Listed {
                        mobile: number.mobile,
                        reason: reason
                            .map(|i| &record[i])
                            .filter(|r| !r.is_empty())
                            .map(str::to_owned),
                        line,
                    }),
                    Err(message) => {
                        problem(&mut list, Diagnostic::error(file, Pos::line(line), message));
                    }
                }
            }
            Err(e) => {
                // Rows after one that is not UTF-8 are read on, for their other problems.
                if let Some(p) = errors.problem(&e) {
                    problem(&mut list, p);
                }
                if !csv_file::can_go_on(&e) {
                    break;
                }
            }
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each problem of `list` as `location: message`.
    fn problems(list: &List) -> Vec<String> {
        list.problems
            .iter()
            .map(|d| format!("{}: {}", d.location(), d.message))
            .collect()
    }

    #[test]
    fn a_list_is_read_with_its_reasons_and_its_bad_rows_located() {
        let text = b"Reason,Mobile,extra\nreplied STOP,+91 97399 78284,x\n,919845012345,y\nSTOP,123,z\nonly\n";
        let list = read_list(
            Path::new("optouts.csv"),
            text,
            ListColumns::default(),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            list.rows,
            [
                Listed {
                    mobile: Mobile::from_digits("919739978284").unwrap(),
                    reason: Some("replied STOP".to_owned()),
                    line: 2
                },
                Listed {
                    mobile: Mobile::from_digits("919845012345").unwrap(),
                    reason: None,
                    line: 3
                },
            ]
        );
        let problems = problems(&list);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with(
                "optouts.csv:4: mobile number `123` (read as +1 23) is not a valid number"
            ),
            "{problems:?}"
        );
        assert_eq!(
            problems[1],
            "optouts.csv:5: row has 1 fields, the header has 3"
        );
    }

    #[test]
    fn a_list_without_its_mobile_column_is_refused() {
        let err = read_list(
            Path::new("o.csv"),
            b"phone\n919739978284\n",
            ListColumns::default(),
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(
            err,
            "CSV file `o.csv` has no `mobile` column (header row: `phone`)"
        );
        let list = read_list(
            Path::new("o.csv"),
            b"Phone Number\n919739978284\n",
            ListColumns {
                mobile: "phone number",
                reason: "note",
                reason_required: false,
            },
            None,
            None,
        )
        .unwrap();
        assert_eq!(list.rows.len(), 1);
    }

    #[test]
    fn a_list_is_read_as_campaign_csv_files_are() {
        let read = |text: &[u8], columns: ListColumns<'_>, delimiter: Option<u8>| {
            read_list(Path::new("o.csv"), text, columns, delimiter, None)
        };
        let crm = ListColumns {
            mobile: "Phone Number ",
            reason: "note",
            reason_required: true,
        };
        // `;` and tab detected, a byte-order mark and padded headers.
        for text in [
            &b"\xEF\xBB\xBF Phone Number ;Note\n919739978284;STOP, please\n"[..],
            b"Phone Number\tNote\n919739978284\tSTOP, please\n",
        ] {
            let list = read(text, crm, None).unwrap();
            assert!(list.problems.is_empty(), "{:?}", list.problems);
            assert_eq!(list.rows.len(), 1);
            assert_eq!(list.rows[0].reason.as_deref(), Some("STOP, please"));
        }
        // A given delimiter wins over the header line.
        let list = read(
            b"mobile,reason;x\n919739978284,a;b\n",
            ListColumns::default(),
            Some(b';'),
        );
        assert_eq!(
            list.unwrap_err(),
            "CSV file `o.csv` has no `mobile` column (header row: `mobile,reason`, `x`)"
        );
        // A reason column named on the command line must be there.
        assert_eq!(
            read(b"Phone Number\n919739978284\n", crm, None).unwrap_err(),
            "CSV file `o.csv` has no `note` column (header row: `Phone Number`)"
        );
        // Not UTF-8: one problem at the first row that is not, with how to export again.
        let list = read(
            b"mobile;reason\n919739978284;ok\n919845012345;Jos\xe9\n919880011223;Ren\xe9e\n123;x\n",
            ListColumns::default(),
            None,
        )
        .unwrap();
        let problems = problems(&list);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(
            problems[0],
            "o.csv:3: the file is not UTF-8: this is its first row that is not (later ones are not listed)"
        );
        assert_eq!(
            list.problems[0].help.as_deref(),
            Some(csv_file::NOT_UTF8_HELP)
        );
        assert!(problems[1].starts_with("o.csv:5: mobile number `123`"));
        let list = read(b"T\xe9l\xe9phone\n1\n", ListColumns::default(), None).unwrap();
        assert_eq!(
            list.problems[0].message,
            "the header row is not UTF-8: this file is in another encoding"
        );
    }

    #[test]
    fn sources_say_where_and_why() {
        let file = OptOutSource::File {
            file: Path::new("optouts.csv").into(),
            line: 12,
            reason: None,
        };
        assert_eq!(file.to_string(), "optouts.csv:12");
        let ledger = OptOutSource::Ledger {
            at: "2026-12-01T05:00:00.000Z".into(),
            source: "optout add".into(),
            reason: Some("replied STOP".into()),
        };
        assert_eq!(
            ledger.to_string(),
            "ledger, 2026-12-01, optout add, reason replied STOP"
        );
        let mut optouts = OptOuts::default();
        let m = Mobile::from_digits("919739978284").unwrap();
        assert!(optouts.insert(m, file.clone()));
        assert!(!optouts.insert(m, ledger));
        assert_eq!(optouts.get(m), Some(&file));
    }
}
