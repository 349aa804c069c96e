//! The project file, `campaignctl.yaml`: what applies to every campaign of a repository.
//! Optional: without one, every setting keeps its default. Like a campaign file it is YAML,
//! checked against a JSON Schema generated from these types
//! (`schemas/project.schema.json`), and every problem is reported with its position.
//!
//! It is found in the working directory, or named with `--config FILE` (or
//! `CAMPAIGNCTL_CONFIG`); paths in it are relative to it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::catalogue::{Catalogue, Templates};
use super::document::Document;
use super::limits::{Limits, LimitsSpec};
use super::numbering::Country;
use super::schema::{SchemaChecker, locate};
use super::window::{Window, WindowSpec};
use crate::diagnostic::{Diagnostic, Pos, io_reason};

/// The project file's name, looked for in the working directory.
pub(crate) const PROJECT_FILE: &str = "campaignctl.yaml";

/// Settings for every campaign of a repository. Keys a campaign file also has (such as
/// `default_country`) are defaults that a campaign file overrides.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "campaignctl project file")]
pub(crate) struct ProjectFile {
    /// The country of numbers written without their country code (`09739978284`,
    /// `97399 78284`): an ISO 3166 alpha-2 code such as `IN`, `GB`, `US`. Numbers written with
    /// a `+` or with their country code are read as they are.
    #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
    pub default_country: Option<String>,

    /// Opt-out lists: CSV files of numbers that no campaign ever messages. Each has a
    /// `mobile` column (or the column named by `columns.mobile`) and may have a `reason`.
    pub suppressions: Option<Vec<SuppressionFile>>,

    /// The template catalogue: the templates approved in WhatsApp Manager, with their
    /// languages, category, param count and media header, which every campaign is checked
    /// against. The path of a catalogue file (YAML or JSON, `templates: [...]`), relative to
    /// this file, or the list itself.
    pub templates: Option<Templates>,

    /// WhatsApp's messaging limits, across every campaign, counted from the ledger (so they
    /// hold across applies, the daemon and replicas): the daily number of unique recipients,
    /// and frequency caps per recipient.
    pub limits: Option<LimitsSpec>,

    /// The send window of every campaign: the hours and days in which a recipient may be
    /// messaged, on their clock. A campaign's own `window:` overrides it.
    pub window: Option<WindowSpec>,
}

/// A CSV file of numbers never to message: its path, or the path and its column names.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum SuppressionFile {
    /// The path of the CSV file, relative to the project file.
    Path(String),
    Entry(SuppressionEntry),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuppressionEntry {
    /// The path of the CSV file, relative to the project file.
    pub file: String,
    /// Column names, when the file's differ: `{mobile: "Phone Number", reason: Note}`.
    pub columns: Option<SuppressionColumns>,
    /// The field delimiter, `","`, `";"` or `"\t"` (tab). Default: the one of the three the
    /// header line has most of.
    pub delimiter: Option<super::file::Delimiter>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuppressionColumns {
    /// The column of the numbers (default `mobile`).
    pub mobile: Option<String>,
    /// The column of the reason of each opt-out (default `reason`, optional).
    pub reason: Option<String>,
}

/// The project's settings, resolved: defaults where the file says nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Project {
    /// Where they came from; `None` without a project file.
    pub file: Option<Arc<Path>>,
    /// The country of numbers written without their country code, for
    /// [`Mobile::read`](super::mobile::Mobile::read); a campaign's own overrides it.
    pub default_country: Option<Country>,
    pub suppressions: Vec<Suppressions>,
    /// The templates campaigns may send; `None` without `templates:` (or when the catalogue
    /// has errors, which are reported).
    pub catalogue: Option<Arc<Catalogue>>,
    /// `limits:`; none set without it.
    pub limits: Arc<Limits>,
    /// `window:`, the default of every campaign.
    pub window: Option<Arc<Window>>,
}

impl Project {
    /// The catalogue file, when the templates are listed in one of their own.
    pub(crate) fn catalogue_file(&self) -> Option<&Path> {
        self.catalogue.as_deref().and_then(Catalogue::own_file)
    }
}

/// An opt-out list of the project file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Suppressions {
    /// Resolved against the project file's directory.
    pub path: PathBuf,
    pub mobile_column: String,
    pub reason_column: String,
    /// The field delimiter; detected when `None`.
    pub delimiter: Option<u8>,
    /// Where it is listed in the project file.
    pub pos: Pos,
}

static CHECKER: LazyLock<SchemaChecker> = LazyLock::new(|| {
    SchemaChecker::new(
        schema(),
        "a project file must be a mapping of keys (default_country, suppressions, templates, limits, window)",
    )
});

/// The JSON Schema of the project file.
pub(crate) fn schema() -> Value {
    super::file::generated_schema::<ProjectFile>(
        "https://campaignctl.dev/schemas/project.schema.json",
    )
}

