//! `campaignctl init [DIR]`: a new repository of campaigns, ready for `validate` and `plan`.
//!
//! The files are templates beside this one (`init/`) and the documented CI example itself
//! (`examples/github-actions.yml`), carried in the binary with `include_str!`. The example
//! campaign's modeline points at `../schemas/campaign.schema.json`, and the project file's
//! (`campaignctl.yaml`, with the template catalogue entry of the example's template) at
//! `schemas/project.schema.json`, which init writes from this binary's own schemas: there
//! is no published schema URL, and a local copy works offline and matches the campaignctl
//! that made the repository.
//!
//! Nothing is ever overwritten: each file is created with `create_new`, so an existing file
//! (or a symlink, even a dangling one) is skipped and listed, and the rest are created.

use std::borrow::Cow;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::Outcome;
use crate::campaign::file::schema_text;
use crate::error::Error;

#[derive(Debug, Clone)]
pub(crate) struct InitSettings {
    /// The repository's directory, created if missing.
    pub dir: PathBuf,
}

const PROJECT: &str = include_str!("init/campaignctl.yaml");
const WELCOME: &str = include_str!("init/welcome.yaml");
const RECIPIENTS: &str = include_str!("init/recipients.csv");
const GITIGNORE: &str = include_str!("init/gitignore");
const WORKFLOW: &str = include_str!("../../examples/github-actions.yml");

/// What init writes, relative to the directory, in the order it is listed.
fn templates() -> [(&'static str, Cow<'static, str>); 7] {
    [
        ("campaignctl.yaml", Cow::Borrowed(PROJECT)),
        ("campaigns/welcome.yaml", Cow::Borrowed(WELCOME)),
        ("campaigns/data/recipients.csv", Cow::Borrowed(RECIPIENTS)),
        (
            "schemas/campaign.schema.json",
            Cow::Owned(schema_text(&crate::campaign::file::schema())),
        ),
        (
            "schemas/project.schema.json",
            Cow::Owned(schema_text(&crate::campaign::project::schema())),
        ),
        (".gitignore", Cow::Borrowed(GITIGNORE)),
        (".github/workflows/campaigns.yml", Cow::Borrowed(WORKFLOW)),
    ]
}

pub(crate) fn init(settings: &InitSettings) -> Result<Outcome, Error> {
    let dir = &settings.dir;
    let mut created = Vec::new();
    let mut skipped = Vec::new();
    let mut failure = None;
    for (name, contents) in templates() {
        let path = dir.join(name);
        if let Some(parent) = path.parent()
            && let Err(source) = fs::create_dir_all(parent)
        {
            // A file where a directory belongs is in the way, not a file to skip.
            failure = Some(Error::Create {
                path: parent.to_owned(),
                source,
            });
            break;
        }
        match create_new(&path, contents.as_bytes()) {
            Ok(()) => created.push(name),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => skipped.push(name),
            Err(source) => {
                failure = Some(Error::Create { path, source });
                break;
            }
        }
    }
    let shown = dir.display();
    let mut out = io::stdout().lock();
    let here = dir == Path::new(".");
    if !created.is_empty() {
        if here {
            writeln!(out, "Created:")?;
        } else {
            writeln!(out, "Created in {shown}:")?;
        }
        for name in &created {
            writeln!(out, "  {name}")?;
        }
    }
    if !skipped.is_empty() {
        writeln!(out, "Skipped, already there (left as they are):")?;
        for name in &skipped {
            writeln!(out, "  {name}")?;
        }
        if skipped.contains(&".gitignore") && !ignores_the_ledger(&dir.join(".gitignore")) {
            writeln!(
                out,
                "note: .gitignore does not list .campaignctl/ (the local ledger): add it"
            )?;
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let cd = if here {
        String::new()
    } else {
        format!("cd {shown}, then ")
    };
    writeln!(
        out,
        "Next: {cd}edit campaigns/welcome.yaml and run `campaignctl validate` and `campaignctl plan`."
    )?;
    Ok(Outcome::Success)
}

/// Writes a new file; fails with `AlreadyExists` when anything is at `path` already, and
/// never leaves a half-written file behind.
fn create_new(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(contents).inspect_err(|_| {
        let _ = fs::remove_file(path);
    })
}

/// Whether an existing `.gitignore` already ignores `.campaignctl/` (unreadable: assume so,
/// rather than nag).
fn ignores_the_ledger(path: &Path) -> bool {
    fs::read_to_string(path).map_or(true, |text| {
        text.lines().map(str::trim).any(|line| {
            matches!(
                line,
                ".campaignctl" | ".campaignctl/" | "/.campaignctl" | "/.campaignctl/"
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gitignore_ignores_the_default_ledger() {
        assert!(GITIGNORE.lines().any(|l| l == ".campaignctl/"));
        assert!(crate::ledger::DEFAULT_STATE.starts_with(".campaignctl/"));
    }
}
