//! The template catalogue: the WhatsApp templates a project sends, as approved in WhatsApp
//! Manager (name, languages, category, param count, media header, status). Optional: the
//! project file's `templates:` lists them, or names a catalogue file (YAML or JSON,
//! `templates: [...]`) with a JSON Schema of its own (`schemas/templates.schema.json`).
//!
//! With a catalogue, every campaign is checked against its template's entry before anything
//! is sent (what WhatsApp would otherwise reject send by send: error 132000 for a param
//! count, 132001 for a name or language, 132015/132016 for a paused or disabled template),
//! and the validated campaign carries that entry ([`Template`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde_json::Value;

use super::document::Document;
use super::file::MediaKind;
use super::schema::SchemaChecker;
use crate::diagnostic::{Diagnostic, Pos, did_you_mean, location};

/// WhatsApp's limit on a template's body, and so on any one param of it, in characters.
pub(crate) const MAX_PARAM_CHARS: usize = 1024;

/// A catalogue file: the templates approved in WhatsApp Manager that campaigns may send.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "campaignctl template catalogue")]
pub(crate) struct CatalogueFile {
    /// The templates, each as approved in WhatsApp Manager; names are unique.
    pub templates: Vec<Template>,
}

/// A template as approved in WhatsApp Manager.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Template {
    /// The template's name in WhatsApp Manager, as campaigns give it in `template`:
    /// lowercase letters, digits and `_`.
    #[schemars(regex(pattern = r"^[a-z0-9_]+$"))]
    pub name: String,

    /// The language codes it is approved in, as campaigns give them in `language`: `en`,
    /// `en_US`, `pt_BR`.
    #[schemars(length(min = 1), inner(regex(pattern = r"^[a-z]{2,3}(_[A-Z]{2})?$")))]
    pub languages: Vec<String>,

    /// Its category in WhatsApp Manager: `marketing`, `utility` or `authentication`.
    pub category: Category,

    /// The number of parameters of its body ({{1}}, {{2}}, ...): a campaign gives exactly
    /// this many `params`.
    pub params: usize,

    /// Its header's media: `none` (default), `image`, `video` or `document`. A campaign gives
    /// `media` of this type, or none for `none`.
    #[serde(default)]
    pub media: Header,

    /// `approved` (default); `paused` or `disabled` when Meta paused or disabled it (low
    /// quality rating): WhatsApp rejects its sends, so campaigns of it are errors.
    #[serde(default)]
    pub status: Status,

    /// The most characters each param may render to, in order, one entry per param.
    /// WhatsApp's 1,024 applies in any case.
    #[schemars(inner(range(min = 1)))]
    pub param_max_lengths: Option<Vec<usize>>,
}

/// A template's category in WhatsApp Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Category {
    Marketing,
    Utility,
    Authentication,
}

impl Category {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Category::Marketing => "marketing",
            Category::Utility => "utility",
            Category::Authentication => "authentication",
        }
    }
}

/// The media of a template's header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Header {
    #[default]
    None,
    Image,
    Video,
    Document,
}

impl Header {
    /// The media type a campaign gives for it; `None` for a header without media.
    pub(crate) fn kind(self) -> Option<MediaKind> {
        match self {
            Header::None => None,
            Header::Image => Some(MediaKind::Image),
            Header::Video => Some(MediaKind::Video),
            Header::Document => Some(MediaKind::Document),
        }
    }
}

/// Whether WhatsApp sends a template.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    #[default]
    Approved,
    Paused,
    Disabled,
}

/// The project file's `templates`: the path of a catalogue file, or the list itself.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Templates {
    File(String),
    List(Vec<Template>),
}

impl JsonSchema for Templates {
    fn schema_name() -> Cow<'static, str> {
        "Templates".into()
    }

    /// One schema, not `anyOf`, so that a mistake inside an inline template is reported at
    /// its own key rather than as "matches none of the alternatives".
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let template = generator.subschema_for::<Template>();
        json_schema!({
            "description": "The template catalogue: the path of a catalogue file (YAML or JSON, `templates: [...]`), relative to this file, or the list of templates itself.",
            "type": ["string", "array"],
            "minLength": 1,
            "items": template
        })
    }
}

