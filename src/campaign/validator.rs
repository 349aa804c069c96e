//! Turns loaded files into validated campaigns, collecting every problem of every file:
//! YAML syntax, the JSON Schema, and the rules a schema cannot express (cron syntax, time
//! zones, phone numbers, CSV headers, template variables, unique names).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::catalogue::Request;
use super::document::{Document, pointer_push};
use super::file::{CampaignFile, Columns, Delimiter, MobileValue, RecipientEntry, ScheduleSpec};
use super::loader::Source;
use super::mobile::{Mobile, Reading};
use super::numbering::Country;
use super::project::Project;
use super::recipients::{
    CsvOptions, CsvSource, Fields, OpenError, Origin, Recipient, RecipientSource,
};
use super::renderer::{RESERVED, Renderer, Templates};
use super::schema;
use super::window::Window;
use super::{Audience, Campaign, Kind, Param};
use crate::diagnostic::{Diagnostic, Diagnostics, MAX_PROBLEMS_PER_CAMPAIGN, Pos, did_you_mean};
use crate::schedule::cron::Cron;
use crate::schedule::{DEFAULT_CATCH_UP, Schedule, When, parse_duration};

/// Language codes Meta is known to accept; others that are well formed only warn.
static KNOWN_LANGUAGES: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("whatsapp-template-languages.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
});

/// The result of validating a set of files: the campaigns that are fully valid, and every
/// problem found. A caller that sends must refuse when `diagnostics.has_errors()`.
#[derive(Debug, Default)]
pub(crate) struct Validated {
    pub campaigns: Vec<Campaign>,
    pub diagnostics: Diagnostics,
}

/// Validates every source (statically: rendering per recipient happens in the planner,
/// which streams the recipients).
pub(crate) fn validate(sources: &[Source], project: &Project) -> Validated {
    let mut out = Validated::default();
    let mut names: HashMap<String, Arc<Path>> = HashMap::new();
    for source in sources {
        let mut problems = FileProblems::new(source);
        let campaign = check_file(source, project, &mut problems);
        if let Some((campaign, doc)) = campaign {
            if let Some(first) = names.get(&campaign.name) {
                let pos = doc
                    .as_ref()
                    .map_or(Pos::new(1, 1, 1), |d| d.value_pos("/name"));
                problems.error_at(
                    pos,
                    format!(
                        "campaign name `{}` is already used by {}",
                        campaign.name,
                        first.display()
                    ),
                    Some("names must be unique: they key the send ledger".to_owned()),
                );
            } else {
                names.insert(campaign.name.clone(), campaign.file.clone());
            }
            if problems.has_errors() {
                // The planner never streams an invalid campaign: check its CSV rows here so
                // their problems are reported in the same run.
                check_csv_rows(&campaign, &mut problems);
            } else {
                out.campaigns.push(campaign);
            }
        }
        out.diagnostics.extend(problems.items);
    }
    out
}

/// Reports the bad rows of an invalid campaign's CSV files (up to the planner's cap).
fn check_csv_rows(campaign: &Campaign, problems: &mut FileProblems<'_>) {
    let Audience::Recipients(sources) = &campaign.audience else {
        return;
    };
    let bad_rows = sources
        .iter()
        .filter_map(|s| match s {
            RecipientSource::Csv(csv) => Some(csv.rows()),
            RecipientSource::Inline(..) => None,
        })
        .flatten()
        .filter_map(Result::err)
        .take(MAX_PROBLEMS_PER_CAMPAIGN);
    for d in bad_rows {
        problems.items.push(d);
    }
}

struct FileProblems<'a> {
    source: &'a Source,
    items: Vec<Diagnostic>,
}

impl<'a> FileProblems<'a> {
    fn new(source: &'a Source) -> Self {
        FileProblems {
            source,
            items: Vec::new(),
        }
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic.with_source(&self.source.text));
    }

    fn error_at(&mut self, pos: Pos, message: String, help: Option<String>) {
        let mut d = Diagnostic::error(&*self.source.path, pos, message);
        d.help = help;
        self.push(d);
    }

    fn warning_at(&mut self, pos: Pos, message: String, help: Option<String>) {
        let mut d = Diagnostic::warning(&*self.source.path, pos, message);
        d.help = help;
        self.push(d);
    }

    fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }
}

