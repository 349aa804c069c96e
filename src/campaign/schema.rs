//! Checks a parsed file against the campaign JSON Schema and turns every violation into a
//! message a person can act on, at the line and column of the offending key or value.

use std::path::Path;
use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use super::document::{Document, pointer_push};
use super::file as campaign_file;
use super::numbering::Country;
use crate::diagnostic::{Diagnostic, did_you_mean};

/// One schema violation, located by JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SchemaProblem {
    pub pointer: String,
    /// Report at the key (unknown keys) rather than at the value.
    pub at_key: bool,
    pub message: String,
    pub help: Option<String>,
}

/// A compiled schema, and the schema itself (to explain a violation: which keys are known
/// where).
pub(crate) struct SchemaChecker {
    schema: Value,
    validator: Validator,
    /// What a file of this kind is, for a document that is not a mapping at all.
    not_a_mapping: &'static str,
}

impl SchemaChecker {
    pub(crate) fn new(schema: Value, not_a_mapping: &'static str) -> SchemaChecker {
        let validator = jsonschema::options()
            .build(&schema)
            .expect("a generated schema is a valid JSON Schema");
        SchemaChecker {
            schema,
            validator,
            not_a_mapping,
        }
    }

    /// Every schema violation in the document, in document order.
    pub(crate) fn check(&self, doc: &Document) -> Vec<SchemaProblem> {
        let mut problems: Vec<SchemaProblem> = self
            .validator
            .iter_errors(&doc.value)
            .flat_map(|error| explain(&self.schema, &error, self.not_a_mapping))
            .collect();
        problems.dedup();
        problems
    }

    /// [`SchemaChecker::check`], as errors located in `file`, whose text is `text`.
    pub(crate) fn located(&self, doc: &Document, file: &Path, text: &str) -> Vec<Diagnostic> {
        locate(doc, self.check(doc), file, text)
    }
}

/// Schema problems of `doc`, as errors located in `file`, whose text is `text`.
pub(crate) fn locate(
    doc: &Document,
    problems: Vec<SchemaProblem>,
    file: &Path,
    text: &str,
) -> Vec<Diagnostic> {
    problems
        .into_iter()
        .map(|p| {
            let pos = if p.at_key {
                doc.key_pos(&p.pointer)
            } else {
                doc.value_pos(&p.pointer)
            };
            let d = Diagnostic::error(file, pos, p.message).with_source(text);
            // A country code the pattern refuses (`in`, `UK`): name the country meant.
            let help = p.help.or_else(|| {
                let code = doc.value.pointer(&p.pointer)?.as_str()?;
                (p.pointer == "/default_country").then(|| Country::hint(code))
            });
            match help {
                Some(help) => d.with_help(help),
                None => d,
            }
        })
        .collect()
}

static CAMPAIGN: LazyLock<SchemaChecker> = LazyLock::new(|| {
    SchemaChecker::new(
        campaign_file::schema(),
        "a campaign file must be a mapping of keys (template, language, ...)",
    )
});

/// Every violation of the campaign file schema in the document, in document order.
pub(crate) fn check(doc: &Document) -> Vec<SchemaProblem> {
    CAMPAIGN.check(doc)
}

