//! `campaignctl state migrate`: copy a ledger (typically the local SQLite file) into another
//! (typically PostgreSQL), so moving to a shared ledger never resends what was sent.

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
    let in_flight = sends
        .iter()
        .filter(|s| s.status == Status::InFlight)
        .count();
    let mut target = to.open()?;
    // Nobody may send through the target while it is being filled.
    target.lock(&Holder::current("state migrate"))?;
    let imported = target.import(&sends, &missed)?;
    println!(
        "Copied {} send(s) and {} missed occurrence(s) from {from} to {to}; {} send(s) and {} missed occurrence(s) were there already.",
        imported.sends_copied,
        imported.missed_copied,
        imported.sends_present,
        imported.missed_present
    );
    if in_flight > 0 {
        println!(
            "note: {in_flight} send(s) were in flight in {from}; the next apply or run on {to} records them as `unknown`."
        );
    }
    Ok(Outcome::Success)
}