/// Checks one file; returns the campaign (possibly with errors recorded) and its document.
fn check_file(
    source: &Source,
    project: &Project,
    problems: &mut FileProblems<'_>,
) -> Option<(Campaign, Option<Document>)> {
    let doc = match Document::parse(&source.text) {
        Ok(doc) => doc,
        Err(e) => {
            problems.error_at(e.pos, e.message, None);
            return None;
        }
    };
    if doc.value.is_null() {
        problems.error_at(
            Pos::new(1, 1, 1),
            "empty campaign file".to_owned(),
            Some("a campaign needs at least `template`, `language`, `params` and `recipients` or `search`".to_owned()),
        );
        return None;
    }
    let schema_problems = schema::check(&doc);
    for p in &schema_problems {
        let pos = if p.at_key {
            doc.key_pos(&p.pointer)
        } else {
            doc.value_pos(&p.pointer)
        };
        problems.error_at(pos, p.message.clone(), p.help.clone());
    }
    let bad: Vec<&str> = schema_problems.iter().map(|p| p.pointer.as_str()).collect();
    let file = lenient_parse(&doc, &bad)?;
    let entries = recipient_entries(&doc, &bad, problems);
    let campaign = build(source, project, &doc, file, entries, problems)?;
    Some((campaign, Some(doc)))
}

/// Deserializes what the schema accepted, leaving out the values that have schema problems
/// so the remaining rules still get checked and every problem is reported at once. A
/// top-level key whose remains still do not fit its type (`media` without a valid `type`,
/// say) is left out whole.
fn lenient_parse(doc: &Document, bad: &[&str]) -> Option<CampaignFile> {
    let mut value = doc.value.clone();
    for pointer in bad {
        remove(&mut value, pointer);
    }
    let object = value.as_object_mut()?;
    let mut keys: Vec<String> = bad
        .iter()
        .filter_map(|p| tokens(p).into_iter().next())
        .collect();
    keys.dedup();
    for key in keys {
        if let Some(rest) = object.get(&key) {
            // Every field is optional, so a one-key object deserializes iff that key fits.
            let alone = Value::Object([(key.clone(), rest.clone())].into_iter().collect());
            if serde_json::from_value::<CampaignFile>(alone).is_err() {
                object.remove(&key);
            }
        }
    }
    // Recipient entries are read one by one in `recipient_entries`.
    if object.contains_key("recipients") {
        object.insert("recipients".to_owned(), Value::Array(Vec::new()));
    }
    serde_json::from_value(value).ok()
}

fn tokens(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Removes the value at `pointer`, or, inside a list, the whole list: removing one element
/// would renumber the elements after it.
fn remove(value: &mut Value, pointer: &str) {
    let mut path = tokens(pointer);
    let mut node = &*value;
    for (depth, token) in path.iter().enumerate() {
        if node.is_array() {
            path.truncate(depth.max(1));
            break;
        }
        match node.get(token) {
            Some(child) => node = child,
            None => break,
        }
    }
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut parent = &mut *value;
    for token in parents {
        match parent.get_mut(token) {
            Some(child) => parent = child,
            None => return,
        }
    }
    if let Some(object) = parent.as_object_mut() {
        object.remove(last);
    }
}

/// The recipient entries without schema problems, with their index. An entry that passes
/// the schema but still does not fit the types is reported, never dropped.
fn recipient_entries(
    doc: &Document,
    bad: &[&str],
    problems: &mut FileProblems<'_>,
) -> Option<Vec<(usize, RecipientEntry)>> {
    let items = doc.value.get("recipients")?.as_array()?;
    let mut entries = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("/recipients/{i}");
        if bad
            .iter()
            .any(|p| *p == prefix || p.starts_with(&format!("{prefix}/")))
        {
            continue;
        }
        match serde_json::from_value(item.clone()) {
            Ok(entry) => entries.push((i, entry)),
            Err(e) => problems.error_at(
                doc.value_pos(&prefix),
                format!("`recipients[{i}]`: {e}"),
                None,
            ),
        }
    }
    Some(entries)
}