fn explain(schema: &Value, error: &ValidationError<'_>, not_a_mapping: &str) -> Vec<SchemaProblem> {
    let pointer = error.instance_path().as_str().to_owned();
    let instance = error.instance();
    let field = display_path(&pointer);
    let problem = |message: String| SchemaProblem {
        pointer: pointer.clone(),
        at_key: false,
        message,
        help: None,
    };
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = known_keys(schema, &pointer);
            unexpected
                .iter()
                .map(|key| SchemaProblem {
                    pointer: pointer_push(&pointer, key),
                    at_key: true,
                    message: match pointer.as_str() {
                        "" => format!("unknown key `{key}`"),
                        _ => format!("unknown key `{key}` in `{field}`"),
                    },
                    help: Some(match did_you_mean(key, &known) {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => format!("expected one of {}", list(&known)),
                    }),
                })
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let message = match pointer.as_str() {
                "" => format!("missing required key `{name}`"),
                _ => format!("`{field}` is missing required key `{name}`"),
            };
            vec![problem(message)]
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => article(&t.to_string()),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| article(&t.to_string()))
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            let message = if pointer.is_empty() {
                format!("{not_a_mapping}, found {}", describe(instance))
            } else {
                format!("`{field}` must be {expected}, found {}", describe(instance))
            };
            vec![problem(message)]
        }
        ValidationErrorKind::Pattern { .. } => vec![explain_pattern(&pointer, instance)],
        ValidationErrorKind::Enum { options } => {
            let choices: Vec<String> = options
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or("?").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            vec![problem(format!(
                "`{field}` must be one of {}, found {}",
                list(&choices),
                describe(instance)
            ))]
        }
        ValidationErrorKind::MinLength { .. } => {
            vec![problem(format!("`{field}` must not be empty"))]
        }
        ValidationErrorKind::MinItems { .. } => {
            vec![problem(format!("`{field}` must not be empty"))]
        }
        ValidationErrorKind::Minimum { limit } => vec![problem(format!(
            "`{field}` must be at least {limit}, found {}",
            describe(instance)
        ))],
        ValidationErrorKind::MinProperties { .. } => {
            vec![problem(format!("`{field}` must have at least one key"))]
        }
        _ => vec![problem(format!("`{field}`: {error}"))],
    }
}

/// Pattern failures get a message that says what the value should look like.
fn explain_pattern(pointer: &str, instance: &Value) -> SchemaProblem {
    let value = instance.as_str().unwrap_or_default();
    // List indices do not matter: `/templates/3/name` is a `/templates/*/name`.
    let shape: Vec<&str> = pointer
        .split('/')
        .map(|t| if t.parse::<usize>().is_ok() { "*" } else { t })
        .collect();
    let (message, help) = match shape.join("/").as_str() {
        "/language" | "/templates/*/languages/*" => {
            let suggestion = suggest_language(value);
            (
                format!("`{value}` is not a WhatsApp template language code"),
                Some(match suggestion {
                    Some(code) => format!("did you mean `{code}`? codes use an underscore: en, en_US, pt_BR"),
                    None => "use a code like en, en_US, pt_BR or fil (2-3 lowercase letters, then optionally `_` and a 2-letter region in capitals)".to_owned(),
                }),
            )
        }
        "/name" => (
            format!("invalid campaign name `{value}`"),
            Some(
                "use lowercase letters, digits, `-` and `_`, starting with a letter or digit"
                    .to_owned(),
            ),
        ),
        "/template" | "/templates/*/name" => (
            format!("invalid template name `{value}`"),
            Some(
                "WhatsApp template names are lowercase letters, digits and underscores".to_owned(),
            ),
        ),
        "/media/link" => (
            format!("media link `{value}` is not an https:// URL"),
            Some("WhatsApp fetches media over HTTPS only".to_owned()),
        ),
        "/schedule/catch_up" => (
            format!("invalid duration `{value}`"),
            Some("use a number with h, m or s: 90s, 15m, 2h, 1h30m".to_owned()),
        ),
        _ => (
            format!("`{}` has an invalid value `{value}`", display_path(pointer)),
            None,
        ),
    };
    SchemaProblem {
        pointer: pointer.to_owned(),
        at_key: false,
        message,
        help,
    }
}

/// `en-US` → `en_US`, `EN` → `en`, `pt-br` → `pt_BR`.
fn suggest_language(value: &str) -> Option<String> {
    let (lang, region) = match value.split_once(['-', '_']) {
        Some((lang, region)) => (lang, Some(region)),
        None => (value, None),
    };
    let lang_ok = (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_alphabetic());
    let region_ok =
        region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_alphabetic()));
    if !lang_ok || !region_ok {
        return None;
    }
    let mut code = lang.to_ascii_lowercase();
    if let Some(region) = region {
        code.push('_');
        code.push_str(&region.to_ascii_uppercase());
    }
    (code != value).then_some(code)
}

