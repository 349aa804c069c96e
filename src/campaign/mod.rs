//! A validated campaign: everything `plan`, `apply` and `run` need, with no loose ends.

pub(crate) mod catalogue;
pub(crate) mod csv_file;
pub(crate) mod document;
pub(crate) mod file;
pub(crate) mod limits;
pub(crate) mod loader;
pub(crate) mod mobile;
pub(crate) mod numbering;
pub(crate) mod optouts;
pub(crate) mod pin;
pub(crate) mod project;
pub(crate) mod recipients;
pub(crate) mod renderer;
pub(crate) mod schema;
pub(crate) mod validator;
pub(crate) mod window;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::diagnostic::Pos;
use crate::schedule::Schedule;
use catalogue::Template;
use file::Media;
use recipients::RecipientSource;

#[derive(Debug, Clone)]
pub(crate) struct Campaign {
    pub name: String,
    /// The file as named on the command line (or found below a directory argument).
    pub file: Arc<Path>,
    pub description: Option<String>,
    pub template: String,
    /// The template's entry in the project's catalogue; `None` without a catalogue.
    pub template_info: Option<Arc<Template>>,
    pub language: String,
    pub media: Option<Media>,
    pub tag: Option<String>,
    pub vars: BTreeMap<String, Value>,
    pub params: Vec<Param>,
    pub audience: Audience,
    /// Where the audience is given: the `recipients` or `search` key.
    pub audience_pos: Pos,
    pub schedule: Option<Schedule>,
    /// Its send window: its own, else the project's.
    pub window: Option<Arc<window::Window>>,
    pub enabled: bool,
    /// The file's text, for showing the offending line of a rendering error.
    pub source: Arc<str>,
}

/// One entry of `params:`: a minijinja template and where it is written.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub template: String,
    pub pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) enum Audience {
    /// One `single` call per recipient.
    Recipients(Vec<RecipientSource>),
    /// One `blast` call with this `searchSpec`.
    Search(Map<String, Value>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Single,
    Blast,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Single => "single",
            Kind::Blast => "blast",
        }
    }
}

impl Campaign {
    /// The category of its template (`marketing`, `utility`, `authentication`), when a
    /// template catalogue names it.
    pub(crate) fn category(&self) -> Option<&'static str> {
        self.template_info.as_ref().map(|t| t.category.as_str())
    }

    pub(crate) fn kind(&self) -> Kind {
        match self.audience {
            Audience::Recipients(_) => Kind::Single,
            Audience::Search(_) => Kind::Blast,
        }
    }
}
