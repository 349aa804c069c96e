//! The files a plan was read from, in one order: the project file, its template catalogue
//! and opt-out lists, then each campaign file followed by its CSV files. Saved plans hash
//! them; the daemon watches them.

use std::path::Path;

use super::Plan;
use crate::campaign::project::Project;
use crate::campaign::recipients::{CsvSource, RecipientSource};
use crate::campaign::{Audience, Campaign};

/// One file a plan was read from.
pub(crate) enum Input<'a> {
    Project(&'a Path),
    Catalogue(&'a Path),
    /// An opt-out list, with the SHA-256 of the bytes that were read.
    OptOuts {
        path: &'a Path,
        sha256: &'a str,
    },
    Campaign(&'a Campaign),
    Csv(&'a CsvSource),
}

impl Input<'_> {
    /// The file, as people name it (a CSV file's, not its pinned copy's).
    pub(crate) fn path(&self) -> &Path {
        match self {
            Input::Project(path) | Input::Catalogue(path) | Input::OptOuts { path, .. } => path,
            Input::Campaign(campaign) => &campaign.file,
            Input::Csv(csv) => &csv.path,
        }
    }
}

impl Plan {
    /// Every file this plan was read from with `project`; a file read twice is listed twice.
    pub(crate) fn inputs<'a>(&'a self, project: &'a Project) -> Vec<Input<'a>> {
        let mut inputs: Vec<Input<'a>> = project
            .file
            .as_deref()
            .map(Input::Project)
            .into_iter()
            .collect();
        inputs.extend(project.catalogue_file().map(Input::Catalogue));
        inputs.extend(
            self.optouts()
                .files
                .files
                .iter()
                .map(|(path, sha256)| Input::OptOuts { path, sha256 }),
        );
        for campaign_plan in &self.campaigns {
            let campaign = &*campaign_plan.campaign;
            inputs.push(Input::Campaign(campaign));
            if let Audience::Recipients(sources) = &campaign.audience {
                inputs.extend(sources.iter().filter_map(|source| match source {
                    RecipientSource::Csv(csv) => Some(Input::Csv(csv)),
                    RecipientSource::Inline(..) => None,
                }));
            }
        }
        inputs
    }
}
