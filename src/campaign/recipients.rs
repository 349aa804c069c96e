//! Recipients of single sends: inline entries and CSV files, streamed one at a time so a
//! million-row CSV never sits in memory.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::mobile::Mobile;
use crate::diagnostic::{Diagnostic, Pos, io_reason};

/// One recipient of a single send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recipient {
    pub mobile: Mobile,
    pub name: Option<String>,
    /// Extra fields (every CSV column but `mobile` and `name`).
    pub fields: Fields,
}

impl Recipient {
    /// A field as templates see it (`recipient.X`): `mobile`, `name` or a CSV column.
    pub(crate) fn field(&self, name: &str) -> Option<String> {
        match name {
            "mobile" => Some(self.mobile.to_string()),
            "name" => self.name.clone(),
            other => self.fields.get(other).map(str::to_owned),
        }
    }
}

/// Field names are shared by every row of a CSV file; only the values are per row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Fields {
    names: Arc<[String]>,
    values: Vec<String>,
}

impl Fields {
    pub(crate) fn new(names: Arc<[String]>, values: Vec<String>) -> Fields {
        debug_assert_eq!(names.len(), values.len());
        Fields { names, values }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| self.values[i].as_str())
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.names
            .iter()
            .map(String::as_str)
            .zip(self.values.iter().map(String::as_str))
    }
}

/// Where a recipient came from, for messages: the campaign file and the entry's position,
/// or the CSV file and row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub file: Arc<Path>,
    pub pos: Pos,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::diagnostic::location(&self.file, self.pos))
    }
}

/// One entry of `recipients:`.
#[derive(Debug, Clone)]
pub(crate) enum RecipientSource {
    Inline(Recipient, Origin),
    Csv(CsvSource),
}

/// A CSV file of recipients whose header has been checked.
#[derive(Debug, Clone)]
pub(crate) struct CsvSource {
    /// The path as shown to people: the campaign file's directory joined with `file:`.
    pub path: Arc<Path>,
    mobile_column: usize,
    name_column: Option<usize>,
    /// Every other column, in file order.
    field_columns: Vec<usize>,
    field_names: Arc<[String]>,
    /// Where the rows are read from when not `path`: a copy pinned at load time (the
    /// daemon keeps sending the version it validated, even if the file is edited badly).
    pinned: Option<Arc<PinnedCopy>>,
}

/// A private copy of a CSV file, deleted when the last campaign using it is dropped.
#[derive(Debug)]
pub(crate) struct PinnedCopy(PathBuf);

impl Drop for PinnedCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl CsvSource {
    /// Opens the file and checks its header row. The rows are read by [`CsvSource::rows`].
    pub(crate) fn open(path: PathBuf) -> Result<CsvSource, String> {
        let mut reader = csv_reader(&path)?;
        let headers = reader
            .headers()
            .map_err(|e| {
                format!(
                    "cannot read the header row of CSV file `{}`: {e}",
                    path.display()
                )
            })?
            .clone();
        let find = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let Some(mobile_column) = find("mobile") else {
            let columns: Vec<_> = headers.iter().map(|h| format!("`{h}`")).collect();
            return Err(format!(
                "CSV file `{}` has no `mobile` column (header row: {})",
                path.display(),
                if columns.is_empty() {
                    "empty".to_owned()
                } else {
                    columns.join(", ")
                }
            ));
        };
        let name_column = find("name");
        let field_columns: Vec<usize> = (0..headers.len())
            .filter(|i| *i != mobile_column && Some(*i) != name_column)
            .collect();
        let field_names = field_columns
            .iter()
            .map(|i| headers[*i].to_owned())
            .collect();
        Ok(CsvSource {
            path: path.into(),
            mobile_column,
            name_column,
            field_columns,
            field_names,
            pinned: None,
        })
    }

    /// This source reading its rows from `copy` (a snapshot of `path` taken after its header
    /// was read; deleted with the last source using it); messages still name `path`. Fails
    /// when the copy's columns differ: the file changed in between.
    pub(crate) fn pinned_to(&self, copy: PathBuf) -> Result<CsvSource, String> {
        let pinned = Arc::new(PinnedCopy(copy));
        let again = CsvSource::open(pinned.0.clone())?;
        if (again.mobile_column, again.name_column, &again.field_names)
            != (self.mobile_column, self.name_column, &self.field_names)
        {
            return Err(format!(
                "CSV file `{}` changed while it was being read (its header row differs); run again",
                self.path.display()
            ));
        }
        Ok(CsvSource {
            pinned: Some(pinned),
            ..self.clone()
        })
    }

    /// The data rows, each a recipient or the problem with that row (`FILE.csv:ROW`).
    /// The file the rows are read from: the pinned copy, or the file itself.
    pub(crate) fn read_path(&self) -> &Path {
        self.pinned.as_ref().map_or(&*self.path, |p| &p.0)
    }