fn build(
    source: &Source,
    project: &Project,
    doc: &Document,
    file: CampaignFile,
    entries: Option<Vec<(usize, RecipientEntry)>>,
    problems: &mut FileProblems<'_>,
) -> Option<Campaign> {
    let path = &source.path;
    let name = match file.name {
        Some(name) => name,
        None => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let valid = stem
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                && stem
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !valid {
                problems.error_at(
                    Pos::new(1, 1, 1),
                    format!("the file name `{stem}` is not a valid campaign name"),
                    Some("add `name:` with lowercase letters, digits, `-` and `_`, or rename the file".to_owned()),
                );
            }
            stem
        }
    };

    let template = file.template.clone().unwrap_or_default();
    let language = file.language.clone().unwrap_or_default();
    if doc.value.get("language").and_then(Value::as_str) == Some(&language)
        && !KNOWN_LANGUAGES.contains(language.as_str())
    {
        problems.warning_at(
            doc.value_pos("/language"),
            format!("`{language}` is not a language code known to be accepted by WhatsApp"),
            Some("check the template's language in WhatsApp Manager; Meta adds regional codes over time".to_owned()),
        );
    }

    for key in file.vars.keys() {
        let pos = doc.key_pos(&pointer_push("/vars", key));
        if RESERVED.contains(&key.as_str()) {
            problems.error_at(
                pos,
                format!("`vars.{key}` would hide the built-in `{key}` variable"),
                Some("rename it".to_owned()),
            );
        } else if !is_identifier(key) {
            problems.error_at(
                pos,
                format!("`vars.{key}` cannot be used in a template"),
                Some(
                    "variable names are letters, digits and `_`, not starting with a digit"
                        .to_owned(),
                ),
            );
        }
    }

    let params_given = file.params.is_some();
    let params: Vec<Param> = file
        .params
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, template)| Param {
            template,
            pos: doc.value_pos(&format!("/params/{i}")),
        })
        .collect();

    // Params are checked even when the audience or schedule is invalid: all problems at once.
    let kind = if doc.value.get("search").is_some() && doc.value.get("recipients").is_none() {
        Kind::Blast
    } else {
        Kind::Single
    };
    if let Err(diagnostics) = Renderer::new(Templates {
        name: &name,
        file: path,
        source: &source.text,
        params: &params,
        vars: &file.vars,
        kind,
    }) {
        for d in diagnostics {
            problems.push(d);
        }
    }

    let country = default_country(file.default_country.as_deref(), project, doc, problems);
    let audience = match (entries, file.search) {
        (Some(_), Some(_)) => {
            problems.error_at(
                doc.key_pos("/search"),
                "give either `recipients` or `search`, not both".to_owned(),
                Some("`recipients` sends one message per listed number; `search` sends one bulk message to matching contacts".to_owned()),
            );
            None
        }
        (None, None)
            if doc.value.get("recipients").is_none() && doc.value.get("search").is_none() =>
        {
            problems.error_at(
                Pos::new(1, 1, 1),
                "missing `recipients` or `search`: a campaign needs an audience".to_owned(),
                None,
            );
            None
        }
        (None, None) => None,
        (Some(entries), None) => Some(Audience::Recipients(recipients(
            path, doc, entries, country, problems,
        ))),
        (None, Some(search)) => Some(Audience::Search(search)),
    };

    let schedule = file
        .schedule
        .and_then(|spec| schedule(&spec, doc, problems));
    let window = match &file.window {
        None => project.window.clone(),
        Some(spec) => match Window::located(spec, doc, "/window") {
            Ok(window) => Some(Arc::new(window)),
            Err(located) => {
                for (pos, message) in located {
                    problems.error_at(pos, message, None);
                }
                None
            }
        },
    };

    // A key with a schema problem (reported above) is not checked against the catalogue.
    let template_info = project.catalogue.as_ref().and_then(|catalogue| {
        let request = Request {
            template: file.template.as_deref()?,
            language: file.language.as_deref(),
            params: params_given.then_some(params.len()),
            media: match (&file.media, doc.value.get("media")) {
                (Some(media), _) => Some(Some(media.kind)),
                (None, None) => Some(None),
                (None, Some(_)) => None,
            },
        };
        let (found, mismatches) = catalogue.check(doc, &request);
        for m in mismatches {
            problems.error_at(m.pos, m.message, m.help);
        }
        found
    });

    let campaign = Campaign {
        name,
        file: path.clone(),
        description: file.description,
        template,
        template_info,
        language,
        media: file.media,
        tag: file.tag,
        vars: file.vars,
        params,
        audience: audience?,
        audience_pos: match kind {
            Kind::Single => doc.key_pos("/recipients"),
            Kind::Blast => doc.key_pos("/search"),
        },
        schedule: if doc.value.get("schedule").is_some() {
            Some(schedule?)
        } else {
            None
        },
        window,
        enabled: file.enabled,
        source: source.text.clone(),
    };
    Some(campaign)
}

