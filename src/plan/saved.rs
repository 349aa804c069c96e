//! Saved plans: `plan --out plan.json` writes the plan as data (every send with its key,
//! endpoint and exact body, and what it was computed from: the hash of every campaign and
//! CSV file, the instant, the ledger's record of every planned key); `apply plan.json`
//! sends exactly those sends, after checking that nothing they were computed from changed.
//!
//! The file is `{"kind", "format_version", "digest", "plan"}`: `digest` is the SHA-256 of
//! the exact bytes of `plan`, so an edited or damaged file is refused. A newer major
//! `format_version` is refused; a newer minor one only adds fields, and is read.

use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::view::{CampaignView, SendView};
use super::{Plan, PlannedSend};
use crate::campaign::Audience;
use crate::campaign::optouts::OptOutSource;
use crate::campaign::project::Project;
use crate::campaign::recipients::RecipientSource;
use crate::digest::{file_sha256, sha256_hex};
use crate::ledger::{Ledger, LedgerError, NewSend, Recorded, RecordedSends, Status};
use crate::schedule::{Occurrence, rfc3339};

/// What the `kind` of a saved plan says.
const KIND: &str = "campaignctl-plan";

/// The format this campaignctl writes: major 1 (what it can read), minor 2 (1.1 added the
/// send state `suppressed` and `suppressed_by`, 1.2 a failed send's `held`).
pub(crate) const FORMAT_MAJOR: u32 = 1;
const FORMAT_VERSION: &str = "1.2";

#[derive(Serialize, Deserialize)]
struct Envelope<'a> {
    kind: String,
    format_version: String,
    digest: String,
    #[serde(borrow)]
    plan: &'a RawValue,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedPlan {
    /// The campaignctl that made it.
    pub campaignctl: String,
    /// The instant the plan was computed for (`--now`).
    pub now: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// The ledger it was planned against (a password is never in it).
    pub ledger: String,
    /// Every file the plan read, with its hash.
    pub files: Vec<SavedFile>,
    pub campaigns: Vec<SavedCampaign>,
    /// The warnings of the files, `FILE:LINE:COL: message`.
    #[serde(default)]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedFile {
    pub path: PathBuf,
    pub sha256: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedCampaign {
    #[serde(flatten)]
    pub view: CampaignView,
    pub sends: Vec<SavedSend>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct SavedSend {
    #[serde(flatten)]
    pub view: SendView,
    /// `single` or `blast`.
    pub endpoint: String,
    /// The exact request body.
    pub request: String,
    pub request_sha256: String,
    /// What the ledger held for this key when the plan was made.
    pub ledger: Option<SavedRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedRecord {
    pub status: Status,
    pub body_hash: String,
}

impl From<&Recorded> for SavedRecord {
    fn from(r: &Recorded) -> SavedRecord {
        SavedRecord {
            status: r.status,
            body_hash: r.body_hash.clone(),
        }
    }
}

/// Why a saved plan cannot be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("cannot read the saved plan {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path} is not a saved plan of campaignctl: {reason}")]
    NotAPlan { path: String, reason: String },
    #[error(
        "{path} is a saved plan in format {found}, newer than this campaignctl reads ({FORMAT_MAJOR}.x); upgrade campaignctl"
    )]
    TooNew { path: String, found: String },
    #[error("{path} was changed after it was saved (or is damaged): {what}; make the plan again")]
    Tampered { path: String, what: String },
}

/// Builds a saved plan from a live one, send by send as the scan renders them.
pub(crate) struct Saver {
    campaigns: Vec<Vec<SavedSend>>,
}

impl Saver {
    pub(crate) fn new() -> Saver {
        Saver {
            campaigns: Vec::new(),
        }
    }

    /// A send of campaign `index`, as planned (its ledger record from `plan`).
    pub(crate) fn send(&mut self, plan: &Plan, index: usize, send: &PlannedSend) {
        while self.campaigns.len() <= index {
            self.campaigns.push(Vec::new());
        }
        let request = send.body();
        self.campaigns[index].push(SavedSend {
            view: SendView::of(send),
            endpoint: send.kind.as_str().to_owned(),
            request_sha256: sha256_hex(request.as_bytes()),
            request,
            ledger: plan
                .recorded(index)
                .get(&send.recipient)
                .map(SavedRecord::from),
        });
    }

