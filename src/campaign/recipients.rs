//! Recipients of single sends: inline entries and CSV files, streamed one at a time so a
//! million-row CSV never sits in memory.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::csv_file::{self, Header, HeaderError, RowErrors};
use super::mobile::Mobile;
use super::numbering::Country;
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

/// How a CSV entry says to read its file (`columns:`, `delimiter:`), and the country of
/// its numbers without a country code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CsvOptions {
    /// Recipient field and the column holding it, as mapped in the entry
    /// (`mobile: "Phone Number"`).
    pub columns: Vec<(String, String)>,
    /// `None`: detected from the header line.
    pub delimiter: Option<u8>,
    pub default_country: Option<Country>,
}

/// Why a CSV file cannot be read as recipients, and where to say so.
#[derive(Debug, Clone)]
pub(crate) enum OpenError {
    /// The file as a whole (unreadable, no `mobile` column): at the entry's `file:`.
    File {
        message: String,
        help: Option<String>,
    },
    /// A mapped column the header row lacks: at `columns.FIELD`.
    Column { field: String, message: String },
    /// In the file itself (a header row that is not UTF-8): at `FILE.csv:1`.
    Row(Diagnostic),
}

impl OpenError {
    fn file(message: String) -> OpenError {
        OpenError::File {
            message,
            help: None,
        }
    }

    /// The message, for callers that show it in one place.
    pub(crate) fn message(&self) -> &str {
        match self {
            OpenError::File { message, .. } | OpenError::Column { message, .. } => message,
            OpenError::Row(d) => &d.message,
        }
    }
}

/// A CSV file of recipients whose header has been checked.
#[derive(Debug, Clone)]
pub(crate) struct CsvSource {
    /// The path as shown to people: the campaign file's directory joined with `file:`.
    pub path: Arc<Path>,
    /// As given, with the delimiter detected.
    options: CsvOptions,
    mobile_column: usize,
    name_column: Option<usize>,
    /// The field columns, in file order (a column mapped to two fields is listed twice).
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
    pub(crate) fn open(path: PathBuf, options: CsvOptions) -> Result<CsvSource, OpenError> {
        Self::open_as(path.clone(), &path, options)
    }

    /// Opens `read` (the file, or a copy of it) as the file `path`.
    fn open_as(
        read: PathBuf,
        path: &Path,
        mut options: CsvOptions,
    ) -> Result<CsvSource, OpenError> {
        if options.delimiter.is_none() {
            options.delimiter = Some(detect_delimiter(&read).map_err(OpenError::file)?);
        }
        let mut reader = csv_reader(&read, &options).map_err(OpenError::file)?;
        let header = Header::read(&mut reader, path).map_err(|e| match e {
            HeaderError::NotUtf8(d) => OpenError::Row(d),
            HeaderError::Unreadable(message) => OpenError::file(message),
        })?;
        let names = header.names();
        let find = |name: &str| header.find(name);
        let mapped = |field: &str| {
            options
                .columns
                .iter()
                .find(|(f, _)| f == field)
                .map(|(_, column)| column.as_str())
        };
        let missing = |field: &str, column: &str| OpenError::Column {
            field: field.to_owned(),
            message: format!(
                "CSV file `{}` has no column `{column}` (for `{field}`); its header row: {}",
                path.display(),
                header.shown()
            ),
        };
        let mobile_column = match mapped("mobile") {
            Some(column) => find(column).ok_or_else(|| missing("mobile", column))?,
            None => find("mobile").ok_or_else(|| OpenError::File {
                message: format!(
                    "CSV file `{}` has no `mobile` column (header row: {})",
                    path.display(),
                    header.shown()
                ),
                help: Some(match names.iter().find(|h| looks_like_phone(h)) {
                    Some(column) => format!("map its column: `columns: {{mobile: \"{column}\"}}`"),
                    None => "name the column of the numbers `mobile`, or map it: `columns: {mobile: \"Phone\"}`".to_owned(),
                }),
            })?,
        };
        let name_column = match mapped("name") {
            Some(column) => Some(find(column).ok_or_else(|| missing("name", column))?),
            None => find("name"),
        };
        // Every other mapped field, at its column.
        let mut by_column: Vec<Vec<&str>> = vec![Vec::new(); names.len()];
        for (field, column) in &options.columns {
            if field == "mobile" || field == "name" {
                continue;
            }
            let index = find(column).ok_or_else(|| missing(field, column))?;
            by_column[index].push(field);
        }
        // A column whose name a mapped field has taken is left out: the field is the mapping's.
        let taken = |header: &str| {
            header.eq_ignore_ascii_case("mobile")
                || header.eq_ignore_ascii_case("name")
                || options.columns.iter().any(|(f, _)| f == header)
        };
        let mut field_columns = Vec::new();
        let mut field_names = Vec::new();
        for (index, column) in names.iter().enumerate() {
            if index == mobile_column || Some(index) == name_column {
                continue;
            }
            if by_column[index].is_empty() {
                if !taken(column) {
                    field_columns.push(index);
                    field_names.push(column.clone());
                }
            } else {
                for field in &by_column[index] {
                    field_columns.push(index);
                    field_names.push((*field).to_owned());
                }
            }
        }
        Ok(CsvSource {
            path: path.into(),
            options,
            mobile_column,
            name_column,
            field_columns,
            field_names: field_names.into(),
            pinned: None,
        })
    }

