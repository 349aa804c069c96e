//! The interface every ledger backend implements, and the values that cross it.

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};

use super::error::LedgerError;
use super::holder::Holder;
use super::row::{FiredRow, Messaged, MissedRow, OptOut, RecordedSends, SendRow, Status};
use crate::schedule::Occurrence;

/// A send about to be attempted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewSend {
    pub key: String,
    pub campaign: String,
    pub file: String,
    pub occurrence: String,
    /// The normalised mobile number, or `blast`.
    pub recipient: String,
    /// `single` or `blast`.
    pub endpoint: String,
    pub request: String,
    pub request_hash: String,
    /// The category of the campaign's template (`marketing`, ...) when a template catalogue
    /// names it: what frequency caps by category count.
    pub category: Option<String>,
    /// A test send (`apply --to`): never counted as its recipient's send, nor against any
    /// limit.
    pub test: bool,
}

/// A send deliberately not sent, as [`Ledger::skip`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub send: NewSend,
    /// `capped` or `missed`.
    pub status: Status,
    pub reason: String,
}

/// The result of a claim: the send may go out (and what the row was before, to put it back
/// if the send never starts), or another run already has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Claimed; `None` when the row is new, else the status it was retried from.
    Claimed(Option<Status>),
    /// Someone else recorded this send (sent, in flight, or not to be retried).
    Taken,
    /// The number is in the ledger's opt-outs (it opted out while the run was sending, or
    /// since the plan): nothing was written, and it is never sent.
    OptedOut,
}

/// The outcome of a send, recorded after its last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    pub key: String,
    /// `sent`, `failed` or `unknown`.
    pub status: Status,
    pub attempts: u32,
    pub http_status: Option<u16>,
    pub response: Option<String>,
    pub error: Option<String>,
    /// The WhatsApp error code the answer carried, when campaignctl knows it.
    pub wa_code: Option<u32>,
    /// Not to be sent again before this instant (RFC 3339 with milliseconds, UTC), even
    /// with `--retry-failed`: the claim leaves the row alone until then.
    pub retry_not_before: Option<String>,
}

/// What [`Ledger::import`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Imported {
    pub sends_copied: usize,
    pub sends_present: usize,
    pub missed_copied: usize,
    pub missed_present: usize,
}

/// Which sends to list: each field set narrows the rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub campaign: Option<String>,
    pub status: Option<Status>,
    /// Only sends updated at or after this instant (to the millisecond: `updated_at` is
    /// stored with milliseconds, and compared as text in that format).
    pub since: Option<DateTime<Utc>>,
}

/// The ledger operations. Implementations commit each call durably before returning.
pub(crate) trait Ledger: Send {
    /// Where the ledger is, for messages (a path, or a URL without its password).
    fn location(&self) -> &str;

    /// Tries the single-writer lock once: `None` when this process now holds it, else who
    /// does.
    fn try_lock(&mut self, holder: &Holder) -> Result<Option<Holder>, LedgerError>;

    /// Whether this process still holds the lock (a database session can lose it).
    fn holds_lock(&mut self) -> Result<bool, LedgerError>;

