//! The ChitChatLabs API as campaignctl uses it: the key, the endpoints, the request bodies
//! and send keys, the HTTP transport and its proxy, and the WhatsApp error codes its answers
//! relay.

pub(crate) mod body;
mod client;
mod endpoints;
mod env;
mod error;
mod key;
mod proxy;
mod whatsapp;

pub(crate) use body::{body_hash, send_key};
pub(crate) use client::{Answer, Client, ClientSettings, Exchange};
pub(crate) use endpoints::Endpoints;
pub(crate) use error::SetupError;
pub(crate) use key::ApiKey;
pub(crate) use whatsapp::{Action as WaAction, PAIR_RATE_WAIT, WaCode};