/// The JSON Schema of a catalogue file.
pub(crate) fn schema() -> Value {
    super::file::generated_schema::<CatalogueFile>(
        "https://campaignctl.dev/schemas/templates.schema.json",
    )
}

static CHECKER: LazyLock<SchemaChecker> = LazyLock::new(|| {
    SchemaChecker::new(
        schema(),
        "a template catalogue must be a mapping with the key `templates`",
    )
});

/// The templates of a project, by name.
#[derive(Debug, Clone)]
pub(crate) struct Catalogue {
    /// Where the templates are listed: the catalogue file, or the project file.
    pub file: Arc<Path>,
    /// Whether they are listed in the project file itself.
    pub inline: bool,
    templates: BTreeMap<String, Arc<Template>>,
}

/// How a campaign disagrees with the catalogue: a located error of the campaign file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub pos: Pos,
    pub message: String,
    pub help: Option<String>,
}

/// What a campaign asks of its template. A `None` is a key the campaign file lacks or has a
/// schema problem in (reported already): it is not checked again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    pub template: &'a str,
    pub language: Option<&'a str>,
    pub params: Option<usize>,
    /// `Some(None)`: the campaign gives no `media`.
    pub media: Option<Option<MediaKind>>,
}

impl Catalogue {
    /// Reads the catalogue file at `path`; `entry` is where the project file names it, for
    /// a file that cannot be read. Every problem of the file is reported at its position in
    /// the file.
    pub(crate) fn load(path: &Path, entry: Diagnostic) -> Result<Catalogue, Vec<Diagnostic>> {
        // `./templates.yaml` is shown as `templates.yaml`.
        let path = path.strip_prefix(".").unwrap_or(path);
        let file: Arc<Path> = path.into();
        let text = super::document::read_file(path, super::document::YamlFile::Catalogue).map_err(
            |d| {
                let mut entry = entry;
                entry.message = format!(
                    "cannot read the template catalogue `{}`: {}",
                    path.display(),
                    d.message.trim_start_matches("cannot read: ")
                );
                match d.pos.line {
                    // Read, but not UTF-8 text: that is the file's own problem, at its place.
                    0 => vec![entry],
                    _ => vec![*d],
                }
            },
        )?;
        let fail = |pos: Pos, message: String| {
            vec![Diagnostic::error(&*file, pos, message).with_source(&text)]
        };
        let doc = Document::parse(&text).map_err(|e| fail(e.pos, e.message))?;
        if doc.value.is_null() {
            return Err(fail(
                Pos::new(1, 1, 1),
                "empty template catalogue: it needs `templates:`, a list of templates".to_owned(),
            ));
        }
        let problems = CHECKER.located(&doc, &file, &text);
        if !problems.is_empty() {
            return Err(problems);
        }
        let parsed: CatalogueFile = serde_json::from_value(doc.value.clone())
            .map_err(|e| fail(Pos::default(), e.to_string()))?;
        Catalogue::from_list(parsed.templates, &file, &doc, &text, false)
    }

    /// The catalogue of templates listed at `/templates` of `doc` (the text of `file`):
    /// names must be unique and `param_max_lengths` must have one entry per param.
    pub(crate) fn from_list(
        list: Vec<Template>,
        file: &Arc<Path>,
        doc: &Document,
        text: &str,
        inline: bool,
    ) -> Result<Catalogue, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let mut templates = BTreeMap::new();
        let mut first: BTreeMap<String, Pos> = BTreeMap::new();
        for (i, template) in list.into_iter().enumerate() {
            let at = format!("/templates/{i}");
            let name = &template.name;
            if let Some(lengths) = &template.param_max_lengths
                && lengths.len() != template.params
            {
                problems.push(
                    Diagnostic::error(
                        &**file,
                        doc.value_pos(&format!("{at}/param_max_lengths")),
                        format!(
                            "`param_max_lengths` has {} for template `{name}`, which takes {}",
                            count(lengths.len(), "entry", "entries"),
                            count(template.params, "param", "params"),
                        ),
                    )
                    .with_help("give one maximum length per param, in order"),
                );
            }
            let pos = doc.value_pos(&format!("{at}/name"));
            if let Some(earlier) = first.get(name) {
                problems.push(
                    Diagnostic::error(
                        &**file,
                        pos,
                        format!("template `{name}` is listed twice in the catalogue"),
                    )
                    .with_help(format!(
                        "first listed at {}; list each template once, with all its languages",
                        location(file, *earlier)
                    )),
                );
                continue;
            }
            first.insert(name.clone(), pos);
            templates.insert(name.clone(), Arc::new(template));
        }
        if !problems.is_empty() {
            return Err(problems.into_iter().map(|d| d.with_source(text)).collect());
        }
        Ok(Catalogue {
            file: file.clone(),
            inline,
            templates,
        })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Template>> {
        self.templates.get(name)
    }

