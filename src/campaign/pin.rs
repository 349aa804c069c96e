//! Pinning: a private copy of every CSV file, taken before any row is read.

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::recipients::RecipientSource;
use super::{Audience, Campaign};

/// Copies every CSV file of `campaigns` into `dir` (as `GENERATION-N.csv`) and points the
/// campaigns at the copies. Done before any row is read, it makes the rows validated the
/// rows sent: `apply` reads a CSV file twice (to validate, then to send, which can take
/// hours at a slow rate) and the daemon for as long as it runs, and a file edited in
/// between must change neither.
pub(crate) fn pin_csv_files<'a>(
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
