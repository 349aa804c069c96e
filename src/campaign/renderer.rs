//! Renders a campaign's params with minijinja: strict undefined (a missing variable is an
//! error, never an empty string), and the rules WhatsApp applies to template parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Utc};
use minijinja::value::{Enumerator, Object, Value};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use std::path::Path;

use super::recipients::Recipient;
use super::{Campaign, Kind, Param};
use crate::diagnostic::{Diagnostic, Pos, did_you_mean};
use crate::schedule::{Occurrence, rfc3339};

/// Template instructions one param may run (a plain `{{ recipient.name }}` needs a handful).
const FUEL: u64 = 50_000;

/// Names the renderer provides; `vars` may not shadow them.
pub(crate) const RESERVED: [&str; 4] = ["recipient", "contact", "run", "campaign"];

pub(crate) struct Renderer {
    env: Environment<'static>,
    globals: Arc<Globals>,
    params: Vec<ParamInfo>,
}

struct ParamInfo {
    /// Template name in the environment.
    id: String,
    /// `recipient.X` attributes the template reads, to explain an undefined value.
    recipient_fields: BTreeSet<String>,
    /// `contact.X` attributes the template reads: each `{{X}}` placeholder must reach the
    /// API unchanged (a filter such as `upper` would turn it into `{{X}}`-lookalikes the API
    /// does not fill in).
    contact_fields: BTreeSet<String>,
    /// `X` when the template is exactly `{{ recipient.X }}`: the most common param renders
    /// as the field itself without running the template (a present field only; a missing
    /// one takes the template's path to its error).
    plain_field: Option<String>,
}

#[derive(Debug)]
struct Globals {
    vars: BTreeMap<String, Value>,
    campaign: Value,
    /// The server-side placeholder object, for blast campaigns only.
    contact: Option<Value>,
}

/// The `run` variable of one occurrence.
#[derive(Debug, Clone)]
pub(crate) struct RunContext(Value);

/// A param that failed to render or renders to something WhatsApp rejects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RenderError {
    /// 0-based index into `params`.
    pub index: usize,
    pub message: String,
}

/// What the renderer needs of a campaign; the validator checks params with it even when
/// other parts of the campaign are invalid.
pub(crate) struct Templates<'a> {
    pub name: &'a str,
    pub file: &'a Path,
    pub source: &'a str,
    pub params: &'a [Param],
    pub vars: &'a BTreeMap<String, serde_json::Value>,
    pub kind: Kind,
}

impl<'a> From<&'a Campaign> for Templates<'a> {
    fn from(c: &'a Campaign) -> Templates<'a> {
        Templates {
            name: &c.name,
            file: &c.file,
            source: &c.source,
            params: &c.params,
            vars: &c.vars,
            kind: c.kind(),
        }
    }
}

