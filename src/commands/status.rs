//! `campaignctl status`: what the ledger recorded, by campaign and state, with the reasons
//! of failures (and what the WhatsApp code of an answer means); or, as CSV, one row per
//! send for a spreadsheet.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::Outcome;
use crate::api::WaCode;
use crate::error::Error;
use crate::ledger::{
    Filter, Ledger, MissedRow, SendRow, StateLocation, Status, failure_reason, timestamp,
};
use crate::output;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Json,
    /// One row per send, streamed: see [`write_csv`].
    Csv,
}

#[derive(Debug, Clone)]
pub(crate) struct StatusSettings {
    pub state: StateLocation,
    /// Only this campaign.
    pub campaign: Option<String>,
    /// Only sends in this state.
    pub status: Option<Status>,
    /// Only sends updated at or after this instant (and missed occurrences recorded then).
    pub since: Option<DateTime<Utc>>,
    pub format: Format,
}

pub(crate) fn status(settings: &StatusSettings) -> Result<Outcome, Error> {
    let location = &settings.state;
    let Some(mut ledger) = location.open_read_only()? else {
        return Err(Error::NothingApplied(location.to_string()));
    };
    let filter = Filter {
        campaign: settings.campaign.clone(),
        status: settings.status,
        since: settings.since,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let written = match settings.format {
        Format::Csv => write_csv(&mut out, ledger.as_mut(), &filter),
        Format::Text | Format::Json => {
            write_listing(&mut out, ledger.as_mut(), &filter, settings.format)
        }
    }
    .and_then(|()| Ok(out.flush()?));
    match written {
        // Its reader going away (`| head`) ends the output quietly.
        Err(Error::Io(e)) if output::is_closed(&e) => Ok(Outcome::Success),
        Err(e) => Err(e),
        Ok(()) => Ok(Outcome::Success),
    }
}

/// The text or JSON listing: every matching row and missed occurrence, grouped (text) or in
/// one document (JSON), so all of them are read first.
fn write_listing(
    out: &mut impl Write,
    ledger: &mut dyn Ledger,
    filter: &Filter,
    format: Format,
) -> Result<(), Error> {
    let rows = ledger.sends(filter)?;
    let mut missed = if filter.status.is_none() {
        ledger.missed(filter.campaign.as_deref())?
    } else {
        Vec::new()
    };
    if let Some(since) = filter.since {
        // As the ledger compares `updated_at`: timestamps in its format sort as text.
        let since = timestamp(since);
        missed.retain(|m| m.recorded_at >= since);
    }
    if format == Format::Json {
        let sends: Vec<JsonRow<'_>> = rows
            .iter()
            .map(|row| JsonRow {
                row,
                wa_meaning: row.wa_code.and_then(WaCode::of).map(|c| c.meaning),
            })
            .collect();
        let value = json!({
            "format_version": 1,
            "ledger": ledger.location(),
            "sends": sends,
            "missed": missed,
        });
        serde_json::to_writer_pretty(&mut *out, &value).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        write_text(out, ledger.location(), &rows, &missed)?;
    }
    Ok(())
}

/// A send as the JSON lists it: its row, and what its WhatsApp code means.
#[derive(Serialize)]
struct JsonRow<'a> {
    #[serde(flatten)]
    row: &'a SendRow,
    wa_meaning: Option<&'static str>,
}

/// Why a send did not succeed, as the text and the CSV say it: the answer (or the transport
/// error), then what the WhatsApp code in it means, and until when it is held back.
fn reason(row: &SendRow) -> String {
    let mut reason = failure_reason(
        row.http_status,
        row.response.as_deref(),
        row.error.as_deref(),
    );
    if let Some(code) = row.wa_code.and_then(WaCode::of) {
        reason.push_str(" — ");
        reason.push_str(&code.describe());
    }
    if let Some(at) = &row.retry_not_before {
        reason.push_str("; retry not before ");
        reason.push_str(at);
    }
    reason
}

/// The CSV columns, in [`CsvRow`]'s order. `key` is left out: it is campaign, occurrence
/// and recipient joined with `/`, the three columns a spreadsheet sorts and filters by, and
/// repeating them would only widen every row. `file` is left out too: it says where the
/// campaign was defined, which is the same for all of a campaign's rows and answers nothing
/// about a recipient. Both are in `--format json`.
const CSV_COLUMNS: [&str; 10] = [
    "campaign",
    "occurrence",
    "recipient",
    "status",
    "attempts",
    "http_status",
    "wa_code",
    "reason",
    "created_at",
    "updated_at",
];

