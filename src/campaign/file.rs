//! The campaign file format. These types are the single source of truth: the JSON Schema in
//! `schemas/campaign.schema.json` is generated from them (`campaignctl schema`), and the doc
//! comments become the descriptions that editors show while people type.

use std::borrow::Cow;
use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A campaign: which WhatsApp template to send, in which language, with which media and
/// parameters, to whom, and when. One campaign per file.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "campaignctl campaign file")]
pub(crate) struct CampaignFile {
    /// Campaign name: lowercase letters, digits, `-` and `_`, starting with a letter or digit;
    /// unique across all loaded files. Default: the file name without its extension.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"))]
    pub name: Option<String>,

    /// Free text for reviewers; never sent.
    pub description: Option<String>,

    /// Name of the approved message template in WhatsApp Manager (sent as `fb_template`).
    #[schemars(required, regex(pattern = r"^[a-z0-9_]+$"))]
    pub template: Option<String>,

    /// Language code of the template as in WhatsApp Manager: `en`, `en_US`, `pt_BR`, `fil`
    /// (underscore, not hyphen).
    #[schemars(required, regex(pattern = r"^[a-z]{2,3}(_[A-Z]{2})?$"))]
    pub language: Option<String>,

    /// Media sent with the template header (sent as `file`).
    pub media: Option<Media>,

    /// The country of numbers written without their country code (`09739978284`,
    /// `97399 78284`): an ISO 3166 alpha-2 code such as `IN`, `GB`, `US`. Overrides
    /// `default_country` of the project file (`campaignctl.yaml`). Numbers written with a `+`
    /// or with their country code are read as they are.
    #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
    pub default_country: Option<String>,

    /// Tag for finding these messages in the ChitChatLabs Messages tab.
    #[schemars(length(min = 1))]
    pub tag: Option<String>,

    /// Variables for the params templates: each key is available as a top-level variable.
    #[serde(default)]
    pub vars: BTreeMap<String, Value>,

    /// Template parameters in order, each a minijinja template rendered per recipient, e.g.
    /// `"{{ recipient.name }}"` or, for a search (blast), `"{{ contact.name }}"`.
    #[schemars(required)]
    pub params: Option<Vec<String>>,

    /// Recipients for single sends, one API call each: inline entries and CSV files.
    /// Give either `recipients` or `search`.
    #[expect(
        dead_code,
        reason = "read from the document entry by entry, so a bad entry is reported and the rest kept; here for the schema"
    )]
    pub recipients: Option<Vec<RecipientEntry>>,

    /// Contact search spec for one bulk (`blast`) API call that reaches every matching
    /// contact, e.g. `{name: Partha}`. Give either `recipients` or `search`.
    #[schemars(extend("minProperties" = 1))]
    pub search: Option<Map<String, Value>>,

    /// When to send. Without a schedule the campaign is sent once, by `campaignctl apply`.
    pub schedule: Option<ScheduleSpec>,

    /// The send window: the hours and days in which a recipient may be messaged, on their
    /// clock. Overrides `window` of the project file (`campaignctl.yaml`).
    pub window: Option<super::window::WindowSpec>,

    /// `false` keeps the campaign loaded and validated but never sent. Default: `true`.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_enabled() -> bool {
    true
}

/// Media for the template header.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Media {
    /// Kind of media.
    #[serde(rename = "type")]
    pub kind: MediaKind,
    /// Public `https://` URL of the file.
    #[schemars(regex(pattern = r"^https://[^\s]+$"))]
    pub link: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MediaKind {
    Image,
    Video,
    Document,
}

impl MediaKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Document => "document",
        }
    }
}

/// One recipient (`mobile`, optional `name`, any extra fields), or a CSV file of
/// recipients (`file`, optional `columns` and `delimiter`).
#[derive(Debug, Deserialize, JsonSchema)]
pub(crate) struct RecipientEntry {
    /// Phone number: `+91 97399 78284`, `919739978284` (with its country code), or, with
    /// `default_country`, as dialled in that country (`09739978284`). Spaces, dashes, dots,
    /// slashes and parentheses are dropped. It must be valid for its country and able to
    /// receive WhatsApp messages (not toll-free, premium-rate, shared-cost, voicemail, pager
    /// or UAN).
    pub mobile: Option<MobileValue>,

    /// Recipient name, sent as `to.name` and available as `recipient.name`.
    pub name: Option<String>,

    /// A CSV file of recipients, relative to this campaign file. Its header row must have a
    /// `mobile` column (or the column `columns.mobile` names); `name` and every other column
    /// become recipient fields, named by their header (`recipient["Order Id"]`).
    pub file: Option<String>,

    /// For a CSV file: the column of each recipient field, when the header's names differ,
    /// e.g. `{mobile: "Phone Number", name: "First Name"}`. Any field can be mapped
    /// (`city: Town` makes the `Town` column `recipient.city`). Headers match after trimming,
    /// ignoring case.
    pub columns: Option<Columns>,

    /// For a CSV file: the field delimiter, `","`, `";"` or `"\t"` (tab). Default: the one of
    /// the three the header line has most of.
    pub delimiter: Option<Delimiter>,

    /// Any other field is available to params as `recipient.FIELD`.
    #[serde(flatten)]
    pub fields: BTreeMap<String, ScalarValue>,
}

