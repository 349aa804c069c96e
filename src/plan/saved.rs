//! Saved plans: `plan --out plan.json` writes the plan as data (every send with its key,
//! endpoint and exact body, and what it was computed from: the hash of every campaign and
//! CSV file, the instant, the ledger's record of every planned key); `apply plan.json`
//! sends exactly those sends, after checking that nothing they were computed from changed.
//!
//! The file is `{"kind", "format_version", "digest", "plan"}`: `digest` is the SHA-256 of
//! the exact bytes of `plan`, so an edited or damaged file is refused. A newer major
//! `format_version` is refused; a newer minor one only adds fields, and is read.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::inputs::Input;
use super::limits::DailyBudget;
use super::view::{CampaignView, SendView};
use super::{Plan, PlannedSend};
use crate::campaign::optouts::OptOutSource;
use crate::campaign::project::{PROJECT_FILE, Project};
use crate::digest::{file_sha256, sha256_hex};
use crate::ledger::{Ledger, LedgerError, NewSend, Recorded, RecordedSends, Skipped, Status};
use chrono_tz::Tz;

use crate::schedule::{Occurrence, rfc3339};

/// What the `kind` of a saved plan says.
const KIND: &str = "campaignctl-plan";

/// The format this campaignctl writes: major 1 (what it can read), minor 3 (1.1 added the
/// send state `suppressed` and `suppressed_by`, 1.2 a failed send's `held`, 1.3 the
/// `project` file looked for, found or not).
pub(crate) const FORMAT_MAJOR: u32 = 1;
const FORMAT_VERSION: &str = "1.4";

/// How much of a file is read to tell a saved plan from a campaign file: its first members.
const PEEK_BYTES: u64 = 1024;

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
    /// The project file the plan looked for, and whether it was there (absent from plans
    /// made before format 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<SavedProject>,
    /// Every file the plan read, with its hash.
    pub files: Vec<SavedFile>,
    pub campaigns: Vec<SavedCampaign>,
    /// The warnings of the files, `FILE:LINE:COL: message`.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The daily limit's budget as the plan counted it (with `limits.daily_recipients`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_limit: Option<DailyBudget>,
    /// How many frequency caps the plan was checked against.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub caps: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The project file a plan looked for: a project file that appears after a plan made without
