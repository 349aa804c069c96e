//! A `postgres://` location: libpq's URL and environment variables, TLS as `sslmode` means
//! it, and the URL without its password for every message.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use super::describe;
use super::tls::tls_connector;
use crate::ledger::error::LedgerError;

/// A `postgres://` location: the parsed connection settings, and the URL without its
/// password for messages.
#[derive(Clone)]
pub(crate) struct PgLocation {
    pub(super) config: Config,
    tls: TlsMode,
    pub(super) redacted: String,
}

/// TLS as libpq's sslmode means it: `prefer` and `require` encrypt without checking the
/// server's certificate (a self-signed one is fine); `verify-ca` and `verify-full` check it
/// against the platform's roots or `sslrootcert` (both also check the host name).
#[derive(Clone)]
enum TlsMode {
    Off,
    On {
        verify: bool,
        root_cert: Option<String>,
    },
}

impl fmt::Debug for PgLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl PartialEq for PgLocation {
    fn eq(&self, other: &Self) -> bool {
        self.redacted == other.redacted
    }
}

impl Eq for PgLocation {}

impl fmt::Display for PgLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl PgLocation {
    /// Parses `postgres://USER[:PASSWORD]@HOST[:PORT]/DB?sslmode=...`; missing parts come from
    /// the standard `PGUSER`, `PGPASSWORD`, `PGHOST`, `PGPORT`, `PGDATABASE`, `PGSSLMODE`.
    pub(crate) fn parse(url: &str) -> Result<PgLocation, LedgerError> {
        let redacted = redact(url);
        let url = &match url.split_once("://") {
            Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
            None => url.to_owned(),
        };
        let invalid = |message: String| LedgerError::storage(&redacted, message);
        // sslmode and sslrootcert are handled here (rustls), the rest by tokio-postgres.
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut ssl_mode = std::env::var("PGSSLMODE").ok();
        let mut root_cert = std::env::var("PGSSLROOTCERT").ok();
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("sslmode", v)) => ssl_mode = Some(v.to_owned()),
                Some(("sslrootcert", v)) => root_cert = Some(v.to_owned()),
                _ => rest.push(pair),
            }
        }
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let mut config =
            Config::from_str(&url).map_err(|e| invalid(format!("invalid PostgreSQL URL: {e}")))?;
        if config.get_user().is_none() {
            config.user(&std::env::var("PGUSER").unwrap_or_else(|_| "postgres".to_owned()));
        }
        if config.get_password().is_none()
            && let Ok(password) = std::env::var("PGPASSWORD")
        {
            config.password(password);
        }
        if config.get_hosts().is_empty() {
            config.host(&std::env::var("PGHOST").unwrap_or_else(|_| "localhost".to_owned()));
        }
        if config.get_ports().is_empty()
            && let Some(port) = std::env::var("PGPORT").ok().and_then(|p| p.parse().ok())
        {
            config.port(port);
        }
        if config.get_dbname().is_none()
            && let Ok(db) = std::env::var("PGDATABASE")
        {
            config.dbname(&db);
        }
        let tls = match ssl_mode.as_deref().unwrap_or("prefer") {
            "disable" => TlsMode::Off,
            "allow" | "prefer" | "require" => TlsMode::On {
                verify: false,
                root_cert,
            },
            "verify-ca" | "verify-full" => TlsMode::On {
                verify: true,
                root_cert,
            },
            other => {
                return Err(invalid(format!(
                    "unknown sslmode `{other}` (disable, prefer, require, verify-ca, verify-full)"
                )));
            }
        };
        config.ssl_mode(match (ssl_mode.as_deref(), &tls) {
            (Some("allow" | "prefer") | None, _) => postgres::config::SslMode::Prefer,
            (_, TlsMode::Off) => postgres::config::SslMode::Disable,
            (_, TlsMode::On { .. }) => postgres::config::SslMode::Require,
        });
        let redacted = display(&config, ssl_mode.as_deref().unwrap_or("prefer"));
        config.application_name("campaignctl");
        config.connect_timeout(Duration::from_secs(10));
        // Notice a dead server or a cut connection within seconds, not hours.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(5));
        config.keepalives_interval(Duration::from_secs(2));
        config.keepalives_retries(3);
        config.tcp_user_timeout(Duration::from_secs(10));
        Ok(PgLocation {
            config,
            tls,
            redacted,
        })
    }

    pub(super) fn connect(&self) -> Result<Client, LedgerError> {
        let result = match &self.tls {
            TlsMode::Off => self.config.connect(NoTls),
            TlsMode::On { verify, root_cert } => {
                let tls = tls_connector(*verify, root_cert.as_deref())
                    .map_err(|message| self.error(message))?;
                self.config.connect(tls)
            }
        };
        result.map_err(|e| self.error(format!("cannot connect: {}", describe(&e))))
    }

    fn error(&self, message: impl fmt::Display) -> LedgerError {
        LedgerError::storage(&self.redacted, message.to_string())
    }
}

/// The URL with its password replaced by `***`. The user information ends at the last `@`
/// before the host, wherever `/` or `?` appear in the password.
pub(super) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.rfind('@') {
        Some(at) => {
            let host_end = rest[at..].find(['/', '?']).map_or(rest.len(), |i| at + i);
            rest.split_at(host_end)
        }
        None => rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len())),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    // A password can also be a query parameter.
    let tail = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((before, _)) => format!("{before}password=***"),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{scheme}://{authority}{tail}")
}

/// How a location is shown once parsed: what was actually used, environment defaults
/// included, and never a password.
fn display(config: &Config, ssl_mode: &str) -> String {
    let user = config.get_user().unwrap_or("postgres");
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or(user);
    let password = if config.get_password().is_some() {
        ":***"
    } else {
        ""
    };
    format!("postgres://{user}{password}@{host}:{port}/{db}?sslmode={ssl_mode}")
}
