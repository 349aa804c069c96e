//! `campaignctl schema`: the JSON Schema of a campaign file, of the project file, or of a
//! template catalogue file.

use std::io::{self, Write};

use super::Outcome;
use crate::campaign::file::{self, schema_text};
use crate::campaign::{catalogue, project};
use crate::error::Error;

/// Which schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Campaign,
    Project,
    Templates,
}

pub(crate) fn schema(which: Which) -> Result<Outcome, Error> {
    let schema = match which {
        Which::Campaign => file::schema(),
        Which::Project => project::schema(),
        Which::Templates => catalogue::schema(),
    };
    io::stdout().write_all(schema_text(&schema).as_bytes())?;
    Ok(Outcome::Success)
}
