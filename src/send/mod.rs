//! Sends planned requests to the ChitChatLabs API: each send is claimed in the ledger
//! before its request leaves and recorded after, paced by one token bucket for the whole
//! run, retried on transient failures, and stopped cleanly on Ctrl-C or too many failures.

mod committer;
mod context;
mod dispatch;
mod executor;
mod feed;
mod job;
mod outcome;
mod pacer;
pub(crate) mod progress;
mod report;
mod run;
mod settings;
mod slots;
mod tally;

pub(crate) use executor::Executor;
pub(crate) use feed::{Outgoing, feed, feed_outgoing, input};
pub(crate) use report::{Report, StopReason};
pub(crate) use settings::{Concurrency, DEFAULT_MAX_CONCURRENCY, Settings};
