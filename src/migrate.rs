//! `campaignctl state migrate`: copy a ledger (typically the local SQLite file) into another
//! (typically PostgreSQL), so moving to a shared ledger never resends what was sent.

use crate::cli::{MigrateArgs, Outcome};
use crate::error::Error;
use crate::ledger::{Filter, Holder, StateLocation};
use crate::planner::Status;

pub fn migrate(args: &MigrateArgs) -> Result<Outcome, Error> {
    let from = StateLocation::parse(&args.from)?;
    let to = StateLocation::parse(&args.to)?;
    if from == to {
        return Err(Error::Refused(format!(
            "--from and --to are the same ledger ({from})"
        )));
    }
    let Some(mut source) = from.open_read_only()? else {
        return Err(Error::Refused(format!("no ledger at {from}")));
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