    /// The saved plan of `plan`, whose sends were all handed over; `views` are the campaigns
    /// as the reports show them. Its files are every file it was made from: the project file,
    /// its template catalogue and its opt-out lists, the campaign files and their CSV files.
    pub(crate) fn finish(
        mut self,
        plan: &Plan,
        project: &Project,
        views: Vec<CampaignView>,
        ledger: &str,
        warnings: Vec<String>,
    ) -> io::Result<SavedPlan> {
        self.campaigns.resize_with(views.len(), Vec::new);
        let mut files = Vec::new();
        if let Some(path) = &project.file {
            let sha256 = file_sha256(path).map_err(|e| {
                io::Error::other(format!(
                    "cannot read the project file {}: {e}",
                    path.display()
                ))
            })?;
            files.push(SavedFile {
                path: path.to_path_buf(),
                sha256,
            });
        }
        if let Some(path) = project.catalogue_file() {
            let sha256 = file_sha256(path).map_err(|e| {
                io::Error::other(format!(
                    "cannot read the template catalogue {}: {e}",
                    path.display()
                ))
            })?;
            files.push(SavedFile {
                path: path.to_path_buf(),
                sha256,
            });
        }
        for (path, sha256) in &plan.optouts().files.files {
            // The hash of the bytes the opt-outs were read from.
            files.push(SavedFile {
                path: path.clone(),
                sha256: sha256.clone(),
            });
        }
        for campaign_plan in &plan.campaigns {
            let c = &campaign_plan.campaign;
            files.push(SavedFile {
                path: c.file.to_path_buf(),
                sha256: sha256_hex(c.source.as_bytes()),
            });
            if let Audience::Recipients(sources) = &c.audience {
                for source in sources {
                    if let RecipientSource::Csv(csv) = source {
                        // The copy the rows were read from, when pinned: what was planned.
                        let sha256 = file_sha256(csv.read_path()).map_err(|e| {
                            io::Error::other(format!(
                                "cannot read the CSV file {}: {e}",
                                csv.path.display()
                            ))
                        })?;
                        files.push(SavedFile {
                            path: csv.path.to_path_buf(),
                            sha256,
                        });
                    }
                }
            }
        }
        files.dedup();
        Ok(SavedPlan {
            campaignctl: env!("CARGO_PKG_VERSION").to_owned(),
            now: plan.now,
            created_at: Utc::now(),
            ledger: ledger.to_owned(),
            files,
            campaigns: views
                .into_iter()
                .zip(self.campaigns)
                .map(|(view, sends)| SavedCampaign { view, sends })
                .collect(),
            warnings,
        })
    }
}

impl SavedPlan {
    /// Writes the plan to `path`.
    pub(crate) fn write(&self, path: &Path) -> io::Result<()> {
        let plan = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        let envelope = format!(
            "{{\n\"kind\": \"{KIND}\",\n\"format_version\": \"{FORMAT_VERSION}\",\n\"digest\": \"{}\",\n\"plan\": {plan}\n}}\n",
            sha256_hex(plan.as_bytes())
        );
        std::fs::write(path, envelope)
    }

    /// Whether `path` looks like a saved plan rather than a campaign file or directory.
    pub(crate) fn is_saved_plan(path: &Path) -> bool {
        path.is_file() && path.extension().is_some_and(|e| e == "json")
    }