fn is_identifier(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The country of the campaign's numbers without a country code: its own `default_country`,
/// else the project's. An unknown one is reported, and the project's is used in its place,
/// so the numbers are still checked.
fn default_country(
    code: Option<&str>,
    project: &Project,
    doc: &Document,
    problems: &mut FileProblems<'_>,
) -> Option<Country> {
    let Some(code) = code else {
        return project.default_country;
    };
    match Country::from_code(code) {
        Some(country) => Some(country),
        None => {
            problems.error_at(
                doc.value_pos("/default_country"),
                format!("unknown country `{code}`: libphonenumber has no numbers for it"),
                Some(Country::hint(code)),
            );
            project.default_country
        }
    }
}

fn recipients(
    path: &Arc<Path>,
    doc: &Document,
    entries: Vec<(usize, RecipientEntry)>,
    country: Option<Country>,
    problems: &mut FileProblems<'_>,
) -> Vec<RecipientSource> {
    let mut out = Vec::new();
    for (i, entry) in entries {
        let at = format!("/recipients/{i}");
        let origin = Origin {
            file: path.clone(),
            pos: doc.value_pos(&at),
        };
        match (entry.mobile, entry.file) {
            (Some(_), Some(_)) => problems.error_at(
                doc.key_pos(&format!("{at}/file")),
                format!("`recipients[{i}]` has both `mobile` and `file`"),
                Some("list a recipient (`mobile`, `name`, fields) or a CSV file (`file`), one per entry".to_owned()),
            ),
            (None, Some(csv)) => {
                if entry.name.is_some() || !entry.fields.is_empty() {
                    problems.error_at(
                        origin.pos,
                        format!("`recipients[{i}]` is a CSV file entry and takes no other keys"),
                        Some("put names and fields in the CSV columns".to_owned()),
                    );
                }
                let csv_path = path.parent().unwrap_or(Path::new("")).join(&csv);
                let options = CsvOptions {
                    columns: entry.columns.as_ref().map(Columns::pairs).unwrap_or_default(),
                    delimiter: entry.delimiter.map(Delimiter::byte),
                    default_country: country,
                };
                match CsvSource::open(csv_path, options) {
                    Ok(source) => out.push(RecipientSource::Csv(source)),
                    Err(OpenError::File { message, help }) => {
                        problems.error_at(doc.value_pos(&format!("{at}/file")), message, help);
                    }
                    Err(OpenError::Column { field, message }) => problems.error_at(
                        doc.value_pos(&pointer_push(&format!("{at}/columns"), &field)),
                        message,
                        None,
                    ),
                    // Located in the CSV file: no line of the campaign file under it.
                    Err(OpenError::Row(d)) => problems.items.push(d),
                }
            }
            (_, None) if entry.columns.is_some() || entry.delimiter.is_some() => problems.error_at(
                doc.key_pos(&format!(
                    "{at}/{}",
                    if entry.columns.is_some() { "columns" } else { "delimiter" }
                )),
                format!("`recipients[{i}]`: `columns` and `delimiter` are for CSV file entries (`file`)"),
                None,
            ),
            (None, None) => {
                let known = ["mobile".to_owned(), "file".to_owned()];
                let hint = entry
                    .fields
                    .keys()
                    .find_map(|k| did_you_mean(k, &known).map(|best| format!("`{k}`: did you mean `{best}`?")));
                problems.error_at(
                    origin.pos,
                    format!("`recipients[{i}]` has no `mobile` (or `file` for a CSV file)"),
                    hint,
                );
            }
            (Some(MobileValue::Number(n)), None) if n.is_f64() => problems.error_at(
                doc.value_pos(&format!("{at}/mobile")),
                format!("mobile number `{n}` is not written as digits"),
                Some("quote phone numbers: mobile: \"919739978284\"".to_owned()),
            ),
            (Some(mobile), None) => match Mobile::read(&mobile.to_text(), country) {
                Ok(Reading { mobile, warning }) => {
                    if let Some(warning) = warning {
                        problems.warning_at(doc.value_pos(&format!("{at}/mobile")), warning, None);
                    }
                    let (names, values): (Vec<String>, Vec<String>) =
                        entry.fields.iter().map(|(k, v)| (k.clone(), v.to_text())).unzip();
                    let recipient = Recipient {
                        mobile,
                        name: entry.name,
                        fields: Fields::new(names.into(), values),
                    };
                    out.push(RecipientSource::Inline(recipient, origin));
                }
                Err(message) => problems.error_at(doc.value_pos(&format!("{at}/mobile")), message, None),
            },
        }
    }
    out
}

fn schedule(
    spec: &ScheduleSpec,
    doc: &Document,
    problems: &mut FileProblems<'_>,
) -> Option<Schedule> {
    let timezone = match &spec.timezone {
        None => Some(Tz::UTC),
        Some(name) => {
            match Tz::from_str(name) {
                Ok(tz) => Some(tz),
                Err(_) => {
                    let names: Vec<String> = chrono_tz::TZ_VARIANTS
                        .iter()
                        .map(|tz| tz.name().to_owned())
                        .collect();
                    let help = names
                    .iter()
                    .find(|n| n.eq_ignore_ascii_case(name))
                    .map(String::as_str)
                    // Abbreviations (IST, CET) are too short for a spelling hint: IST is
                    // one letter from EST, half a world away.
                    .or_else(|| if name.len() > 4 { did_you_mean(name, &names) } else { None })
                    .map_or_else(
                        || "use an IANA time zone name such as Asia/Kolkata, Europe/London or UTC".to_owned(),
                        |best| format!("did you mean `{best}`?"),
                    );
                    problems.error_at(
                        doc.value_pos("/schedule/timezone"),
                        format!("unknown time zone `{name}`"),
                        Some(help),
                    );
                    None
                }
            }
        }
    };
    let catch_up = match &spec.catch_up {
        None => Some(DEFAULT_CATCH_UP),
        Some(text) => match parse_duration(text) {
            Some(d) if d >= TimeDelta::seconds(1) => Some(d),
            Some(_) => {
                problems.error_at(
                    doc.value_pos("/schedule/catch_up"),
                    "`catch_up` must be at least 1s".to_owned(),
                    None,
                );
                None
            }
            None => {
                problems.error_at(
                    doc.value_pos("/schedule/catch_up"),
                    format!("invalid duration `{text}`"),
                    Some("use a number with h, m or s: 90s, 15m, 2h, 1h30m".to_owned()),
                );
                None
            }
        },
    };
    let when = match (&spec.cron, &spec.at) {
        (Some(_), Some(_)) => {
            problems.error_at(
                doc.key_pos("/schedule/at"),
                "give either `schedule.cron` or `schedule.at`, not both".to_owned(),
                Some("`cron` repeats; `at` is one occurrence".to_owned()),
            );
            None
        }
        (None, None) => {
            problems.error_at(
                doc.key_pos("/schedule"),
                "`schedule` needs `cron` (repeating) or `at` (once)".to_owned(),
                None,
            );
            None
        }
        (Some(expr), None) => {
            match Cron::parse(expr) {
                Ok(cron) if cron.next_after(DateTime::UNIX_EPOCH, Tz::UTC).is_none() => {
                    problems.error_at(
                    doc.value_pos("/schedule/cron"),
                    format!("cron expression `{expr}` never fires"),
                    Some("check the day of month against the month (e.g. there is no 30 February)".to_owned()),
                );
                    None
                }
                Ok(cron) => Some(When::Cron(Box::new(cron))),
                Err(e) => {
                    problems.error_at(doc.value_pos("/schedule/cron"), e.to_string(), None);
                    None
                }
            }
        }
        (None, Some(at)) => match DateTime::parse_from_rfc3339(at) {
            // Occurrences are keyed to the second.
            Ok(t) => Some(When::At(
                t.with_timezone(&Utc)
                    .with_nanosecond(0)
                    .unwrap_or_else(|| t.with_timezone(&Utc)),
            )),
            Err(_) => {
                problems.error_at(
                    doc.value_pos("/schedule/at"),
                    format!("`{at}` is not an RFC 3339 time"),
                    Some("write the date, time and offset, e.g. 2026-11-24T09:00:00+05:30 or 2026-11-24T03:30:00Z".to_owned()),
                );
                None
            }
        },
    };
    Some(Schedule {
        when: when?,
        timezone: timezone?,
        catch_up: catch_up?,
    })
}