    pub(crate) fn rows(&self) -> Rows<'_> {
        let reader = csv_reader(self.read_path());
        let mut record = csv::StringRecord::new();
        let mut reader = match reader {
            Ok(reader) => Some(reader),
            Err(message) => {
                // The header was readable moments ago; report, don't panic.
                return either_error(Diagnostic::error(&*self.path, Pos::default(), message));
            }
        };
        let mut first = true;
        Box::new(std::iter::from_fn(move || {
            let reader = reader.as_mut()?;
            if first {
                first = false;
                if let Err(e) = reader.headers() {
                    return Some(Err(Diagnostic::error(
                        &*self.path,
                        Pos::line(1),
                        e.to_string(),
                    )));
                }
            }
            match reader.read_record(&mut record) {
                Ok(false) => None,
                Ok(true) => {
                    let line = record.position().map_or(0, |p| p.line() as usize);
                    Some(self.recipient(&record, line))
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
                    Some(Err(Diagnostic::error(
                        &*self.path,
                        Pos::line(line),
                        message,
                    )))
                }
            }
        }))
    }

    fn recipient(
        &self,
        record: &csv::StringRecord,
        line: usize,
    ) -> Result<(Recipient, Origin), Diagnostic> {
        let origin = Origin {
            file: self.path.clone(),
            pos: Pos::line(line),
        };
        let mobile = Mobile::parse(&record[self.mobile_column])
            .map_err(|message| Diagnostic::error(&*self.path, Pos::line(line), message))?;
        let name = self
            .name_column
            .map(|i| &record[i])
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let values = self
            .field_columns
            .iter()
            .map(|i| record[*i].to_owned())
            .collect();
        let fields = Fields::new(self.field_names.clone(), values);
        Ok((
            Recipient {
                mobile,
                name,
                fields,
            },
            origin,
        ))
    }
}

/// A stream of recipients, each with where it came from, or the problem with an entry.
pub(crate) type Rows<'a> = Box<dyn Iterator<Item = Result<(Recipient, Origin), Diagnostic>> + 'a>;

fn either_error<'a>(diagnostic: Diagnostic) -> Rows<'a> {
    Box::new(std::iter::once(Err(diagnostic)))
}

fn csv_reader(path: &Path) -> Result<csv::Reader<BufReader<File>>, String> {
    let file = File::open(path).map_err(|e| {
        format!(
            "cannot read CSV file `{}`: {}",
            path.display(),
            io_reason(&e)
        )
    })?;
    Ok(csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(BufReader::with_capacity(256 * 1024, file)))
}

/// Every recipient of a campaign in file order: inline entries and CSV rows.
pub(crate) fn stream(
    sources: &[RecipientSource],
) -> impl Iterator<Item = Result<(Recipient, Origin), Diagnostic>> + '_ {
    sources.iter().flat_map(|source| -> Rows<'_> {
        match source {
            RecipientSource::Inline(recipient, origin) => {
                Box::new(std::iter::once(Ok((recipient.clone(), origin.clone()))))
            }
            RecipientSource::Csv(csv) => csv.rows(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn csv_file(text: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::Builder::new().suffix(".csv").tempfile().unwrap();
        file.write_all(text).unwrap();
        file
    }

    #[test]
    fn csv_rows_become_recipients_with_fields() {
        let file =
            csv_file(b"Name,mobile,city\nPartha,+91 97399 78284,Bengaluru\n,919800000001,Pune\n");
        let source = CsvSource::open(file.path().to_owned()).unwrap();
        let rows: Vec<_> = source.rows().collect::<Result<_, _>>().unwrap();
        assert_eq!(rows.len(), 2);
        let (first, origin) = &rows[0];
        assert_eq!(first.mobile.to_string(), "919739978284");
        assert_eq!(first.name.as_deref(), Some("Partha"));
        assert_eq!(first.fields.get("city"), Some("Bengaluru"));
        assert_eq!(origin.pos, Pos::line(2));
        assert_eq!(rows[1].0.name, None);
    }

    #[test]
    fn a_pinned_copy_is_read_in_place_of_the_file_deleted_with_it_and_checked_for_changes() {
        let file = csv_file(b"mobile,name\n919739978284,Original\n");
        let source = CsvSource::open(file.path().to_owned()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.csv");
        std::fs::copy(file.path(), &copy).unwrap();
        let pinned = source.pinned_to(copy.clone()).unwrap();
        std::fs::write(file.path(), "mobile,name\n919739978284,Edited\n").unwrap();
        let rows: Vec<_> = pinned.rows().collect::<Result<_, _>>().unwrap();
        assert_eq!(rows[0].0.name.as_deref(), Some("Original"));
        assert_eq!(
            rows[0].1.file, source.path,
            "messages name the file, not the copy"
        );
        drop(rows);
        drop(pinned);
        assert!(!copy.exists(), "the copy outlived its last source");

        // A copy whose columns differ from the header read: the file changed in between.
        let changed = dir.path().join("changed.csv");
        std::fs::write(&changed, "name,mobile\nEdited,919739978284\n").unwrap();
        let error = source.pinned_to(changed.clone()).unwrap_err();
        assert!(error.contains("changed while it was being read"), "{error}");
        assert!(!changed.exists());
    }

    #[test]
    fn csv_problems_name_the_row() {
        let file =
            csv_file(b"mobile,name\n919739978284,A\n123,B\n919739978285\n91973997\xff8286,C\n");
        let source = CsvSource::open(file.path().to_owned()).unwrap();
        let results: Vec<_> = source.rows().collect();
        assert!(results[0].is_ok());
        let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(errors[0].pos, Pos::line(3));
        assert!(errors[0].message.contains("3 digits"));
        assert_eq!(errors[1].pos, Pos::line(4));
        assert!(
            errors[1].message.contains("1 fields"),
            "{}",
            errors[1].message
        );
        assert_eq!(errors[2].pos, Pos::line(5));
        assert!(errors[2].message.contains("UTF-8"));
    }

    #[test]
    fn csv_without_mobile_column_is_rejected() {
        let file = csv_file(b"phone,name\n919739978284,A\n");
        let err = CsvSource::open(file.path().to_owned()).unwrap_err();
        assert!(
            err.contains("no `mobile` column (header row: `phone`, `name`)"),
            "{err}"
        );
        let err = CsvSource::open(PathBuf::from("/nonexistent/x.csv")).unwrap_err();
        assert!(err.ends_with("No such file or directory"), "{err}");
    }
}