impl Renderer {
    /// Compiles every param and checks the variables they use; all problems at once.
    pub(crate) fn new(campaign: Templates<'_>) -> Result<Renderer, Vec<Diagnostic>> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // A param is a short text: a bounded amount of template work keeps a hostile
        // `{% for %}` over `range()` from hanging plan, apply or the daemon.
        env.set_fuel(Some(FUEL));
        env.add_filter("date", date_filter);
        let kind = campaign.kind;
        let diag = |pos: Pos, message: String| {
            Diagnostic::error(campaign.file, pos, message).with_source(campaign.source)
        };
        let mut problems = Vec::new();
        let mut params = Vec::new();
        let mut known: Vec<String> = campaign.vars.keys().cloned().collect();
        known.extend(["run", "campaign"].map(String::from));
        // minijinja's global functions: range, dict, namespace, debug.
        known.extend(env.globals().map(|(name, _)| name.to_owned()));
        known.push(match kind {
            Kind::Single => "recipient".to_owned(),
            Kind::Blast => "contact".to_owned(),
        });
        for (index, param) in campaign.params.iter().enumerate() {
            let id = index.to_string();
            if let Err(e) = env.add_template_owned(id.clone(), param.template.clone()) {
                let detail = e.detail().unwrap_or("invalid template").to_owned();
                problems.push(diag(
                    param.pos,
                    format!("param {}: template syntax error: {detail}", index + 1),
                ));
                continue;
            }
            let Ok(template) = env.get_template(&id) else {
                continue;
            };
            let mut recipient_fields = BTreeSet::new();
            let mut contact_fields = BTreeSet::new();
            let used: BTreeSet<String> = template.undeclared_variables(true).into_iter().collect();
            for path in &used {
                let mut parts = path.splitn(2, '.');
                let root = parts.next().unwrap_or_default();
                let attr = parts.next();
                match (root, kind) {
                    ("recipient", Kind::Blast) => problems.push(diag(
                        param.pos,
                        format!("param {}: `recipient` is not available in a search (blast) campaign", index + 1),
                    ).with_help(format!(
                        "use `{{{{ contact.{} }}}}`: the API fills in each contact's field",
                        attr.unwrap_or("name")
                    ))),
                    ("contact", Kind::Single) => problems.push(diag(
                        param.pos,
                        format!("param {}: `contact` is only available in search (blast) campaigns", index + 1),
                    ).with_help(format!(
                        "use `{{{{ recipient.{} }}}}` for a recipients campaign",
                        attr.unwrap_or("name")
                    ))),
                    ("recipient", Kind::Single) => {
                        if let Some(attr) = attr {
                            recipient_fields.insert(attr.split('.').next().unwrap_or(attr).to_owned());
                        }
                    }
                    ("contact", Kind::Blast) => {
                        if let Some(attr) = attr {
                            contact_fields.insert(attr.split('.').next().unwrap_or(attr).to_owned());
                        }
                    }
                    _ if known.iter().any(|k| k == root) => {}
                    _ => {
                        let help = match did_you_mean(root, &known) {
                            Some(best) => format!("did you mean `{best}`?"),
                            None => "define it under `vars:`".to_owned(),
                        };
                        problems.push(
                            diag(param.pos, format!("param {}: undefined variable `{root}`", index + 1))
                                .with_help(help),
                        );
                    }
                }
            }
            // `recipient["Order Id"]`: minijinja lists only `recipient` for a subscript.
            recipient_fields.extend(subscripted_fields(&param.template));
            params.push(ParamInfo {
                id,
                recipient_fields,
                contact_fields,
                plain_field: (kind == Kind::Single)
                    .then(|| plain_field(&param.template))
                    .flatten(),
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let vars = campaign
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), Value::from_serde(v)))
            .collect();
        let campaign_value = Value::from_serde(BTreeMap::from([("name", campaign.name)]));
        let contact = (kind == Kind::Blast).then(|| Value::from_object(ContactPlaceholders));
        Ok(Renderer {
            env,
            globals: Arc::new(Globals {
                vars,
                campaign: campaign_value,
                contact,
            }),
            params,
        })
    }

    /// `run.at` is the occurrence time in the schedule's zone (for unscheduled campaigns,
    /// `now` in UTC); `run.occurrence` is the occurrence as in send keys.
    pub(crate) fn run_context(
        &self,
        occurrence: Occurrence,
        at: DateTime<chrono_tz::Tz>,
    ) -> RunContext {
        RunContext(Value::from_serde(BTreeMap::from([
            ("at", at.to_rfc3339()),
            ("occurrence", occurrence.to_string()),
        ])))
    }

    /// The `run` context at `now` for a campaign without a schedule.
    pub(crate) fn run_context_once(&self, now: DateTime<Utc>) -> RunContext {
        RunContext(Value::from_serde(BTreeMap::from([
            ("at", rfc3339(now)),
            ("occurrence", Occurrence::Once.to_string()),
        ])))
    }