    /// This source reading its rows from `copy` (a snapshot of `path` taken after its header
    /// was read; deleted with the last source using it); messages still name `path`. Fails
    /// when the copy's columns differ: the file changed in between.
    pub(crate) fn pinned_to(&self, copy: PathBuf) -> Result<CsvSource, String> {
        let pinned = Arc::new(PinnedCopy(copy));
        let again = CsvSource::open_as(pinned.0.clone(), &self.path, self.options.clone())
            .map_err(|e| e.message().to_owned())?;
        if (
            again.mobile_column,
            again.name_column,
            &again.field_columns,
            &again.field_names,
        ) != (
            self.mobile_column,
            self.name_column,
            &self.field_columns,
            &self.field_names,
        ) {
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

    /// The file the rows are read from: the pinned copy, or the file itself.
    pub(crate) fn read_path(&self) -> &Path {
        self.pinned.as_ref().map_or(&*self.path, |p| &p.0)
    }

    /// The data rows, each a recipient or a problem of that row (`FILE.csv:ROW`): an error
    /// (the row is left out) or a warning (its recipient comes next). A file that is not
    /// UTF-8 is one error, at its first row that is not; its other rows that are not are
    /// left out unreported.
    pub(crate) fn rows(&self) -> Rows<'_> {
        let reader = csv_reader(self.read_path(), &self.options);
        let mut record = csv::StringRecord::new();
        let mut reader = match reader {
            Ok(reader) => Some(reader),
            Err(message) => {
                // The header was readable moments ago; report, don't panic.
                return either_error(Diagnostic::error(&*self.path, Pos::default(), message));
            }
        };
        let mut first = true;
        let mut errors = RowErrors::new(self.path.clone());
        // The second item of a row with a warning: its recipient.
        let mut pending: Option<(Recipient, Origin)> = None;
        Box::new(std::iter::from_fn(move || {
            if let Some(row) = pending.take() {
                return Some(Ok(row));
            }
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
            loop {
                match reader.read_record(&mut record) {
                    Ok(false) => return None,
                    Ok(true) => {
                        let line = record.position().map_or(0, |p| p.line() as usize);
                        return Some(match self.recipient(&record, line) {
                            Ok((row, None)) => Ok(row),
                            Ok((row, Some(warning))) => {
                                pending = Some(row);
                                Err(warning)
                            }
                            Err(e) => Err(e),
                        });
                    }
                    // Rows after one that is not UTF-8 are read on, for their other
                    // problems; those not UTF-8 either are left out unreported.
                    Err(e) => match errors.problem(&e) {
                        Some(problem) => return Some(Err(problem)),
                        None => continue,
                    },
                }
            }
        }))
    }

    /// The recipient of a row, and the warning about its number, if any.
    fn recipient(
        &self,
        record: &csv::StringRecord,
        line: usize,
    ) -> Result<((Recipient, Origin), Option<Diagnostic>), Diagnostic> {
        let origin = Origin {
            file: self.path.clone(),
            pos: Pos::line(line),
        };
        let reading = Mobile::read(&record[self.mobile_column], self.options.default_country)
            .map_err(|message| Diagnostic::error(&*self.path, Pos::line(line), message))?;
        let warning = reading
            .warning
            .map(|message| Diagnostic::warning(&*self.path, Pos::line(line), message));
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
            (
                Recipient {
                    mobile: reading.mobile,
                    name,
                    fields,
                },
                origin,
            ),
            warning,
        ))
    }
}

