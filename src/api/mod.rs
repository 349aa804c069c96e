//! The ChitChatLabs API as campaignctl uses it: the key, the endpoints, the request bodies
//! and send keys, and the HTTP transport.

pub(crate) mod body;
mod client;
mod endpoints;
mod env;
mod error;
mod key;

pub(crate) use body::{body_hash, send_key};
pub(crate) use client::{Answer, Client, ClientSettings, Exchange};
pub(crate) use endpoints::Endpoints;
pub(crate) use error::SetupError;
pub(crate) use key::ApiKey;
