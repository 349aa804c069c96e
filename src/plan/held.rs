//! Why a `failed` send is not resent, even with `--retry-failed`: what WhatsApp said of it
//! (`api/whatsapp.rs`), as the ledger recorded it.

use chrono::{DateTime, Utc};

use super::state::PlanOptions;
use crate::api::{WaAction, WaCode};
use crate::ledger::{Recorded, Status};
use crate::schedule::rfc3339;

/// Why a `failed` send is not resent, even with `--retry-failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    /// WhatsApp said it cannot be delivered to this number: resent only with
    /// `--include-undeliverable` too.
    Undeliverable(&'static WaCode),
    /// A WhatsApp limit said not before this instant.
    Until(DateTime<Utc>),
}

impl Held {
    /// Why, for people: `retry not before 2026-12-02T10:00:00Z`.
    pub(crate) fn text(self) -> String {
        match self {
            Held::Undeliverable(code) => format!(
                "undeliverable (WhatsApp {}): resent only with --retry-failed --include-undeliverable",
                code.code
            ),
            Held::Until(at) => format!("retry not before {}", rfc3339(at)),
        }
    }

    /// Whether the failed send `recorded` is held at `now`.
    pub(super) fn of(
        recorded: &Recorded,
        now: DateTime<Utc>,
        options: PlanOptions,
    ) -> Option<Held> {
        if recorded.status != Status::Failed {
            return None;
        }
        if let Some(at) = recorded.retry_not_before.filter(|at| *at > now) {
            return Some(Held::Until(at));
        }
        recorded
            .wa_code
            .and_then(WaCode::of)
            .filter(|code| code.action == WaAction::Undeliverable && !options.include_undeliverable)
            .map(Held::Undeliverable)
    }
}
