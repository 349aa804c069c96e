//! A validated campaign: everything `plan`, `apply` and `run` need, with no loose ends.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::campaign_file::Media;
use crate::diagnostic::Pos;
use crate::recipients::RecipientSource;
use crate::schedule::Schedule;

#[derive(Debug, Clone)]
pub struct Campaign {
    pub name: String,
    /// The file as named on the command line (or found below a directory argument).
    pub file: Arc<Path>,
    pub description: Option<String>,
    pub template: String,
    pub language: String,
    pub media: Option<Media>,
    pub tag: Option<String>,
    pub vars: BTreeMap<String, Value>,
    pub params: Vec<Param>,
    pub audience: Audience,
    pub schedule: Option<Schedule>,
    pub enabled: bool,
    /// The file's text, for showing the offending line of a rendering error.
    pub source: Arc<str>,
}

/// One entry of `params:`: a minijinja template and where it is written.
#[derive(Debug, Clone)]
pub struct Param {
    pub template: String,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub enum Audience {
    /// One `single` call per recipient.
    Recipients(Vec<RecipientSource>),
    /// One `blast` call with this `searchSpec`.
    Search(Map<String, Value>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Single,
    Blast,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Single => "single",
            Kind::Blast => "blast",
        }
    }
}

impl Campaign {
    pub fn kind(&self) -> Kind {
        match self.audience {
            Audience::Recipients(_) => Kind::Single,
            Audience::Search(_) => Kind::Blast,
        }
    }
}

/// Copies every CSV file of `campaigns` into `dir` (as `GENERATION-N.csv`) and points the
/// campaigns at the copies. Done before any row is read, it makes the rows validated the
/// rows sent: `apply` reads a CSV file twice (to validate, then to send, which can take
/// hours at a slow rate) and the daemon for as long as it runs, and a file edited in
/// between must change neither.
pub fn pin_csv_files<'a>(
    campaigns: impl IntoIterator<Item = &'a mut Arc<Campaign>>,
    dir: &Path,
    generation: u64,
) -> io::Result<()> {
    let mut copies = 0;
    for campaign in campaigns {
        let Audience::Recipients(sources) = &campaign.audience else {
            continue;
        };
        if !sources.iter().any(|s| matches!(s, RecipientSource::Csv(_))) {
            continue;
        }
        let mut pinned = Vec::with_capacity(sources.len());
        for source in sources {
            pinned.push(match source {
                RecipientSource::Csv(csv) => {
                    copies += 1;
                    let copy = dir.join(format!("{generation}-{copies}.csv"));
                    std::fs::copy(&csv.path, &copy).map_err(|e| {
                        io::Error::other(format!(
                            "cannot copy the CSV file `{}` to {}: {e}",
                            csv.path.display(),
                            dir.display()
                        ))
                    })?;
                    RecipientSource::Csv(csv.pinned_to(copy).map_err(io::Error::other)?)
                }
                inline => inline.clone(),
            });
        }
        Arc::make_mut(campaign).audience = Audience::Recipients(pinned);
    }
    Ok(())
}