    /// Renders every param for one recipient (or, for a blast, for the contact placeholders).
    /// The recipient is handed back with the params: it is moved into the template context
    /// rather than copied, a saving that counts with a million rows.
    pub(crate) fn render(
        &self,
        run: &RunContext,
        recipient: Option<Recipient>,
    ) -> Result<(Vec<String>, Option<Recipient>), Vec<RenderError>> {
        let plain = |param: &ParamInfo| {
            let field = param.plain_field.as_deref()?;
            recipient.as_ref()?.field(field)
        };
        let mut out = Vec::with_capacity(self.params.len());
        let mut errors = Vec::new();
        let mut pending = Vec::new();
        for (index, param) in self.params.iter().enumerate() {
            match plain(param) {
                Some(value) => out.push(Ok(value)),
                None => {
                    out.push(Ok(String::new()));
                    pending.push(index);
                }
            }
        }
        // Only templates that are more than a present field run through minijinja.
        let recipient = if pending.is_empty() {
            recipient
        } else {
            let recipient = recipient.map(|r| Arc::new(RecipientObject(r)));
            let root = Value::from_object(Root {
                globals: self.globals.clone(),
                run: run.0.clone(),
                recipient: recipient.clone().map(Value::from_dyn_object),
            });
            for index in pending {
                let param = &self.params[index];
                out[index] = self
                    .env
                    .get_template(&param.id)
                    .and_then(|t| t.render(&root))
                    .map_err(|e| explain(&e, param, recipient.as_deref().map(|r| &r.0)));
            }
            drop(root);
            recipient.map(|r| Arc::try_unwrap(r).map_or_else(|r| r.0.clone(), |r| r.0))
        };
        let out: Vec<String> = out
            .into_iter()
            .zip(&self.params)
            .enumerate()
            .filter_map(|(index, (rendered, param))| {
                let checked = rendered
                    .map_err(|message| RenderError { index, message })
                    .and_then(|rendered| {
                    check_param(&rendered).map_err(|message| RenderError { index, message })?;
                    if let Some(field) = param
                        .contact_fields
                        .iter()
                        .find(|field| !rendered.contains(&format!("{{{{{field}}}}}")))
                    {
                        return Err(RenderError {
                            index,
                            message: format!(
                                "renders to {rendered:?}: the placeholder {{{{{field}}}}} must reach the API unchanged for it to fill in each contact's {field}; drop the filter"
                            ),
                        });
                    }
                    Ok(rendered)
                });
                match checked {
                    Ok(rendered) => Some(rendered),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                }
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok((out, recipient))
    }
}

/// `X` when `template` is exactly `{{ recipient.X }}` (spaces inside the braces allowed)
/// with `X` a plain name.
fn plain_field(template: &str) -> Option<String> {
    let inner = template.strip_prefix("{{")?.strip_suffix("}}")?;
    let field = inner.trim_matches(' ').strip_prefix("recipient.")?;
    let mut chars = field.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    plain.then(|| field.to_owned())
}

/// The fields a template reads by subscript with a string: `recipient["Order Id"]`,
/// `recipient['city']`.
fn subscripted_fields(template: &str) -> Vec<String> {
    static SUBSCRIPT: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"\brecipient\s*\[\s*(?:"([^"]*)"|'([^']*)')\s*\]"#)
            .expect("a valid pattern")
    });
    SUBSCRIPT
        .captures_iter(template)
        .filter_map(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().to_owned())
        .collect()
}

/// WhatsApp rejects empty parameters, newlines, tabs and more than 4 consecutive spaces.
pub(crate) fn check_param(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("renders to an empty value; WhatsApp rejects empty parameters".to_owned());
    }
    if value.contains(['\n', '\r']) {
        return Err(format!(
            "renders to {value:?}, which contains a newline; WhatsApp rejects newlines in parameters"
        ));
    }
    if value.contains('\t') {
        return Err(format!(
            "renders to {value:?}, which contains a tab; WhatsApp rejects tabs in parameters"
        ));
    }
    if value.as_bytes().windows(5).any(|w| w == b"     ") {
        return Err(format!(
            "renders to {value:?}, which has more than 4 spaces in a row; WhatsApp rejects that"
        ));
    }
    Ok(())
}

fn explain(error: &minijinja::Error, param: &ParamInfo, recipient: Option<&Recipient>) -> String {
    if error.kind() == ErrorKind::OutOfFuel {
        return "the template does too much work for one parameter (a loop over a large range?)"
            .to_owned();
    }
    if error.kind() == ErrorKind::UndefinedError
        && let Some(recipient) = recipient
    {
        let missing = param
            .recipient_fields
            .iter()
            .find(|field| match field.as_str() {
                "mobile" => false,
                "name" => recipient.name.is_none(),
                other => recipient.fields.get(other).is_none(),
            });
        if let Some(field) = missing {
            let plain = field
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            return if plain {
                format!("`recipient.{field}` is not set for this recipient")
            } else {
                format!("`recipient[{field:?}]` is not set for this recipient")
            };
        }
    }
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}

/// `{{ run.at | date("%d %b") }}`: chrono strftime; an invalid format is an error, not a
/// panic (chrono panics when displaying a bad format, so it is parsed first).
fn date_filter(value: String, format: Option<String>) -> Result<String, minijinja::Error> {
    let format = format.as_deref().unwrap_or("%Y-%m-%d");
    let items: Vec<Item<'_>> = StrftimeItems::new(format).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("invalid date format {format:?}"),
        ));
    }
    let at = DateTime::parse_from_rfc3339(&value).map_err(|e| {
        minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("date filter needs an RFC 3339 time such as run.at, got {value:?}: {e}"),
        )
    })?;
    Ok(at.format_with_items(items.into_iter()).to_string())
}

trait FromSerde {
    fn from_serde<T: serde::Serialize>(value: T) -> Value;
}

impl FromSerde for Value {
    fn from_serde<T: serde::Serialize>(value: T) -> Value {
        Value::from(minijinja::value::Serde(value))
    }
}

