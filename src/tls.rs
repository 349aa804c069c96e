//! TLS client settings shared by the API client and the PostgreSQL ledger: rustls with the
//! ring provider, checking certificates against the platform's roots.

use std::sync::Arc;

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;

/// The ring provider, for every TLS client of the program.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that verifies the server against the platform's roots.
pub(crate) fn verified_config(provider: Arc<CryptoProvider>) -> Result<ClientConfig, String> {
    use rustls_platform_verifier::BuilderVerifierExt;
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_platform_verifier()
        .map_err(|e| format!("cannot load the platform's certificate roots: {e}"))?
        .with_no_client_auth())
}
