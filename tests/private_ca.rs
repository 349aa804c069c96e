//! The private CA of tests/fixtures/tls (see its README): TLS server settings for a server
//! with the certificate it signed for `localhost` and `127.0.0.1`, and client settings that
//! trust it, for the servers' own checks. campaignctl trusts it only when a test sets
//! `SSL_CERT_FILE` to [`ca_file`], or `SSL_CERT_DIR` to a directory holding a copy.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// The CA certificate, for `SSL_CERT_FILE`.
pub fn ca_file() -> PathBuf {
    fixture("ca.crt")
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server with the CA-signed `localhost` certificate, offering exactly `alpn` (most
/// preferred first).
pub fn server_config(alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let cert = CertificateDer::from_pem_file(fixture("ca-localhost.crt")).expect("server cert");
    let key = PrivateKeyDer::from_pem_file(fixture("ca-localhost.key")).expect("server key");
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server certificate and key");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A client trusting only the private CA, offering `alpn`.
pub fn client_config(alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(ca_file()).expect("CA cert"))
        .expect("a valid CA certificate");
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}