#[derive(Debug)]
struct Root {
    globals: Arc<Globals>,
    run: Value,
    recipient: Option<Value>,
}

impl Object for Root {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "recipient" => self.recipient.clone(),
            "contact" => self.globals.contact.clone(),
            "run" => Some(self.run.clone()),
            "campaign" => Some(self.globals.campaign.clone()),
            other => self.globals.vars.get(other).cloned(),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = self
            .globals
            .vars
            .keys()
            .map(|k| Value::from(k.as_str()))
            .collect();
        keys.extend(["run", "campaign"].map(Value::from));
        if self.recipient.is_some() {
            keys.push(Value::from("recipient"));
        }
        if self.globals.contact.is_some() {
            keys.push(Value::from("contact"));
        }
        Enumerator::Values(keys)
    }
}

#[derive(Debug)]
struct RecipientObject(Recipient);

impl Object for RecipientObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let r = &self.0;
        r.field(key.as_str()?).map(Value::from)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let r = &self.0;
        let mut keys = vec![Value::from("mobile")];
        if r.name.is_some() {
            keys.push(Value::from("name"));
        }
        keys.extend(r.fields.iter().map(|(k, _)| Value::from(k)));
        Enumerator::Values(keys)
    }
}

/// `{{ contact.name }}` renders the literal `{{name}}` that the blast API substitutes per
/// contact; likewise any field.
#[derive(Debug)]
struct ContactPlaceholders;

impl Object for ContactPlaceholders {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        key.as_str()
            .map(|field| Value::from(format!("{{{{{field}}}}}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::mobile::Mobile;
    use crate::campaign::recipients::Fields;

    #[test]
    fn date_filter_formats_and_rejects_bad_formats() {
        let at = "2026-11-24T09:00:00+05:30".to_owned();
        assert_eq!(date_filter(at.clone(), None).unwrap(), "2026-11-24");
        assert_eq!(
            date_filter(at.clone(), Some("%d %b".into())).unwrap(),
            "24 Nov"
        );
        assert!(date_filter(at, Some("%Q".into())).is_err());
        assert!(date_filter("yesterday".into(), None).is_err());
    }

    #[test]
    fn plain_field_templates_are_recognised_exactly() {
        assert_eq!(plain_field("{{ recipient.name }}").as_deref(), Some("name"));
        assert_eq!(
            plain_field("{{recipient.bib_no}}").as_deref(),
            Some("bib_no")
        );
        for not_plain in [
            "{{ recipient.name | upper }}",
            " {{ recipient.name }}",
            "{{ recipient.name }}!",
            "Hi {{ recipient.name }}",
            "{{- recipient.name }}",
            "{{ recipient.name -}}",
            "{{ recipient.a.b }}",
            "{{ recipient['x'] }}",
            "{{ recipient.1a }}",
            "{{ recipient. }}",
            "{{ run.at }}",
            "{{ recipient.a }}{{ recipient.b }}",
        ] {
            assert_eq!(plain_field(not_plain), None, "{not_plain}");
        }
    }

    #[test]
    fn a_plain_field_is_what_minijinja_renders() {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_template("0", "{{ recipient.x }}").unwrap();
        let names: Arc<[String]> = Arc::from(vec!["x".to_owned()]);
        for value in [
            "O'Brien & <Co>",
            "  padded  ",
            "ünïcödé ✓",
            "{{ x }}",
            "a\"b\\c",
            "",
        ] {
            let recipient = Recipient {
                mobile: Mobile::from_digits("919000000001").unwrap(),
                name: Some("N".to_owned()),
                fields: Fields::new(names.clone(), vec![value.to_owned()]),
            };
            let fast = recipient.field("x");
            let object = Value::from_object(RecipientObject(recipient));
            let rendered = env
                .get_template("0")
                .unwrap()
                .render(minijinja::context! { recipient => object })
                .unwrap();
            assert_eq!(fast.as_deref(), Some(rendered.as_str()), "{value:?}");
        }
    }

    #[test]
    fn whatsapp_param_rules() {
        assert!(check_param("Partha").is_ok());
        assert!(check_param("a    b").is_ok());
        assert!(check_param("").unwrap_err().contains("empty"));
        assert!(check_param("   ").unwrap_err().contains("empty"));
        assert!(check_param("a\nb").unwrap_err().contains("newline"));
        assert!(check_param("a\tb").unwrap_err().contains("tab"));
        assert!(
            check_param("a     b")
                .unwrap_err()
                .contains("more than 4 spaces")
        );
    }
}
