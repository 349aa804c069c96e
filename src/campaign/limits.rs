//! WhatsApp's messaging limits as the project file states them (`limits:`), resolved: the
//! number of unique people the business may message in any moving 24 hours, and caps on how
//! often one person gets messages of a category. The plan counts them (`plan/limits.rs`).

use chrono::TimeDelta;
use schemars::JsonSchema;
use serde::Deserialize;

use super::catalogue::Category;
use super::document::Document;
use crate::diagnostic::Pos;
use crate::schedule::parse_duration;

/// `limits:` as written in the project file.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitsSpec {
    /// Unique recipients messaged in any moving 24 hours, across every campaign, counted
    /// from the ledger: the business portfolio's messaging limit in WhatsApp Manager (250,
    /// 2000, 10000 or 100000). Sends over it wait for the 24 hours to free up.
    #[schemars(range(min = 1))]
    pub daily_recipients: Option<u64>,
    /// How many people a blast reaches, as far as you know: a blast goes to a contact
    /// search on the server, so the daily limit cannot count it otherwise.
    pub blast_estimate: Option<u64>,
    /// Frequency caps: no recipient gets more than `max` messages (of `category`, or of any
    /// category) in any `per`, across every campaign.
    pub per_recipient: Option<Vec<CapSpec>>,
}

/// One frequency cap as written.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CapSpec {
    /// The most messages one recipient may get in any `per`.
    #[schemars(required, range(min = 1))]
    pub max: Option<u32>,
    /// The window the cap counts in: `24h`, `7d`, `30d`.
    #[schemars(required)]
    pub per: Option<String>,
    /// Count only messages of templates of this category (it needs the template catalogue,
    /// which names each template's category). Default: every message.
    pub category: Option<Category>,
}

/// The limits every campaign of the repository shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Unique recipients messaged in any moving 24 hours, across every campaign: the
    /// business portfolio's messaging tier (250, 2,000, 10,000, 100,000).
    pub daily_recipients: Option<u64>,
    /// How many people a blast reaches, as the user estimates it: a blast goes to a contact
    /// search on the server, so its size is not known here.
    pub blast_estimate: Option<u64>,
    pub caps: Vec<Cap>,
}

/// No recipient gets more than `max` messages (of `category`, or of any) in any `per`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cap {
    pub max: u32,
    pub per: TimeDelta,
    /// `per` as written: `7d`, `24h`.
    pub per_text: String,
    /// `marketing`, `utility` or `authentication`; every category when `None`.
    pub category: Option<&'static str>,
    /// Where it is written in the project file.
    pub pos: Pos,
}

impl Cap {
    /// `2 marketing message(s) per 7d`, as reports say it.
    pub(crate) fn describe(&self) -> String {
        match self.category {
            Some(category) => format!("{} {category} message(s) per {}", self.max, self.per_text),
            None => format!("{} message(s) per {}", self.max, self.per_text),
        }
    }

    /// Whether a send of `category` counts against this cap.
    pub(crate) fn counts(&self, category: Option<&str>) -> bool {
        self.category.is_none_or(|c| category == Some(c))
    }
}

impl Limits {
    /// Resolves `limits:` (at `base` in `doc`); every problem is returned with its position,
    /// and the limits it leaves out. A cap by category needs a catalogue (`has_catalogue`).
    pub(crate) fn located(
        spec: &LimitsSpec,
        doc: &Document,
        base: &str,
        has_catalogue: bool,
    ) -> (Limits, Vec<(Pos, String, Option<String>)>) {
        let mut problems = Vec::new();
        let mut caps = Vec::new();
        for (i, cap) in spec.per_recipient.iter().flatten().enumerate() {
            let at = |key: &str| doc.value_pos(&format!("{base}/per_recipient/{i}/{key}"));
            let per = cap.per.as_deref().unwrap_or_default();
            let (Some(max), Some(duration)) = (cap.max, parse_duration(per)) else {
                problems.push((
                    at("per"),
                    format!("`{per}` is not a duration such as 24h, 7d or 30d"),
                    None,
                ));
                continue;
            };
            if cap.category.is_some() && !has_catalogue {
                problems.push((
                    at("category"),
                    "a cap by category needs the template catalogue, which says each template's category".to_owned(),
                    Some("list your templates under `templates:` (see docs/templates.md), or leave `category` out to count every message".to_owned()),
                ));
                continue;
            }
            caps.push(Cap {
                max,
                per: duration,
                per_text: per.to_owned(),
                category: cap.category.map(Category::as_str),
                pos: doc.value_pos(&format!("{base}/per_recipient/{i}")),
            });
        }
        let limits = Limits {
            daily_recipients: spec.daily_recipients,
            blast_estimate: spec.blast_estimate,
            caps,
        };
        (limits, problems)
    }

    /// Whether any limit is set: without one, the plan reads nothing of the ledger for it.
    pub(crate) fn any(&self) -> bool {
        self.daily_recipients.is_some() || !self.caps.is_empty()
    }

    /// How far back the ledger's sends matter: 24 hours for the daily limit, and the
    /// longest cap's window.
    pub(crate) fn horizon(&self) -> TimeDelta {
        let daily = if self.daily_recipients.is_some() {
            TimeDelta::hours(24)
        } else {
            TimeDelta::zero()
        };
        self.caps.iter().map(|c| c.per).fold(daily, TimeDelta::max)
    }
}