/// Which CSV column holds each recipient field.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub(crate) struct Columns {
    /// The column of the phone numbers. Default: `mobile`.
    #[schemars(length(min = 1))]
    pub mobile: Option<String>,

    /// The column of the recipients' names. Default: `name`, if the file has one.
    #[schemars(length(min = 1))]
    pub name: Option<String>,

    /// Any other field and its column: `timezone: TZ` makes the `TZ` column
    /// `recipient.timezone`.
    #[serde(flatten)]
    pub fields: BTreeMap<String, String>,
}

impl Columns {
    /// Every mapping, as `(field, column)`.
    pub(crate) fn pairs(&self) -> Vec<(String, String)> {
        let fixed = [("mobile", &self.mobile), ("name", &self.name)];
        fixed
            .into_iter()
            .filter_map(|(field, column)| Some((field.to_owned(), column.clone()?)))
            .chain(self.fields.iter().map(|(f, c)| (f.clone(), c.clone())))
            .collect()
    }
}

/// A CSV field delimiter.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq)]
pub(crate) enum Delimiter {
    #[serde(rename = ",")]
    Comma,
    #[serde(rename = ";")]
    Semicolon,
    #[serde(rename = "\t")]
    Tab,
}

impl Delimiter {
    pub(crate) fn byte(self) -> u8 {
        match self {
            Delimiter::Comma => b',',
            Delimiter::Semicolon => b';',
            Delimiter::Tab => b'\t',
        }
    }
}

/// A phone number written as a string or as a plain YAML number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum MobileValue {
    Text(String),
    Number(serde_json::Number),
}

impl MobileValue {
    /// The number as written, for normalisation. Any number is accepted here so that a
    /// negative or fractional one is reported by the validator rather than dropped.
    pub(crate) fn to_text(&self) -> Cow<'_, str> {
        match self {
            MobileValue::Text(s) => Cow::Borrowed(s),
            MobileValue::Number(n) => Cow::Owned(n.to_string()),
        }
    }
}

impl JsonSchema for MobileValue {
    fn schema_name() -> Cow<'static, str> {
        "Mobile".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Phone number, e.g. \"+91 97399 78284\", \"919739978284\" or, with `default_country`, \"097399 78284\".",
            "type": ["string", "integer"]
        })
    }
}

/// A recipient field value: text, a number or a boolean.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ScalarValue {
    Bool(bool),
    Number(serde_json::Number),
    Text(String),
}

impl ScalarValue {
    pub(crate) fn to_text(&self) -> String {
        match self {
            ScalarValue::Bool(b) => b.to_string(),
            ScalarValue::Number(n) => n.to_string(),
            ScalarValue::Text(s) => s.clone(),
        }
    }
}

impl JsonSchema for ScalarValue {
    fn schema_name() -> Cow<'static, str> {
        "Scalar".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// When the campaign is sent: `cron` (repeating) or `at` (once).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScheduleSpec {
    /// Standard 5-field Unix crontab (minute hour day-of-month month day-of-week) with Vixie
    /// cron semantics, or @hourly, @daily, @weekly, @monthly, @yearly. Example: `0 9 * * 1-5`.
    pub cron: Option<String>,

    /// One occurrence at this RFC 3339 time, e.g. `2026-11-24T09:00:00+05:30`.
    pub at: Option<String>,

    /// IANA time zone the cron times are read in, e.g. `Asia/Kolkata`. Default: `UTC`.
    pub timezone: Option<String>,

    /// How late an occurrence may still be sent: `90s`, `15m`, `2h`, `1h30m`. Default: `15m`.
    #[schemars(regex(pattern = r"^([0-9]+[hms])+$"))]
    pub catch_up: Option<String>,
}

/// The generated JSON Schema of a campaign file (draft 2020-12).
pub(crate) fn schema() -> Value {
    generated_schema::<CampaignFile>("https://campaignctl.dev/schemas/campaign.schema.json")
}

/// The JSON Schema of `T` (draft 2020-12), identified as `id`.
pub(crate) fn generated_schema<T: JsonSchema>(id: &str) -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>();
    schema.insert("$id".to_owned(), id.into());
    let mut value = schema.to_value();
    strip_null(&mut value);
    value
}

/// `Option<T>` means "may be left out", not "may be null": `media:` with nothing after it is
/// almost always a mistake, so the schema says `T`, not `T or null`.
fn strip_null(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if let [single] = types.as_slice() {
                    let single = single.clone();
                    map.insert("type".to_owned(), single);
                }
            }
            if let Some(Value::Array(branches)) = map.get("anyOf") {
                let kept: Vec<Value> = branches
                    .iter()
                    .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                    .cloned()
                    .collect();
                if let [Value::Object(only)] = kept.as_slice() {
                    let only = only.clone();
                    map.remove("anyOf");
                    map.extend(only);
                }
            }
            map.values_mut().for_each(strip_null);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_null),
        _ => {}
    }
}

/// The schema as committed in `schemas/campaign.schema.json`.
/// A schema as committed in `schemas/`: pretty JSON and a final newline.
pub(crate) fn schema_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a JSON value serializes");
    text.push('\n');
    text
}
