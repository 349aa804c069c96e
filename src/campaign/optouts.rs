//! Opt-outs as the planner sees them: numbers no campaign messages, each with where its
//! opt-out came from; and opt-out lists, CSV files of a mobile column and an optional
//! reason (the project file's `suppressions:`, and `optout import FILE.csv`).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

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

/// Reads an opt-out list from `bytes` (the contents of `file`): a CSV file whose header has
/// `mobile_column` and maybe `reason_column` (names matched without regard to case; other
/// columns are ignored). Numbers are read as recipients' are ([`Mobile::read`], with the
/// project's `default_country`). `Err` when the header has no `mobile_column`.
pub(crate) fn read_list(
    file: &Path,
    bytes: &[u8],
    (mobile_column, reason_column): (&str, &str),
    default_country: Option<Country>,
) -> Result<List, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| {
            format!(
                "cannot read the header row of CSV file `{}`: {e}",
                file.display()
            )
        })?
        .clone();
    let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let Some(mobile) = find(mobile_column) else {
        let columns: Vec<_> = headers.iter().map(|h| format!("`{h}`")).collect();
        return Err(format!(
            "CSV file `{}` has no `{mobile_column}` column (header row: {})",
            file.display(),
            if columns.is_empty() {
                "empty".to_owned()
            } else {
                columns.join(", ")
            }
        ));
    };
    let reason = find(reason_column);
    let mut list = List::default();
    let problem = |list: &mut List, line: usize, message: String| {
        if list.problems.len() < MAX_PROBLEMS_PER_CAMPAIGN {
            list.problems
                .push(Diagnostic::error(file, Pos::line(line), message));
        } else {
            list.omitted += 1;
        }
    };
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
                    Err(message) => problem(&mut list, line, message),
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                let message = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "row is not valid UTF-8".to_owned(),
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("row has {len} fields, the header has {expected_len}"),
                    _ => e.to_string(),
                };
                problem(&mut list, line, message);
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
                ) {
                    // Anything else (an I/O error) does not let the reader go on.
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

    #[test]
    fn a_list_is_read_with_its_reasons_and_its_bad_rows_located() {
        let text = b"Reason,Mobile,extra\nreplied STOP,+91 97399 78284,x\n,919845012345,y\nSTOP,123,z\nonly\n";
        let list = read_list(Path::new("optouts.csv"), text, ("mobile", "reason"), None).unwrap();
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
        let problems: Vec<String> = list
            .problems
            .iter()
            .map(|d| format!("{}: {}", d.location(), d.message))
            .collect();
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
            ("mobile", "reason"),
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
            ("phone number", "note"),
            None,
        )
        .unwrap();
        assert_eq!(list.rows.len(), 1);
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
