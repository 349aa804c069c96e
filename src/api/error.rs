//! Why sending cannot start.

use super::env::{API_KEY_ENV, BASE_URL_ENV};

/// Why sending cannot start: checked before anything is opened or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    #[error(
        "{API_KEY_ENV} is not set: export the tenant API key (Settings → Account Information) before apply"
    )]
    MissingKey,
    #[error("{API_KEY_ENV} contains characters that cannot be sent in an HTTP header")]
    InvalidKey,
    #[error("{BASE_URL_ENV} `{url}` is not a valid URL: {reason}")]
    InvalidBaseUrl { url: String, reason: String },
    #[error(
        "{BASE_URL_ENV} `{0}` uses plain http://, which is refused except on loopback (127.0.0.0/8, ::1, localhost); use https://"
    )]
    InsecureBaseUrl(String),
    #[error(
        "{variable} `{value}` is not a proxy URL campaignctl can use: {reason}; fix it or unset it (requests never go around a proxy that is asked for)"
    )]
    InvalidProxy {
        variable: &'static str,
        /// Without its password.
        value: String,
        reason: String,
    },
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}
