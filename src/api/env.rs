//! The environment variables the API part reads: the only places a key or a base URL comes
//! from.

pub(crate) const API_KEY_ENV: &str = "CHITCHAT_API_KEY";
pub(crate) const BASE_URL_ENV: &str = "CHITCHAT_BASE_URL";
/// The production API.
pub(crate) const DEFAULT_BASE_URL: &str = "https://app.chitchatlabs.com";
