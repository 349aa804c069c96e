//! `campaignctl state migrate`: copy a ledger (typically the local SQLite file) into another
//! (typically PostgreSQL), so moving to a shared ledger never resends what was sent, nor
//! sends to a number that opted out.

use std::io::{self, Write};

use super::Outcome;
use crate::error::Error;
use crate::ledger::{Filter, Holder, StateLocation, Status};

#[derive(Debug, Clone)]
pub(crate) struct MigrateSettings {
    pub from: StateLocation,
    pub to: StateLocation,
}

pub(crate) fn migrate(settings: &MigrateSettings) -> Result<Outcome, Error> {
    let (from, to) = (&settings.from, &settings.to);
    if from == to {
        return Err(Error::SameLedger(from.to_string()));
    }
    let Some(mut source) = from.open_read_only()? else {
        return Err(Error::NoLedger(from.to_string()));
    };
    let sends = source.sends(&Filter::default())?;
    let missed = source.missed(None)?;
    // The occurrences its daemon started: one whose sends all wait is taken up from these.
    let fired = source.fired()?;
    let mut optouts = Vec::new();
    source.each_optout(&mut |o| optouts.push(o))?;
    let in_flight = sends
        .iter()
        .filter(|s| s.status == Status::InFlight)
        .count();
    let mut target = to.open()?;
    // Nobody may send through the target while it is being filled.
    target.lock(&Holder::current("state migrate"))?;
    let imported = target.import(&sends, &missed)?;
    target.import_fired(&fired)?;
    // Opt-outs keep their record (when, why, by whom); one the target has already keeps its.
    let present = target
        .add_optouts(&optouts)?
        .iter()
        .filter(|o| o.is_some())
        .count();
    writeln!(
        io::stdout(),
        "Copied {} send(s) and {} missed occurrence(s) from {from} to {to}; {} send(s) and {} missed occurrence(s) were there already.",
        imported.sends_copied,
        imported.missed_copied,
        imported.sends_present,
        imported.missed_present
    )?;
    if !optouts.is_empty() {
        writeln!(
            io::stdout(),
            "Copied {} opt-out(s), each with its date, reason and source; {present} were there already (kept as they were).",
            optouts.len() - present
        )?;
    }
    if in_flight > 0 {
        writeln!(
            io::stdout(),
            "note: {in_flight} send(s) were in flight in {from}; the next apply or run on {to} records them as `unknown`."
        )?;
    }
    Ok(Outcome::Success)
}
