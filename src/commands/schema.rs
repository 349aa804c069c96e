//! `campaignctl schema`: the JSON Schema of a campaign file.

use std::io::{self, Write};

use super::Outcome;
use crate::campaign::file::schema_text;
use crate::error::Error;

pub(crate) fn schema() -> Result<Outcome, Error> {
    io::stdout().write_all(schema_text().as_bytes())?;
    Ok(Outcome::Success)
}
