//! What the ledger holds: the status of a send, its rows as listed, missed occurrences.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::schedule::Occurrence;

/// Ledger status of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    InFlight,
    Sent,
    Failed,
    Unknown,
    /// Not sent: a frequency cap of the project file held it back. Resent only when asked
    /// (`--retry-capped`), and only if the cap allows it then.
    Capped,
    /// Not sent: a scheduled send whose send window or daily limit did not open within the
    /// time it may wait (`max_delay`). Never sent afterwards.
    Missed,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::InFlight => "in_flight",
            Status::Sent => "sent",
            Status::Failed => "failed",
            Status::Unknown => "unknown",
            Status::Capped => "capped",
            Status::Missed => "missed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Status> {
        Some(match text {
            "in_flight" => Status::InFlight,
            "sent" => Status::Sent,
            "failed" => Status::Failed,
            "unknown" => Status::Unknown,
            "capped" => Status::Capped,
            "missed" => Status::Missed,
            _ => return None,
        })
    }
}

/// What is recorded about one send key, as far as planning cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub status: Status,
    pub body_hash: String,
    /// The WhatsApp error code of its last answer, when it carried one campaignctl knows.
    pub wa_code: Option<u32>,
    /// Not to be sent again before this instant (a WhatsApp limit said so).
    pub retry_not_before: Option<DateTime<Utc>>,
}

/// Ledger records of one occurrence of one campaign, by recipient (`blast` for a blast).
pub(crate) type RecordedSends = HashMap<String, Recorded>;

/// One ledger row, as `status` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SendRow {
    pub key: String,
    pub campaign: String,
    pub file: String,
    pub occurrence: String,
    pub recipient: String,
    pub endpoint: String,
    pub status: Status,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub response: Option<String>,
    pub error: Option<String>,
    /// The WhatsApp error code of its last answer, when it carried one campaignctl knows.
    pub wa_code: Option<u32>,
    /// Not to be sent again before this instant (RFC 3339 with milliseconds, UTC).
    pub retry_not_before: Option<String>,
    /// The category of its template when it was recorded, if a catalogue named it.
    pub category: Option<String>,
    /// A test send (`apply --to`).
    pub test: bool,
    /// The exact request body (left out of `status --format json`: it can be long).
    #[serde(skip)]
    pub request: String,
    pub request_hash: String,
    pub created_at: String,
    pub updated_at: String,
}

impl SendRow {
    /// Whether two records of one key say the same thing (for `state migrate`).
    pub(crate) fn same_record(&self, other: &SendRow) -> bool {
        (
            &self.key,
            &self.campaign,
            &self.occurrence,
            &self.recipient,
            &self.endpoint,
            self.status,
            &self.request_hash,
            self.attempts,
            self.http_status,
        ) == (
            &other.key,
            &other.campaign,
            &other.occurrence,
            &other.recipient,
            &other.endpoint,
            other.status,
            &other.request_hash,
            other.attempts,
            other.http_status,
        )
    }
}

/// A send that may have reached its recipient (`sent`, `unknown` or `in_flight`, never a
/// test send), as the limits of the project file count them: the daily number of unique
/// recipients and the frequency caps. Borrowed from the row being read: a plan reads a
/// million of them and keeps only numbers and times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Messaged<'a> {
    pub campaign: &'a str,
    pub occurrence: &'a str,
    pub recipient: &'a str,
    /// The category of its template when it was sent (`marketing`, ...), if known.
    pub category: Option<&'a str>,
    /// When it was last updated: its outcome, or its claim while in flight.
    pub at: DateTime<Utc>,
}

/// Stored occurrences read back as instants, in order.
pub(super) fn occurrence_times(texts: &[String]) -> Vec<DateTime<Utc>> {
    let mut times: Vec<DateTime<Utc>> = texts
        .iter()
        .filter_map(|text| Occurrence::parse(text))
        .filter_map(Occurrence::time)
        .collect();
    times.sort_unstable();
    times.dedup();
    times
}

/// An occurrence the daemon started, and when it first did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FiredRow {
    pub campaign: String,
    pub occurrence: String,
    pub fired_at: String,
}

/// An occurrence that was not sent because it was found more than `catch_up` late.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct MissedRow {
    pub campaign: String,
    pub file: String,
    pub occurrence: String,
    pub recorded_at: String,
}

/// An opt-out: a number no campaign messages, why, who recorded it and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct OptOut {
    /// The normalised number: digits with the country code, as a send's `recipient`.
    pub mobile: String,
    pub reason: Option<String>,
    /// Who recorded it: `optout add`, `optout import FILE`, or the API (an error code).
    pub source: String,
    /// When it was first recorded (RFC 3339 with milliseconds, UTC).
    pub created_at: String,
}

impl OptOut {
    /// An opt-out of `mobile` recorded now.
    pub(crate) fn now(mobile: String, reason: Option<String>, source: &str) -> OptOut {
        OptOut {
            mobile,
            reason,
            source: source.to_owned(),
            created_at: timestamp(Utc::now()),
        }
    }
}

/// Responses are kept for diagnosis, not archived: longer bodies are cut here.
pub(crate) const MAX_RESPONSE_BYTES: usize = 4096;

/// Why a send did not succeed, for people: `HTTP 400: {"error":"..."}` or the transport
/// error.
pub(crate) fn failure_reason(
    http_status: Option<u16>,
    response: Option<&str>,
    error: Option<&str>,
) -> String {
    match (http_status, response, error) {
        (Some(code), Some(body), _) if !body.trim().is_empty() => {
            format!("HTTP {code}: {}", body.trim())
        }
        (Some(code), _, _) => format!("HTTP {code}"),
        (None, _, Some(error)) => error.to_owned(),
        (None, _, None) => "no response".to_owned(),
    }
}

/// RFC 3339 with milliseconds, the ledger's timestamp format (sorts as text).
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A stored `retry_not_before` read back (the format of [`timestamp`]); an error names the
/// value that is not one.
pub(super) fn retry_not_before(text: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("bad retry_not_before `{t}` in the sends table: {e}"))
    })
    .transpose()
}

/// Cuts a response body to [`MAX_RESPONSE_BYTES`] on a character boundary.
pub(crate) fn truncate_response(mut body: String) -> String {
    if body.len() > MAX_RESPONSE_BYTES {
        let mut end = MAX_RESPONSE_BYTES;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        body.truncate(end);
        body.push('…');
    }
    body
}
