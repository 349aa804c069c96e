//! The send ledger: one row per send key, committed as `in_flight` before its request leaves
//! and updated with the outcome after, so nothing is ever sent twice or silently lost.
//! One interface ([`Ledger`]), two backends: a local SQLite file and (for CI runners and
//! replicated daemons) PostgreSQL. [`StateLocation`] opens the one a location names;
//! [`SharedLedger`] shares it between the tasks of a run.

mod backend;
#[cfg(test)]
mod contract;
mod error;
mod handle;
mod holder;
mod location;
mod migrations;
mod postgres;
mod row;
mod sqlite;

pub(crate) use backend::{Claim, Filter, Finished, Ledger, NewSend, Skipped};
pub(crate) use error::LedgerError;
pub(crate) use handle::SharedLedger;
pub(crate) use holder::Holder;
pub(crate) use location::{DEFAULT_STATE, StateLocation};
pub(crate) use row::{
    Messaged, MissedRow, OptOut, Recorded, RecordedSends, SendRow, Status, failure_reason,
    timestamp,
};