    /// Reads and checks a saved plan: its kind, its format, its digest, and the hash of
    /// every request body.
    pub(crate) fn read(path: &Path) -> Result<SavedPlan, ReadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
            path: shown.clone(),
            source,
        })?;
        let not_a_plan = |reason: String| ReadError::NotAPlan {
            path: shown.clone(),
            reason,
        };
        let envelope: Envelope<'_> =
            serde_json::from_str(&text).map_err(|e| not_a_plan(e.to_string()))?;
        if envelope.kind != KIND {
            return Err(not_a_plan(format!("its kind is `{}`", envelope.kind)));
        }
        let major = envelope
            .format_version
            .split('.')
            .next()
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| {
                not_a_plan(format!(
                    "format_version `{}` is not MAJOR.MINOR",
                    envelope.format_version
                ))
            })?;
        if major > FORMAT_MAJOR {
            return Err(ReadError::TooNew {
                path: shown,
                found: envelope.format_version,
            });
        }
        if major < FORMAT_MAJOR {
            return Err(not_a_plan(format!(
                "format_version `{}` is older than any campaignctl wrote",
                envelope.format_version
            )));
        }
        let tampered = |what: String| ReadError::Tampered {
            path: shown.clone(),
            what,
        };
        if sha256_hex(envelope.plan.get().as_bytes()) != envelope.digest {
            return Err(tampered("its digest does not match its plan".to_owned()));
        }
        let plan: SavedPlan =
            serde_json::from_str(envelope.plan.get()).map_err(|e| not_a_plan(e.to_string()))?;
        for send in plan.campaigns.iter().flat_map(|c| &c.sends) {
            if sha256_hex(send.request.as_bytes()) != send.request_sha256 {
                return Err(tampered(format!(
                    "the request of {} does not match its hash",
                    send.view.key
                )));
            }
        }
        Ok(plan)
    }

    /// What changed, in the files and in time, since the plan was made: every reason it is
    /// stale that can be seen without the ledger. Empty when it can be applied at `now`.
    pub(crate) fn stale_inputs(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut reasons = Vec::new();
        for file in &self.files {
            match file_sha256(&file.path) {
                Ok(sha256) if sha256 == file.sha256 => {}
                Ok(_) => reasons.push(format!("{} changed since the plan", file.path.display())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    reasons.push(format!(
                        "{} was removed since the plan",
                        file.path.display()
                    ));
                }
                Err(e) => reasons.push(format!("cannot read {}: {e}", file.path.display())),
            }
        }
        for c in &self.campaigns {
            let (Some(schedule), Some(at)) = (&c.view.schedule, occurrence_time(&c.view)) else {
                continue;
            };
            if c.view.counts.due == 0 {
                continue;
            }
            let late = now - at;
            if late > TimeDelta::seconds(schedule.catch_up_seconds) {
                reasons.push(format!(
                    "the occurrence {} of `{}` is no longer within its catch_up ({}): it is {} late",
                    rfc3339(at),
                    c.view.name,
                    schedule.catch_up,
                    crate::schedule::format_duration(late),
                ));
            }
        }
        reasons
    }

    /// What the ledger recorded since the plan was made, for the keys and numbers it sends:
    /// every reason it is stale (none when it can be applied).
    pub(crate) fn stale_ledger(&self, ledger: &mut dyn Ledger) -> Result<Vec<String>, LedgerError> {
        let mut reasons = Vec::new();
        if let Some(reason) = self.recorded_since(ledger)? {
            reasons.push(reason);
        }
        if let Some(reason) = self.opted_out_since(ledger)? {
            reasons.push(reason);
        }
        Ok(reasons)
    }

    /// The numbers the plan sends to that opted out in the ledger since (one lookup of the
    /// set of its numbers): the reason it is stale, or `None`.
    fn opted_out_since(&self, ledger: &mut dyn Ledger) -> Result<Option<String>, LedgerError> {
        let mut numbers: Vec<String> = self
            .campaigns
            .iter()
            .flat_map(|c| &c.sends)
            .filter(|s| s.view.due && s.endpoint != crate::campaign::Kind::Blast.as_str())
            .map(|s| s.view.recipient.clone())
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        let opted = ledger.optouts_among(&numbers)?;
        if opted.is_empty() {
            return Ok(None);
        }
        let shown: Vec<String> = opted
            .iter()
            .take(10)
            .map(|o| {
                let source = OptOutSource::Ledger {
                    at: o.created_at.as_str().into(),
                    source: o.source.as_str().into(),
                    reason: o.reason.as_deref().map(Into::into),
                };
                format!("{} ({source})", o.mobile)
            })
            .collect();
        Ok(Some(format!(
            "{} number(s) the plan sends to opted out since the plan: {}{}",
            opted.len(),
            shown.join(", "),
            if opted.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        )))
    }

    /// What the ledger recorded since the plan was made, for the keys it plans: the reason
    /// it is stale, or `None`.
    fn recorded_since(&self, ledger: &mut dyn Ledger) -> Result<Option<String>, LedgerError> {
        let mut changed = Vec::new();
        for c in &self.campaigns {
            let Some(occurrence) = Occurrence::parse(&c.view.occurrence) else {
                continue;
            };
            let recorded: RecordedSends = ledger.recorded(&c.view.name, occurrence)?;
            // Only what would be sent: a failed send the plan does not resend may be
            // retried by someone else without changing what this plan sends.
            for send in c.sends.iter().filter(|s| s.view.due) {
                let now = recorded.get(&send.view.recipient).map(SavedRecord::from);
                if now != send.ledger {
                    changed.push(send.view.key.clone());
                }
            }
        }
        if changed.is_empty() {
            return Ok(None);
        }
        let shown: Vec<&str> = changed.iter().take(5).map(String::as_str).collect();
        Ok(Some(format!(
            "{} planned send(s) were recorded in the ledger since the plan (another apply or the daemon sent them, or a run was interrupted): {}{}",
            changed.len(),
            shown.join(", "),
            if changed.len() > shown.len() {
                ", …"
            } else {
                ""
            }
        )))
    }

    /// The due sends, as the ledger claims them.
    pub(crate) fn due(&self) -> impl Iterator<Item = (NewSend, &SavedSend)> {
        self.campaigns.iter().flat_map(|c| {
            c.sends.iter().filter(|s| s.view.due).map(move |s| {
                (
                    NewSend {
                        key: s.view.key.clone(),
                        campaign: c.view.name.clone(),
                        file: c.view.file.clone(),
                        occurrence: c.view.occurrence.clone(),
                        recipient: s.view.recipient.clone(),
                        endpoint: s.endpoint.clone(),
                        request: s.request.clone(),
                        request_hash: s.request_sha256.clone(),
                    },
                    s,
                )
            })
        })
    }
}

fn occurrence_time(view: &CampaignView) -> Option<DateTime<Utc>> {
    Occurrence::parse(&view.occurrence)?.time()
}