    /// The catalogue file, when the templates are listed in one of their own.
    pub(crate) fn own_file(&self) -> Option<&Path> {
        (!self.inline).then_some(&*self.file)
    }

    /// Checks what a campaign asks of its template against the catalogue: the template's
    /// entry (if listed), and every disagreement, located in the campaign file `doc`.
    pub(crate) fn check(
        &self,
        doc: &Document,
        request: &Request<'_>,
    ) -> (Option<Arc<Template>>, Vec<Mismatch>) {
        let mut found = Vec::new();
        let mut mismatch = |pos: Pos, message: String, help: String| {
            found.push(Mismatch {
                pos,
                message,
                help: Some(help),
            });
        };
        let name = request.template;
        let Some(template) = self.get(name) else {
            let names: Vec<String> = self.templates.keys().cloned().collect();
            let help = match did_you_mean(name, &names) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "add it to the catalogue once it is approved in WhatsApp Manager; WhatsApp rejects a template it does not know (132001)".to_owned(),
            };
            mismatch(
                doc.value_pos("/template"),
                format!(
                    "template `{name}` is not in the template catalogue ({})",
                    self.file.display()
                ),
                help,
            );
            return (None, found);
        };
        match template.status {
            Status::Approved => {}
            Status::Paused => mismatch(
                doc.value_pos("/template"),
                format!("template `{name}` is paused: WhatsApp rejects its sends (132015)"),
                "Meta pauses a template whose quality rating is low; send it once it is active again (then set `status: approved` in the catalogue), or use another template".to_owned(),
            ),
            Status::Disabled => mismatch(
                doc.value_pos("/template"),
                format!("template `{name}` is disabled: WhatsApp rejects its sends (132016)"),
                "Meta disables a template that stayed low in quality; use another template"
                    .to_owned(),
            ),
        }
        if let Some(language) = request.language
            && !template.languages.iter().any(|l| l == language)
        {
            mismatch(
                doc.value_pos("/language"),
                format!("template `{name}` is not approved in `{language}`"),
                format!(
                    "it is approved in {}",
                    template
                        .languages
                        .iter()
                        .map(|l| format!("`{l}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if let Some(given) = request.params
            && given != template.params
        {
            mismatch(
                doc.key_pos("/params"),
                format!(
                    "template `{name}` takes {}; this campaign gives {given}",
                    count(template.params, "param", "params")
                ),
                "WhatsApp rejects every send whose param count differs from the template's (132000)"
                    .to_owned(),
            );
        }
        match (template.media.kind(), request.media) {
            (Some(expected), Some(None)) => mismatch(
                doc.value_pos("/template"),
                format!(
                    "template `{name}` has {} header; this campaign gives no `media`",
                    article(expected)
                ),
                format!(
                    "add `media: {{type: {}, link: https://...}}`",
                    expected.as_str()
                ),
            ),
            (Some(expected), Some(Some(given))) if given != expected => mismatch(
                doc.value_pos("/media/type"),
                format!(
                    "template `{name}` has {} header; this campaign's media is {}",
                    article(expected),
                    article(given)
                ),
                format!(
                    "give `type: {}` and a link to {}",
                    expected.as_str(),
                    article(expected)
                ),
            ),
            (None, Some(Some(given))) => mismatch(
                doc.key_pos("/media"),
                format!(
                    "template `{name}` has no media header; this campaign gives {}",
                    article(given)
                ),
                "remove `media`, or use a template with a media header".to_owned(),
            ),
            _ => {}
        }
        (Some(template.clone()), found)
    }
}

impl Template {
    /// The params longer than this template takes (its `param_max_lengths`, and WhatsApp's
    /// 1,024 characters in any case): `(index, message)` for each.
    pub(crate) fn long_params(&self, params: &[String]) -> Vec<(usize, String)> {
        let mut out = Vec::new();
        for (index, param) in params.iter().enumerate() {
            let own = self
                .param_max_lengths
                .as_ref()
                .and_then(|l| l.get(index).copied());
            let limit = own.unwrap_or(MAX_PARAM_CHARS).min(MAX_PARAM_CHARS);
            // At most one character per byte: most params need no count.
            if param.len() <= limit {
                continue;
            }
            let chars = param.chars().count();
            if chars <= limit {
                continue;
            }
            let mut shown: String = param.chars().take(40).collect();
            if chars > 40 {
                shown.push('…');
            }
            let why = match own {
                Some(max) if max < MAX_PARAM_CHARS => format!(
                    "template `{}` takes at most {} in param {} (`param_max_lengths`)",
                    self.name,
                    thousands(max),
                    index + 1
                ),
                _ => format!(
                    "WhatsApp takes at most {} in a param",
                    thousands(MAX_PARAM_CHARS)
                ),
            };
            out.push((
                index,
                format!(
                    "renders to {shown:?} ({} characters); {why}",
                    thousands(chars)
                ),
            ));
        }
        out
    }
}

/// `1 param`, `3 params`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `an image`, `a video`, `a document`.
fn article(kind: MediaKind) -> String {
    match kind {
        MediaKind::Image => "an image".to_owned(),
        other => format!("a {}", other.as_str()),
    }
}

/// `1,024`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "templates:
  - name: order_update
    languages: [en, en_US]
    category: utility
    params: 2
    param_max_lengths: [5, 2000]
  - name: promo
    languages: [en]
    category: marketing
    params: 0
    media: video
    status: paused
";

    fn catalogue(yaml: &str) -> Result<Catalogue, Vec<Diagnostic>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("templates.yaml");
        std::fs::write(&path, yaml).unwrap();
        let entry = Diagnostic::error(Path::new("campaignctl.yaml"), Pos::line(1), "");
        Catalogue::load(&path, entry)
    }

    fn check(campaign: &str) -> (Option<Arc<Template>>, Vec<String>) {
        let catalogue = catalogue(YAML).unwrap();
        let doc = Document::parse(campaign).unwrap();
        let value = |key: &str| doc.value.get(key).and_then(Value::as_str);
        let request = Request {
            template: value("template").unwrap(),
            language: value("language"),
            params: doc
                .value
                .get("params")
                .and_then(Value::as_array)
                .map(Vec::len),
            media: Some(
                doc.value
                    .pointer("/media/type")
                    .and_then(|t| serde_json::from_value(t.clone()).ok()),
            ),
        };
        let (found, mismatches) = catalogue.check(&doc, &request);
        let messages = mismatches
            .into_iter()
            .map(|m| format!("{}:{} {}", m.pos.line, m.pos.column, m.message))
            .collect();
        (found, messages)
    }

    #[test]
    fn a_catalogue_is_read_with_its_defaults_and_looked_up_by_name() {
        let catalogue = catalogue(YAML).unwrap();
        assert!(!catalogue.inline);
        assert!(catalogue.own_file().unwrap().ends_with("templates.yaml"));
        let order = catalogue.get("order_update").unwrap();
        assert_eq!(order.category, Category::Utility);
        assert_eq!(order.category.as_str(), "utility");
        assert_eq!(order.media, Header::None);
        assert_eq!(order.media.kind(), None);
        assert_eq!(order.status, Status::Approved);
        assert_eq!(order.param_max_lengths, Some(vec![5, 2000]));
        let promo = catalogue.get("promo").unwrap();
        assert_eq!(promo.category.as_str(), "marketing");
        assert_eq!(promo.media.kind(), Some(MediaKind::Video));
        assert_eq!(promo.status, Status::Paused);
        assert!(catalogue.get("order_updates").is_none());
    }

    #[test]
    fn the_project_files_templates_is_a_path_or_a_list() {
        let path: Templates = serde_json::from_value(serde_json::json!("t.yaml")).unwrap();
        assert!(matches!(path, Templates::File(p) if p == "t.yaml"));
        let list: Templates = serde_json::from_value(serde_json::json!([
            {"name": "a", "languages": ["en"], "category": "authentication", "params": 1}
        ]))
        .unwrap();
        let Templates::List(list) = list else {
            panic!("a list")
        };
        assert_eq!(list[0].category, Category::Authentication);
    }

    #[test]
    fn a_catalogues_own_problems_are_located_in_it() {
        let problems = catalogue(
            "templates:\n  - {name: a, languages: [en], category: utility, params: 1, param_max_lengths: [1, 2]}\n  - {name: a, languages: [hi], category: utility, params: 0}\n",
        )
        .unwrap_err();
        let messages: Vec<String> = problems
            .iter()
            .map(|d| format!("{}:{} {}", d.pos.line, d.pos.column, d.message))
            .collect();
        assert_eq!(
            messages,
            [
                "2:81 `param_max_lengths` has 2 entries for template `a`, which takes 1 param",
                "3:12 template `a` is listed twice in the catalogue"
            ]
        );
        let problems = catalogue("templates: [{name: a}]\n").unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        let problems = catalogue("").unwrap_err();
        assert!(problems[0].message.starts_with("empty template catalogue"));
    }

    #[test]
    fn a_matching_campaign_gets_its_template() {
        let (found, problems) = check("template: order_update\nlanguage: en_US\nparams: [a, b]\n");
        assert_eq!(found.unwrap().name, "order_update");
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn every_mismatch_is_located_in_the_campaign_file() {
        let (found, problems) = check("template: order_updat\nlanguage: en\nparams: []\n");
        assert!(found.is_none());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .starts_with("1:11 template `order_updat` is not in the template catalogue (")
                && problems[0].ends_with("templates.yaml)"),
            "{problems:?}"
        );
        let (found, problems) = check(
            "template: order_update\nlanguage: pt_BR\nparams: [a]\nmedia: {type: image, link: x}\n",
        );
        assert!(found.is_some());
        assert_eq!(
            problems,
            [
                "2:11 template `order_update` is not approved in `pt_BR`",
                "3:1 template `order_update` takes 2 params; this campaign gives 1",
                "4:1 template `order_update` has no media header; this campaign gives an image",
            ]
        );
        let (_, problems) = check("template: promo\nlanguage: en\nparams: []\n");
        assert_eq!(
            problems,
            [
                "1:11 template `promo` is paused: WhatsApp rejects its sends (132015)",
                "1:11 template `promo` has a video header; this campaign gives no `media`",
            ]
        );
        let (_, problems) =
            check("template: promo\nlanguage: en\nparams: []\nmedia: {type: document, link: x}\n");
        assert_eq!(
            problems[1],
            "4:15 template `promo` has a video header; this campaign's media is a document"
        );
    }

    #[test]
    fn long_params_count_characters_against_the_smaller_limit() {
        let catalogue = catalogue(YAML).unwrap();
        let order = catalogue.get("order_update").unwrap();
        // Five characters of two bytes each fit a limit of 5.
        assert!(order.long_params(&["ééééé".into(), "x".into()]).is_empty());
        let long = order.long_params(&["abcdef".into(), "y".repeat(1025)]);
        assert_eq!(long.len(), 2);
        assert_eq!(long[0].0, 0);
        assert_eq!(
            long[0].1,
            "renders to \"abcdef\" (6 characters); template `order_update` takes at most 5 in param 1 (`param_max_lengths`)"
        );
        assert_eq!(long[1].0, 1);
        assert!(
            long[1]
                .1
                .ends_with("(1,025 characters); WhatsApp takes at most 1,024 in a param"),
            "{}",
            long[1].1
        );
        let promo = catalogue.get("promo").unwrap();
        assert!(promo.long_params(&["z".repeat(1024)]).is_empty());
        assert_eq!(promo.long_params(&["z".repeat(1025)]).len(), 1);
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1024), "1,024");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
