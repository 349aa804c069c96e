//! WhatsApp's messaging limits as the project file states them (`limits:`), resolved: the
//! number of unique people the business may message in any moving 24 hours, and caps on how
//! often one person gets messages of a category. The plan counts them (`plan/limits.rs`).

use chrono::TimeDelta;

use crate::diagnostic::Pos;

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