/// one (its opt-out lists unknown to the plan), or another one named at apply, makes the
/// plan stale. One that was there is in `files`, with its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedProject {
    /// `campaignctl.yaml`, or the file named with `--config` (or `CAMPAIGNCTL_CONFIG`).
    pub path: PathBuf,
    /// Whether it was named with `--config` (or `CAMPAIGNCTL_CONFIG`).
    pub named: bool,
    /// Whether it was there: `false` when the plan was made without a project file.
    pub found: bool,
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
    /// as the reports show them; `config` the project file named on the command line. Its
    /// files are every file it was made from, each once: the project file, its template
    /// catalogue and its opt-out lists, the campaign files and their CSV files.
    pub(crate) fn finish(
        mut self,
        plan: &Plan,
        project: &Project,
        config: Option<&Path>,
        views: Vec<CampaignView>,
        ledger: &str,
        warnings: Vec<String>,
    ) -> io::Result<SavedPlan> {
        self.campaigns.resize_with(views.len(), Vec::new);
        let looked_for = SavedProject {
            path: config.map_or_else(|| PathBuf::from(PROJECT_FILE), Path::to_path_buf),
            named: config.is_some(),
            found: project.file.is_some(),
        };
        let mut files = Vec::new();
        for input in plan.inputs(project) {
            let path = input.path();
            let hashed = match &input {
                Input::Project(_) => file_sha256(path).map_err(|e| ("the project file", e)),
                Input::Catalogue(_) => file_sha256(path).map_err(|e| ("the template catalogue", e)),
                // The hash of the bytes the opt-outs were read from.
                Input::OptOuts { sha256, .. } => Ok((*sha256).to_owned()),
                Input::Campaign(c) => Ok(sha256_hex(c.source.as_bytes())),
                // The copy the rows were read from, when pinned: what was planned.
                Input::Csv(csv) => file_sha256(csv.read_path()).map_err(|e| ("the CSV file", e)),
            };
            let sha256 = hashed.map_err(|(what, e)| {
                io::Error::other(format!("cannot read {what} {}: {e}", path.display()))
            })?;
            files.push(SavedFile {
                path: path.to_path_buf(),
                sha256,
            });
        }
        // A CSV file read by several campaigns (or an opt-out list that is also a campaign's
        // CSV file) is listed once, where it first comes.
        let mut seen = HashSet::new();
        files.retain(|f| seen.insert(file_identity(&f.path)));
        Ok(SavedPlan {
            campaignctl: env!("CARGO_PKG_VERSION").to_owned(),
            now: plan.now,
            created_at: Utc::now(),
            ledger: ledger.to_owned(),
            project: Some(looked_for),
            files,
            campaigns: views
                .into_iter()
                .zip(self.campaigns)
                .map(|(view, sends)| SavedCampaign { view, sends })
                .collect(),
            warnings,
            daily_limit: plan.budget().daily(),
            caps: plan.budget().caps().len(),
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

    /// Whether `path` is a saved plan rather than a campaign file or directory: a `.json`
    /// file, or any file whose first bytes are a JSON object with the `kind` or
    /// `format_version` of a saved plan (whatever its name: `apply reviewed.plan`). A YAML
    /// campaign file never starts that way.
    pub(crate) fn is_saved_plan(path: &Path) -> bool {
        if !path.is_file() {
            return false;
        }
        if path.extension().is_some_and(|e| e == "json") {
            return true;
        }
        let mut head = Vec::new();
        let read =
            std::fs::File::open(path).and_then(|file| file.take(PEEK_BYTES).read_to_end(&mut head));
        read.is_ok() && looks_like_saved_plan(&head)
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
    /// stale that can be seen without the ledger. Empty when it can be applied at `now`
    /// with the project file `config` (named on the command line; else `campaignctl.yaml`).
    pub(crate) fn stale_inputs(&self, now: DateTime<Utc>, config: Option<&Path>) -> Vec<String> {
        let mut reasons = Vec::new();
        if let Some(reason) = self.project.as_ref().and_then(|p| p.stale(config)) {
            reasons.push(reason);
        }
        // Plans saved before files were listed once may name a file twice: one reason each.
        let mut seen = HashSet::new();
        for file in self.files.iter().filter(|f| seen.insert(&f.path)) {
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
            let deadline = c
                .view
                .deadline
                .as_deref()
                .and_then(|d| d.parse::<DateTime<Utc>>().ok());
            // Without a window or a daily limit the deadline is `catch_up` after it.
            let catch_up = TimeDelta::seconds(schedule.catch_up_seconds);
            let deadline = deadline.filter(|d| *d != at + catch_up);
            match deadline {
                Some(deadline) if now > deadline => reasons.push(format!(
                    "the occurrence {} of `{}` is past its deadline {} (catch_up plus max_delay): it is {} late",
                    rfc3339(at),
                    c.view.name,
                    rfc3339(deadline),
                    crate::schedule::format_duration(late),
                )),
                None if late > catch_up => {
                    reasons.push(format!(
                        "the occurrence {} of `{}` is no longer within its catch_up ({}): it is {} late",
                        rfc3339(at),
                        c.view.name,
                        schedule.catch_up,
                        crate::schedule::format_duration(late),
                    ));
                }
                _ => {}
            }
        }
        reasons.extend(self.outside_windows(now));
        reasons
    }

    /// Due sends whose send window is closed at `now`: they would go at an hour their
    /// recipients did not agree to.
    fn outside_windows(&self, now: DateTime<Utc>) -> Option<String> {
        let mut outside = 0;
        let mut first = None;
        for c in &self.campaigns {
            let Some(window) = c.view.window.as_ref().and_then(|w| w.window()) else {
                continue;
            };
            for s in c.sends.iter().filter(|s| s.view.due) {
                let Some(zone) = s.view.zone.as_deref().and_then(|z| z.parse::<Tz>().ok()) else {
                    continue;
                };
                if !window.contains(zone, now) {
                    outside += 1;
                    first.get_or_insert_with(|| format!("{} in {}", s.view.recipient, zone.name()));
                }
            }
        }
        first.map(|first| {
            format!(
                "{outside} planned send(s) are outside their send window now (the first: {first}): apply the plan when it is open, or make it again"
            )
        })
    }

    /// What the ledger recorded since the plan was made, for the keys and numbers it sends:
    /// every reason it is stale (none when it can be applied).
    pub(crate) fn stale_ledger(
        &self,
        ledger: &mut dyn Ledger,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, LedgerError> {
        let mut reasons = Vec::new();
        if let Some(reason) = self.recorded_since(ledger)? {
            reasons.push(reason);
        }
        if let Some(reason) = self.opted_out_since(ledger)? {
            reasons.push(reason);
        }
        reasons.extend(self.limits_since(ledger, now)?);
        Ok(reasons)
    }

    /// Whether the plan's limits still hold at `now`: the daily limit has room for the new
    /// recipients the plan sends to (counting the last 24 hours as the ledger has them now),
    /// and no number the plan sends to was messaged since (a frequency cap may hold it back
    /// now). The reasons it is stale.
    fn limits_since(
        &self,
        ledger: &mut dyn Ledger,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, LedgerError> {
        let mut reasons = Vec::new();
        if let Some(daily) = self.daily_limit {
            let mut used = HashSet::new();
            ledger.each_messaged(now - TimeDelta::hours(24), &mut |m| {
                used.insert(m.recipient.to_owned());
            })?;
            let used = used.len() as u64;
            if used + daily.needed > daily.limit {
                reasons.push(format!(
                    "the daily limit of {} recipients has room for {} now ({used} messaged in the last 24 hours), and the plan sends to {} new recipient(s)",
                    daily.limit,
                    daily.limit.saturating_sub(used),
                    daily.needed
                ));
            }
        }
        if self.caps > 0 {
            let numbers: HashSet<&str> = self
                .campaigns
                .iter()
                .flat_map(|c| &c.sends)
                .filter(|s| s.view.due)
                .map(|s| s.view.recipient.as_str())
                .collect();
            let mut since = 0;
            ledger.each_messaged(self.created_at, &mut |m| {
                since += usize::from(numbers.contains(m.recipient));
            })?;
            if since > 0 {
                reasons.push(format!(
                    "{since} message(s) to numbers the plan sends to were recorded since the plan: a frequency cap may hold them back now"
                ));
            }
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
            c.sends
                .iter()
                .filter(|s| s.view.due)
                .map(move |s| (record(c, s), s))
        })
    }

    /// The sends a frequency cap held back in the plan, as the ledger records them.
    pub(crate) fn capped(&self) -> Vec<Skipped> {
        self.campaigns
            .iter()
            .flat_map(|c| {
                c.sends.iter().filter_map(move |s| {
                    Some(Skipped {
                        reason: s.view.capped.clone()?,
                        send: record(c, s),
                        status: Status::Capped,
                    })
                })
            })
            .collect()
    }
}

/// The ledger row of a saved send.
fn record(c: &SavedCampaign, s: &SavedSend) -> NewSend {
    NewSend {
        key: s.view.key.clone(),
        campaign: c.view.name.clone(),
        file: c.view.file.clone(),
        occurrence: c.view.occurrence.clone(),
        recipient: s.view.recipient.clone(),
        endpoint: s.endpoint.clone(),
        request: s.request.clone(),
        request_hash: s.request_sha256.clone(),
        category: c.view.category.clone(),
        test: false,
    }
}

impl SavedProject {
    /// Why the project file `config` (named at apply; else `campaignctl.yaml`) is not the one
    /// the plan was made with, or `None`. A changed or removed project file is a changed
    /// file of `files`.
    fn stale(&self, config: Option<&Path>) -> Option<String> {
        let now = config.unwrap_or(Path::new(PROJECT_FILE));
        let planned = self.path.display();
        if !same_file(now, &self.path) {
            let then = if self.found {
                format!("the project file {planned}")
            } else {
                format!("no project file ({planned} was absent)")
            };
            return Some(match config {
                Some(named) => format!(
                    "the project file is {} (--config or CAMPAIGNCTL_CONFIG), but the plan was made with {then}",
                    named.display()
                ),
                None => format!(
                    "the plan was made with {then} (--config or CAMPAIGNCTL_CONFIG), and no project file is named now; name the same one"
                ),
            });
        }
        (!self.found && now.exists()).then(|| {
            format!(
                "{planned} was added since the plan (the plan was made without a project file, so without its opt-out lists)"
            )
        })
    }
}

/// Whether `a` and `b` name the same file: the same file on disk, or, when either is
/// absent, the same path once `.` components are left out.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => {
            let parts = |p| Path::components(p).filter(|c| *c != Component::CurDir);
            parts(a).eq(parts(b))
        }
    }
}

/// What tells two paths of one file apart from two files: the file on disk, when it is
/// there.
fn file_identity(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Whether the first bytes of a file are those of a saved plan: a JSON object (after a
/// byte-order mark and white space) that names its `kind` or `format_version`.
fn looks_like_saved_plan(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    text.starts_with('{')
        && (text.contains(&format!("\"{KIND}\"")) || text.contains("\"format_version\""))
}

fn occurrence_time(view: &CampaignView) -> Option<DateTime<Utc>> {
    Occurrence::parse(&view.occurrence)?.time()
}