/// One CSV row: the fields of [`CSV_COLUMNS`], in that order.
#[derive(Serialize)]
struct CsvRow<'a> {
    campaign: &'a str,
    occurrence: &'a str,
    recipient: &'a str,
    status: &'static str,
    attempts: u32,
    /// Empty when no answer came.
    http_status: Option<u16>,
    /// The WhatsApp error code of the answer, when campaignctl knows it.
    wa_code: Option<u32>,
    /// Why it did not succeed, as the text output says it; empty for `sent`.
    reason: String,
    created_at: &'a str,
    updated_at: &'a str,
}

/// Writes the header, then each matching send as the ledger gives it: the export holds
/// only the row being written, so its memory does not grow with the ledger (the ledger's
/// own buffers are bounded too: SQLite's sort spills to disk, PostgreSQL's rows come in
/// batches). Missed occurrences have no recipient and are not rows here (the text and JSON
/// list them).
fn write_csv(out: &mut impl Write, ledger: &mut dyn Ledger, filter: &Filter) -> Result<(), Error> {
    let mut csv = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    csv.write_record(CSV_COLUMNS).map_err(csv_error)?;
    // The writer's error, kept to return once the ledger has let go.
    let mut failed = None;
    ledger.each_send(filter, &mut |row| {
        let reason = if row.status == Status::Sent {
            String::new()
        } else {
            reason(&row)
        };
        let written = csv.serialize(CsvRow {
            campaign: &row.campaign,
            occurrence: &row.occurrence,
            recipient: &row.recipient,
            status: row.status.as_str(),
            attempts: row.attempts,
            http_status: row.http_status,
            wa_code: row.wa_code,
            reason,
            created_at: &row.created_at,
            updated_at: &row.updated_at,
        });
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(csv_error(e));
    }
    csv.flush()?;
    Ok(())
}

/// The CSV writer fails when its output does (stdout closed, disk full): that error, as is.
fn csv_error(e: csv::Error) -> Error {
    if !e.is_io_error() {
        return Error::Io(io::Error::other(e));
    }
    match e.into_kind() {
        csv::ErrorKind::Io(e) => Error::Io(e),
        _ => unreachable!("an I/O error is ErrorKind::Io"),
    }
}

fn write_text(
    out: &mut impl Write,
    location: &str,
    rows: &[SendRow],
    missed: &[MissedRow],
) -> io::Result<()> {
    if rows.is_empty() && missed.is_empty() {
        return writeln!(out, "No sends recorded in {location} (for this filter).");
    }
    // campaign → occurrence → rows
    let mut by_campaign: BTreeMap<&str, BTreeMap<&str, Vec<&SendRow>>> = BTreeMap::new();
    for row in rows {
        by_campaign
            .entry(&row.campaign)
            .or_default()
            .entry(&row.occurrence)
            .or_default()
            .push(row);
    }
    for missed in missed {
        by_campaign.entry(&missed.campaign).or_default();
    }
    for (campaign, occurrences) in &by_campaign {
        writeln!(out, "campaign {campaign}")?;
        for (occurrence, rows) in occurrences {
            let mut counts: BTreeMap<Status, usize> = BTreeMap::new();
            for row in rows {
                *counts.entry(row.status).or_default() += 1;
            }
            let counts: Vec<String> = counts
                .iter()
                .map(|(s, n)| format!("{n} {}", s.as_str()))
                .collect();
            writeln!(out, "  {occurrence}: {}", counts.join(", "))?;
            for row in rows.iter().filter(|r| r.status != Status::Sent) {
                let reason = reason(row);
                writeln!(
                    out,
                    "    {:<9} {:<15} attempts {}, {}  {reason}",
                    row.status.as_str(),
                    row.recipient,
                    row.attempts,
                    row.updated_at
                )?;
            }
        }
        for m in missed.iter().filter(|m| m.campaign == *campaign) {
            writeln!(
                out,
                "  {}: missed (found more than catch_up late at {})",
                m.occurrence, m.recorded_at
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header row names [`CsvRow`]'s fields, in the order they are written.
    #[test]
    fn csv_columns_are_the_row_fields_in_order() {
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.serialize(CsvRow {
            campaign: "c",
            occurrence: "once",
            recipient: "919000000001",
            status: "failed",
            attempts: 2,
            http_status: None,
            wa_code: Some(131026),
            reason: "say \"no\", twice".to_owned(),
            created_at: "a",
            updated_at: "b",
        })
        .unwrap();
        let text = String::from_utf8(csv.into_inner().unwrap()).unwrap();
        let (header, row) = text.split_once('\n').unwrap();
        assert_eq!(header, CSV_COLUMNS.join(","));
        assert_eq!(
            row,
            "c,once,919000000001,failed,2,,131026,\"say \"\"no\"\", twice\",a,b\n"
        );
    }
}
