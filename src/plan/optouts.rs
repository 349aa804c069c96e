//! Opt-outs in the plan: the project file's opt-out lists (`suppressions:`), read once per
//! set of files, and the ledger's opt-outs, read once per plan into a set (a lookup per
//! recipient, never a query); and the warnings they call for: a campaign that sends to
//! nobody, and a blast they cannot apply to.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::scan::CampaignScan;
use super::state::SendState;
use crate::campaign::mobile::Mobile;
use crate::campaign::optouts::{ListColumns, OptOutSource, OptOuts, read_list};
use crate::campaign::project::Project;
use crate::campaign::recipients::RecipientSource;
use crate::campaign::{Audience, Campaign};
use crate::diagnostic::{Diagnostic, Pos, io_reason};
use crate::digest::sha256_hex;
use crate::ledger::{Ledger, LedgerError};

/// The project file's opt-out lists, as read for one set of campaign files.
#[derive(Debug, Default)]
pub(crate) struct FileOptOuts {
    pub optouts: OptOuts,
    /// Each list, with the SHA-256 of the bytes that were read: a saved plan is stale when
    /// one changes.
    pub files: Vec<(PathBuf, String)>,
}

/// Every opt-out a plan honours: the project file's lists, then the ledger's table.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlanOptOuts {
    pub files: Arc<FileOptOuts>,
    pub ledger: Arc<OptOuts>,
}

impl PlanOptOuts {
    /// Where `mobile`'s opt-out came from, if it opted out.
    pub(crate) fn get(&self, mobile: Mobile) -> Option<&OptOutSource> {
        self.files
            .optouts
            .get(mobile)
            .or_else(|| self.ledger.get(mobile))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.files.optouts.is_empty() && self.ledger.is_empty()
    }
}

/// Reads the project file's opt-out lists. A list that cannot be read, or has no mobile
/// column, is an error at its entry in the project file; a bad row is an error at
/// `FILE.csv:ROW`.
pub(crate) fn load_files(project: &Project) -> (FileOptOuts, Vec<Diagnostic>) {
    let mut out = FileOptOuts::default();
    let mut problems = Vec::new();
    let Some(project_file) = &project.file else {
        return (out, problems);
    };
    for list in &project.suppressions {
        // `./optouts.csv` is shown as `optouts.csv`.
        let path = list.path.strip_prefix(".").unwrap_or(&list.path);
        let shown: Arc<Path> = path.into();
        let at_entry = |message: String| Diagnostic::error(&**project_file, list.pos, message);
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => {
                problems.push(at_entry(format!(
                    "cannot read the opt-out list `{}`: {}",
                    path.display(),
                    io_reason(&e)
                )));
                continue;
            }
        };
        let columns = ListColumns {
            mobile: &list.mobile_column,
            reason: &list.reason_column,
            reason_required: false,
        };
        // Without `delimiter:`, it is detected from the header line.
        let read = match read_list(
            &shown,
            &bytes,
            columns,
            list.delimiter,
            project.default_country,
        ) {
            Ok(read) => read,
            Err(message) => {
                problems.push(at_entry(message).with_help(
                    "an opt-out list has a `mobile` column and may have a `reason`; name others with `columns: {mobile: ..., reason: ...}`",
                ));
                continue;
            }
        };
        problems.extend(read.problems);
        if read.omitted > 0 {
            problems.push(Diagnostic::error(
                &*shown,
                Pos::default(),
                format!("… and {} more bad rows", read.omitted),
            ));
        }
        for row in read.rows {
            out.optouts.insert(
                row.mobile,
                OptOutSource::File {
                    file: shown.clone(),
                    line: u32::try_from(row.line).unwrap_or(u32::MAX),
                    reason: row.reason.map(Into::into),
                },
            );
        }
        out.files.push((path.to_owned(), sha256_hex(&bytes)));
    }
    (out, problems)
}

/// Reads every opt-out of the ledger into a set, once.
pub(crate) fn load_ledger(ledger: &mut dyn Ledger) -> Result<OptOuts, LedgerError> {
    let mut optouts = OptOuts::default();
    // The few distinct sources are shared by their rows, not copied into each.
    let mut sources: HashMap<String, Arc<str>> = HashMap::new();
    ledger.each_optout(&mut |o| {
        // Stored normalised, with the country code: read back as such whatever the
        // project's default country.
        let Some(mobile) = Mobile::from_digits(&o.mobile) else {
            return;
        };
        let source = sources
            .entry(o.source)
            .or_insert_with_key(|s| s.as_str().into())
            .clone();
        optouts.insert(
            mobile,
            OptOutSource::Ledger {
                at: o.created_at.into(),
                source,
                reason: o.reason.map(Into::into),
            },
        );
    })?;
    Ok(optouts)
}

/// The warning a campaign's sends call for, if any: a campaign of recipients that sends to
/// nobody, and why; a blast, when there are opt-outs it cannot honour.
pub(crate) fn audience_warning(
    campaign: &Campaign,
    counts: &CampaignScan,
    optouts: &PlanOptOuts,
) -> Option<Diagnostic> {
    let warning = |message: String, help: &str| {
        Diagnostic::warning(&*campaign.file, campaign.audience_pos, message)
            .with_help(help)
            .with_source(&campaign.source)
    };
    let sources = match &campaign.audience {
        Audience::Search(_) if !optouts.is_empty() => {
            return Some(warning(
                format!(
                    "campaign `{}` is a blast to a contact search: opt-outs are not applied to it",
                    campaign.name
                ),
                "the server picks a blast's recipients, so campaignctl cannot leave opted-out numbers out; remove them from the contacts on ChitChatLabs, or list the recipients instead",
            ));
        }
        Audience::Search(_) => return None,
        Audience::Recipients(sources) => sources,
    };
    let suppressed = counts.of(SendState::Suppressed);
    if counts.errors || counts.total > suppressed {
        return None;
    }
    let name = &campaign.name;
    if counts.total + counts.duplicates == 0 {
        let csv: Vec<String> = sources
            .iter()
            .filter_map(|s| match s {
                RecipientSource::Csv(csv) => Some(format!("`{}`", csv.path.display())),
                RecipientSource::Inline(..) => None,
            })
            .collect();
        let why = match csv.len() {
            0 => "its `recipients` list is empty".to_owned(),
            1 => format!("its CSV file {} has only a header row", csv[0]),
            _ => format!("its CSV files {} have only header rows", csv.join(", ")),
        };
        return Some(warning(
            format!("campaign `{name}` sends to nobody: {why}"),
            "nothing is sent; list recipients, or remove the campaign",
        ));
    }
    let why = match (suppressed, counts.duplicates) {
        (1, 0) => "its one recipient opted out".to_owned(),
        (n, 0) => format!("all {n} of its recipients opted out"),
        (n, again) => format!(
            "of its {} recipients, {n} opted out and {again} {} listed again",
            n + again,
            if again == 1 { "is" } else { "are" }
        ),
    };
    Some(warning(
        format!("campaign `{name}` sends to nobody: {why}"),
        "`campaignctl plan` shows where each opt-out comes from; `campaignctl optout list` lists the ledger's",
    ))
}