/// The property names the schema allows for the object at an instance pointer.
fn known_keys(schema: &Value, pointer: &str) -> Vec<String> {
    let mut node = schema;
    for token in pointer.split('/').skip(1) {
        node = resolve(schema, node);
        node = match node.get("properties").and_then(|p| p.get(token)) {
            Some(child) => child,
            None => match node.get("items") {
                Some(items) if token.parse::<usize>().is_ok() => items,
                _ => return Vec::new(),
            },
        };
        // `Option<T>` fields are `anyOf: [T, null]` or `type: [.., null]`; follow the `T`.
        if let Some(any) = node.get("anyOf").and_then(Value::as_array)
            && let Some(first) = any.iter().find(|s| s.get("type") != Some(&"null".into()))
        {
            node = first;
        }
    }
    let node = resolve(schema, node);
    node.get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix('#')
            .and_then(|p| root.pointer(p))
            .unwrap_or(node),
        None => node,
    }
}

/// `/recipients/3/mobile` → `recipients[3].mobile`.
pub(crate) fn display_path(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if token.parse::<usize>().is_ok() {
            out.push_str(&format!("[{token}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        }
    }
    out
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {:?}", truncate(s, 40)),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a mapping".to_owned(),
    }
}

fn article(json_type: &str) -> String {
    match json_type {
        "object" => "a mapping".to_owned(),
        "array" => "a list".to_owned(),
        "integer" => "an integer".to_owned(),
        "null" => "null".to_owned(),
        other => format!("a {other}"),
    }
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<SchemaProblem> {
        check(&Document::parse(yaml).unwrap())
    }

    #[test]
    fn valid_minimal_file_has_no_problems() {
        let p = problems("template: t\nlanguage: en\nparams: []\nsearch: {name: x}\n");
        assert_eq!(p, vec![]);
    }

    #[test]
    fn unknown_key_suggests_the_closest() {
        let p = problems("tempalte: t\nlanguage: en\nparams: []\n");
        let unknown = p.iter().find(|p| p.at_key).unwrap();
        assert_eq!(unknown.pointer, "/tempalte");
        assert_eq!(unknown.help.as_deref(), Some("did you mean `template`?"));
        assert!(
            p.iter()
                .any(|p| p.message == "missing required key `template`")
        );
    }

    #[test]
    fn unknown_nested_key_knows_the_nested_keys() {
        let p = problems("template: t\nlanguage: en\nparams: []\nschedule: {crn: x}\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].message, "unknown key `crn` in `schedule`");
        assert_eq!(p[0].help.as_deref(), Some("did you mean `cron`?"));
    }

    #[test]
    fn language_with_hyphen_suggests_underscore() {
        let p = problems("template: t\nlanguage: en-US\nparams: []\n");
        assert_eq!(
            p[0].message,
            "`en-US` is not a WhatsApp template language code"
        );
        assert!(
            p[0].help
                .as_deref()
                .unwrap()
                .starts_with("did you mean `en_US`?")
        );
    }

    #[test]
    fn media_rules() {
        let p = problems(
            "template: t\nlanguage: en\nparams: []\nmedia: {type: gif, link: 'http://x/y.png'}\n",
        );
        let messages: Vec<_> = p.iter().map(|p| p.message.as_str()).collect();
        assert!(messages.contains(&"`media.type` must be one of `image`, `video`, `document`, found the string \"gif\""), "{messages:?}");
        assert!(
            messages.contains(&"media link `http://x/y.png` is not an https:// URL"),
            "{messages:?}"
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let p = problems("template: t\nlanguage: en\nparams: hello\n");
        assert_eq!(
            p[0].message,
            "`params` must be a list, found the string \"hello\""
        );
        let p = problems("- a\n- b\n");
        assert!(
            p[0].message
                .starts_with("a campaign file must be a mapping")
        );
    }

    #[test]
    fn display_paths() {
        assert_eq!(display_path("/recipients/3/mobile"), "recipients[3].mobile");
        assert_eq!(display_path(""), "");
    }
}
