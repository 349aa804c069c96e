//! TLS client settings shared by the API client and the PostgreSQL ledger: rustls with the
//! ring provider, checking certificates against the platform's roots.
//!
//! On Linux, rustls-platform-verifier takes the roots from rustls-native-certs, which honours
//! `SSL_CERT_FILE` (a PEM bundle) and `SSL_CERT_DIR` (directories, colon-separated, every
//! file of which is read: hashed names are not needed); either one replaces the system's
//! store (found by openssl-probe) rather than adding to it. tests/transport.rs trusts its
//! private CA through each.

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
