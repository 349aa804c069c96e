//! One planned send: its key, its exact request body, its state, and why it is or is not
//! sent now; and the items of a campaign's stream of sends.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::held::Held;
use super::limits::CapHit;
use super::state::SendState;
use crate::api::body::{self, To};
use crate::campaign::mobile::Mobile;
use crate::campaign::recipients::Origin;
use crate::campaign::window::ZoneFrom;
use crate::campaign::{Campaign, Kind};
use crate::diagnostic::Diagnostic;
use crate::schedule::Occurrence;

/// One send: its key, its exact request, and its state.
#[derive(Debug, Clone)]
pub(crate) struct PlannedSend {
    pub key: String,
    /// The normalised mobile number, or `blast`: the last part of the key.
    pub recipient: String,
    pub campaign: Arc<Campaign>,
    pub occurrence: Occurrence,
    pub kind: Kind,
    pub mobile: Option<Mobile>,
    pub name: Option<String>,
    pub params: Vec<String>,
    pub state: SendState,
    pub due: bool,
    /// Where the recipient is listed (none for a blast).
    pub origin: Option<Origin>,
    /// Where its opt-out comes from, when it is `Suppressed`.
    pub suppressed_by: Option<String>,
    /// Why it is not resent, when it is `Failed` and WhatsApp said so.
    pub held: Option<Held>,
    /// The zone its send window is read in, and why that one, when the campaign has a
    /// window.
    pub zone: Option<(Tz, ZoneFrom)>,
    /// Why it is `Waiting`, and until when.
    pub wait: Option<Wait>,
    /// The frequency cap that made it `Capped` in this plan, with what counts against it.
    pub capped: Option<Box<CapHit>>,
    /// Why this plan found it `Missed`: its window or the daily limit does not open before
    /// the occurrence's deadline (`catch_up` + `max_delay`). The daemon records it so.
    pub missed: Option<String>,
}

/// Why a send waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Wait {
    /// When it may go: its window opens, or the daily limit has room. `None`: not known to
    /// be within the next 24 hours.
    pub until: Option<DateTime<Utc>>,
    pub reason: WaitReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitReason {
    /// Its recipient's send window is closed.
    Window,
    /// The daily number of unique recipients is reached.
    DailyLimit,
}

impl WaitReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WaitReason::Window => "window",
            WaitReason::DailyLimit => "daily_limit",
        }
    }
}

impl PlannedSend {
    /// The occurrence as the key spells it: `once`, or the RFC 3339 UTC time. Neither it
    /// nor the campaign name nor the recipient contains a `/` (see [`send_key`]).
    pub(crate) fn occurrence_text(&self) -> &str {
        let start = self.campaign.name.len() + 1;
        let end = self.key.len() - self.recipient.len() - 1;
        &self.key[start..end]
    }

    /// The request body exactly as `apply` sends it: compact JSON with the fields in the
    /// order of the API reference.
    pub(crate) fn body(&self) -> String {
        let mut body = Vec::with_capacity(256);
        self.write_body(&mut body)
            .expect("writing to a Vec does not fail");
        String::from_utf8(body).expect("serde_json writes UTF-8")
    }

    /// Writes [`PlannedSend::body`] to `out`.
    pub(crate) fn write_body(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let to = self.mobile.map(|_| To {
            mobile: &self.recipient,
            name: self.name.as_deref(),
        });
        body::write(out, &self.campaign, to, &self.params)
    }
}

/// An item of a campaign's send stream.
#[derive(Debug)]
pub(crate) enum SendItem {
    Send(PlannedSend),
    /// Recipient or param problems; errors make the whole set invalid.
    Problems(Vec<Diagnostic>),
    /// A number listed again in the campaign (a warning): it is sent once.
    Duplicate(Diagnostic),
}