/// A header that names a column of phone numbers, for a hint.
fn looks_like_phone(header: &str) -> bool {
    let lower = header.to_ascii_lowercase();
    ["phone", "mobile", "cell", "whatsapp", "number", "tel"]
        .iter()
        .any(|w| lower.contains(w))
}

/// A stream of recipients, each with where it came from, or a problem of an entry: an error
/// (the entry is left out) or a warning (its recipient comes next).
pub(crate) type Rows<'a> = Box<dyn Iterator<Item = Result<(Recipient, Origin), Diagnostic>> + 'a>;

fn either_error<'a>(diagnostic: Diagnostic) -> Rows<'a> {
    Box::new(std::iter::once(Err(diagnostic)))
}

fn csv_reader(path: &Path, options: &CsvOptions) -> Result<csv::Reader<BufReader<File>>, String> {
    let file = open(path)?;
    Ok(csv_file::reader(
        options.delimiter.unwrap_or(b','),
        BufReader::with_capacity(256 * 1024, file),
    ))
}

fn open(path: &Path) -> Result<File, String> {
    File::open(path).map_err(|e| {
        format!(
            "cannot read CSV file `{}`: {}",
            path.display(),
            io_reason(&e)
        )
    })
}

/// The delimiter of the file's header line (see [`csv_file::detect_delimiter`]).
fn detect_delimiter(path: &Path) -> Result<u8, String> {
    let head = csv_file::read_head(&mut open(path)?).map_err(|e| {
        format!(
            "cannot read CSV file `{}`: {}",
            path.display(),
            io_reason(&e)
        )
    })?;
    Ok(csv_file::detect_delimiter(&head))
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
        let source = CsvSource::open(file.path().to_owned(), CsvOptions::default()).unwrap();
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
        let source = CsvSource::open(file.path().to_owned(), CsvOptions::default()).unwrap();
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
        let source = CsvSource::open(file.path().to_owned(), CsvOptions::default()).unwrap();
        let results: Vec<_> = source.rows().collect();
        assert!(results[0].is_ok());
        let errors: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(errors[0].pos, Pos::line(3));
        assert!(
            errors[0].message.contains("not a valid number"),
            "{}",
            errors[0].message
        );
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
        let err = CsvSource::open(file.path().to_owned(), CsvOptions::default()).unwrap_err();
        let err = err.message();
        assert!(
            err.contains("no `mobile` column (header row: `phone`, `name`)"),
            "{err}"
        );
        let err = CsvSource::open(PathBuf::from("/nonexistent/x.csv"), CsvOptions::default())
            .unwrap_err();
        let err = err.message();
        assert!(err.ends_with("No such file or directory"), "{err}");
    }

    #[test]
    fn mapped_columns_become_the_fields_they_name_and_shadow_columns_of_that_name() {
        let file = csv_file(
            b"\xEF\xBB\xBF Phone Number ;First Name;Town;city;Order Id\n+91 97399 78284;Partha;Pune;x;A-1\n",
        );
        let options = CsvOptions {
            columns: vec![
                ("mobile".to_owned(), "phone number".to_owned()),
                ("name".to_owned(), "First Name".to_owned()),
                ("city".to_owned(), "town".to_owned()),
            ],
            ..CsvOptions::default()
        };
        let source = CsvSource::open(file.path().to_owned(), options).unwrap();
        let rows: Vec<_> = source.rows().collect::<Result<_, _>>().unwrap();
        let (recipient, _) = &rows[0];
        assert_eq!(recipient.mobile.to_string(), "919739978284");
        assert_eq!(recipient.name.as_deref(), Some("Partha"));
        let fields: Vec<_> = recipient.fields.iter().collect();
        assert_eq!(fields, [("city", "Pune"), ("Order Id", "A-1")]);
    }
}
