//! The tenant API key: read from the environment only, never shown.

use std::fmt;

use hyper::header::HeaderValue;

use super::env::API_KEY_ENV;
use super::error::SetupError;

/// The API key. Never printed: `Debug` and `Display` show a placeholder.
#[derive(Clone)]
pub(crate) struct ApiKey(HeaderValue);

impl ApiKey {
    /// Reads `CHITCHAT_API_KEY`; the only place a key is ever accepted from.
    pub(crate) fn from_env() -> Result<ApiKey, SetupError> {
        let key = std::env::var(API_KEY_ENV).unwrap_or_default();
        let key = key.trim();
        if key.is_empty() {
            return Err(SetupError::MissingKey);
        }
        let mut value = HeaderValue::from_str(key).map_err(|_| SetupError::InvalidKey)?;
        value.set_sensitive(true);
        Ok(ApiKey(value))
    }
}

impl ApiKey {
    /// The `x-tenant-api-key` header value, marked sensitive.
    pub(crate) fn header(&self) -> &HeaderValue {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_is_never_shown() {
        let key = ApiKey(HeaderValue::from_static("secret-key"));
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
    }
}