    /// Takes the lock, waiting up to `timeout` for the holder to let go; fails naming it.
    fn lock_within(
        &mut self,
        holder: &Holder,
        timeout: std::time::Duration,
    ) -> Result<(), LedgerError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            match self.try_lock(holder)? {
                None => return Ok(()),
                Some(other) if std::time::Instant::now() >= deadline => {
                    return Err(LedgerError::Locked {
                        ledger: self.location().to_owned(),
                        holder: other,
                    });
                }
                Some(_) => std::thread::sleep(std::time::Duration::from_millis(250)),
            }
        }
    }

    /// Takes the lock or fails at once naming the holder.
    fn lock(&mut self, holder: &Holder) -> Result<(), LedgerError> {
        self.lock_within(holder, std::time::Duration::ZERO)
    }

    /// Marks rows left `in_flight` (a process died mid-send) as `unknown`; returns how many.
    fn recover(&mut self) -> Result<usize, LedgerError>;

    /// What is recorded for one occurrence of one campaign, by recipient.
    fn recorded(
        &mut self,
        campaign: &str,
        occurrence: Occurrence,
    ) -> Result<RecordedSends, LedgerError>;

    /// Commits each send as `in_flight` unless it is already recorded with a status not in
    /// `retry`, its `retry_not_before` is still to come, or its number opted out (the
    /// opt-outs are checked in the same transaction, so an opt-out committed before the
    /// claim always wins). Exactly one caller can claim a send.
    fn claim(&mut self, sends: &[NewSend], retry: &[Status]) -> Result<Vec<Claim>, LedgerError>;

    /// Records sends that are deliberately not sent (`capped` or `missed`, with the reason),
    /// in one transaction. A send already recorded keeps its row. Returns how many were
    /// recorded.
    fn skip(&mut self, skipped: &[Skipped]) -> Result<usize, LedgerError>;

    /// Hands `visit` every send that may have reached its recipient (`sent`, `unknown`,
    /// `in_flight`; not test sends) updated at or after `since`, one row at a time; returns
    /// how many. The daily limit and the frequency caps are counted from these.
    fn each_messaged(
        &mut self,
        since: DateTime<Utc>,
        visit: &mut dyn FnMut(Messaged<'_>),
    ) -> Result<usize, LedgerError>;

    /// Puts back claims whose requests never left (the run was stopped first).
    fn release(&mut self, claims: &[(String, Option<Status>)]) -> Result<(), LedgerError>;

    /// Records outcomes.
    fn finish(&mut self, results: &[Finished]) -> Result<(), LedgerError>;

    /// Records an occurrence as missed; false if it was recorded already.
    fn record_missed(
        &mut self,
        campaign: &str,
        file: &str,
        occurrence: Occurrence,
    ) -> Result<bool, LedgerError>;

    /// Records that the daemon started an occurrence (at its fire time, or again when its
    /// waiting sends may go); recording it again changes nothing.
    fn record_fired(
        &mut self,
        campaign: &str,
        occurrence: DateTime<Utc>,
    ) -> Result<(), LedgerError>;

    /// The latest scheduled occurrence of `campaign` with anything recorded (a send, a
    /// missed occurrence, or its start by the daemon): where the daemon resumes after a
    /// restart.
    fn last_occurrence(&mut self, campaign: &str) -> Result<Option<DateTime<Utc>>, LedgerError>;

    /// The occurrences of `campaign` at or after `since` that were started (the daemon
    /// fired them, or they have a send, not a test send), in order. One recorded only as
    /// missed was not started.
    fn started_since(
        &mut self,
        campaign: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, LedgerError>;

    /// Rows matching `filter`, by campaign, occurrence and recipient, all in memory.
    fn sends(&mut self, filter: &Filter) -> Result<Vec<SendRow>, LedgerError> {
        let mut rows = Vec::new();
        self.each_send(filter, &mut |row| {
            rows.push(row);
            ControlFlow::Continue(())
        })?;
        Ok(rows)
    }

    /// Gives `visit` each row matching `filter`, one at a time, by campaign, occurrence and
    /// recipient, holding only a bounded number of rows at once whatever the ledger's size
    /// (`status --format csv` of millions of rows). `visit` stops the listing by returning
    /// `Break`; its own errors are the caller's to keep, only the ledger's are returned.
    fn each_send(
        &mut self,
        filter: &Filter,
        visit: &mut dyn FnMut(SendRow) -> ControlFlow<()>,
    ) -> Result<(), LedgerError>;

    /// Missed occurrences, by campaign and occurrence.
    fn missed(&mut self, campaign: Option<&str>) -> Result<Vec<MissedRow>, LedgerError>;

    /// Copies records from another ledger in one transaction. Records already here and
    /// identical are skipped; if any differs (same key, different outcome) nothing is
    /// written and the keys are returned as the error.
    fn import(&mut self, sends: &[SendRow], missed: &[MissedRow]) -> Result<Imported, LedgerError>;

    /// The occurrences the daemon started, by campaign and occurrence (none in a ledger
    /// older than their table).
    fn fired(&mut self) -> Result<Vec<FiredRow>, LedgerError>;

    /// Copies the occurrences another ledger's daemon started; one recorded here already
    /// keeps its record. Returns how many were copied.
    fn import_fired(&mut self, fired: &[FiredRow]) -> Result<usize, LedgerError>;

    /// Records opt-outs in one transaction. A number already opted out keeps its first
    /// record, untouched (so does a number given twice: the first is added). Returns, for
    /// each of `optouts` in order, `None` when it was added, else the record the number
    /// already had. Needs no writer lock: opt-outs are recorded while a run sends.
    fn add_optouts(&mut self, optouts: &[OptOut]) -> Result<Vec<Option<OptOut>>, LedgerError>;

    /// Removes the opt-outs of `mobiles` in one transaction; returns the records removed, in
    /// the order of `mobiles` (numbers that had none are left out).
    fn remove_optouts(&mut self, mobiles: &[String]) -> Result<Vec<OptOut>, LedgerError>;

    /// The opt-outs of those of `mobiles` that have one, by number: a lookup for a set of
    /// numbers (the due sends of a saved plan), in batches, never a query per number.
    fn optouts_among(&mut self, mobiles: &[String]) -> Result<Vec<OptOut>, LedgerError>;

    /// Hands every opt-out to `visit`, by number, as the rows are read (never all held
    /// here): how a plan loads them once into a set, and how `optout list` prints them.
    /// Returns how many. A ledger older than the opt-out table has none.
    fn each_optout(&mut self, visit: &mut dyn FnMut(OptOut)) -> Result<usize, LedgerError>;
}