/// Loads the project file: `explicit` (from `--config` or `CAMPAIGNCTL_CONFIG`), which must
/// exist, or `campaignctl.yaml` in the working directory, if there is one. Every problem is
/// returned located; with errors the project keeps its defaults. The template catalogue is
/// read only when `catalogue` is true (commands that check campaigns): `optout`, which
/// never does, must work even while the catalogue has a mistake.
pub(crate) fn load(explicit: Option<&Path>, catalogue: bool) -> (Project, Vec<Diagnostic>) {
    let path = match explicit {
        Some(path) => path.to_owned(),
        None => {
            let default = PathBuf::from(PROJECT_FILE);
            if !default.is_file() {
                return (Project::default(), Vec::new());
            }
            default
        }
    };
    let file: Arc<Path> = path.clone().into();
    let fail = |pos: Pos, message: String| vec![Diagnostic::error(&*file, pos, message)];
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            return (
                Project::default(),
                fail(
                    Pos::default(),
                    format!("cannot read the project file: {}", io_reason(&e)),
                ),
            );
        }
    };
    let doc = match Document::parse(&text) {
        Ok(doc) => doc,
        Err(e) => {
            let d = Diagnostic::error(&*file, e.pos, e.message).with_source(&text);
            return (Project::default(), vec![d]);
        }
    };
    if doc.value.is_null() {
        // An empty project file (or only comments) sets nothing.
        return (
            Project {
                file: Some(file),
                ..Project::default()
            },
            Vec::new(),
        );
    }
    // Problems of the template catalogue leave it out, and the rest of the project is kept
    // (the campaigns' numbers are still read with its default country); any other problem
    // leaves the project at its defaults.
    let (in_templates, others): (Vec<_>, Vec<_>) = CHECKER
        .check(&doc)
        .into_iter()
        .partition(|p| p.pointer == "/templates" || p.pointer.starts_with("/templates/"));
    let in_templates = if catalogue { in_templates } else { Vec::new() };
    if !others.is_empty() {
        // The rest of the project is left out, but a default country without a problem of
        // its own is kept: without it every local number would be one more error.
        let default_country = others
            .iter()
            .all(|p| p.pointer != "/default_country")
            .then(|| doc.value.get("default_country")?.as_str())
            .flatten()
            .and_then(Country::from_code);
        let all = others.into_iter().chain(in_templates).collect();
        let project = Project {
            default_country,
            ..Project::default()
        };
        return (project, locate(&doc, all, &file, &text));
    }
    let mut value = doc.value.clone();
    if (!catalogue || !in_templates.is_empty())
        && let Some(object) = value.as_object_mut()
    {
        object.remove("templates");
    }
    let parsed: ProjectFile = match serde_json::from_value(value) {
        Ok(parsed) => parsed,
        Err(e) => return (Project::default(), fail(Pos::default(), e.to_string())),
    };
    let default_country = match parsed
        .default_country
        .as_deref()
        .map(|c| (c, Country::from_code(c)))
    {
        None => None,
        Some((_, Some(country))) => Some(country),
        Some((code, None)) => {
            let d = Diagnostic::error(
                &*file,
                doc.value_pos("/default_country"),
                format!("unknown country `{code}`: libphonenumber has no numbers for it"),
            )
            .with_source(&text)
            .with_help(Country::hint(code));
            return (Project::default(), vec![d]);
        }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let suppressions = parsed
        .suppressions
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let (name, columns, delimiter) = match entry {
                SuppressionFile::Path(name) => (name, None, None),
                SuppressionFile::Entry(entry) => (entry.file, entry.columns, entry.delimiter),
            };
            let columns = columns.unwrap_or_default();
            Suppressions {
                path: dir.join(name),
                mobile_column: columns.mobile.unwrap_or_else(|| "mobile".to_owned()),
                reason_column: columns.reason.unwrap_or_else(|| "reason".to_owned()),
                delimiter: delimiter.map(super::file::Delimiter::byte),
                pos: doc.value_pos(&format!("/suppressions/{i}")),
            }
        })
        .collect();
    // A catalogue with errors is left out, and the rest of the project kept: the errors
    // stop the set, and the campaigns' own problems are still reported.
    let located = |pos: Pos, message: String, help: Option<String>| {
        let d = Diagnostic::error(&*file, pos, message).with_source(&text);
        match help {
            Some(help) => d.with_help(help),
            None => d,
        }
    };
    let mut found: Vec<Diagnostic> = Vec::new();
    let limits = match &parsed.limits {
        None => Limits::default(),
        Some(spec) => {
            let (limits, problems) =
                Limits::located(spec, &doc, "/limits", doc.value.get("templates").is_some());
            found.extend(problems.into_iter().map(|(p, m, h)| located(p, m, h)));
            limits
        }
    };
    let window =
        parsed
            .window
            .as_ref()
            .and_then(|spec| match Window::located(spec, &doc, "/window") {
                Ok(window) => Some(Arc::new(window)),
                Err(problems) => {
                    found.extend(problems.into_iter().map(|(p, m)| located(p, m, None)));
                    None
                }
            });
    let (catalogue, mut problems) = match parsed.templates {
        None => (None, locate(&doc, in_templates, &file, &text)),
        Some(Templates::List(list)) => split(Catalogue::from_list(list, &file, &doc, &text, true)),
        Some(Templates::File(name)) => {
            let entry = Diagnostic::error(&*file, doc.value_pos("/templates"), String::new())
                .with_source(&text);
            split(Catalogue::load(&dir.join(name), entry))
        }
    };
    (
        Project {
            file: Some(file),
            default_country,
            suppressions,
            catalogue,
            limits: Arc::new(limits),
            window,
        },
        {
            problems.extend(found);
            problems
        },
    )
}

fn split(
    catalogue: Result<Catalogue, Vec<Diagnostic>>,
) -> (Option<Arc<Catalogue>>, Vec<Diagnostic>) {
    match catalogue {
        Ok(catalogue) => (Some(Arc::new(catalogue)), Vec::new()),
        Err(problems) => (None, problems),
    }
}
