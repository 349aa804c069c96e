//! The shared ledger: PostgreSQL, for CI runners whose local files die with them and for
//! daemons replicated across servers. Same schema, migrations and semantics as the SQLite
//! ledger; exactly-once across processes comes from the unique send key (`INSERT ... ON
//! CONFLICT DO NOTHING` decides who sends), single writer from a session-level advisory lock.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::{Client, Config, NoTls};

use crate::ledger::{
    Claim, Filter, Finished, Holder, Imported, Ledger, LedgerError, MissedRow, NewSend, SCHEMA_V1,
    SendRow, check_version, conflicts_error, timestamp, truncate_response,
};
use crate::planner::{Recorded, RecordedSends, Status};
use crate::schedule::Occurrence;

/// Schema migrations, applied in order and counted in `campaignctl_schema`. Version 1 is
/// the schema shared with SQLite; SQLite's later, SQLite-only migrations are not PostgreSQL's.
const MIGRATIONS: &[&str] = &[SCHEMA_V1];

/// The advisory lock key ("campaignctl" ledger writer); advisory locks are per database.
const LOCK_KEY: i64 = 0x6361_6d70_6169_676e;

/// A `postgres://` location: the parsed connection settings, and the URL without its
/// password for messages.
#[derive(Clone)]
pub struct PgLocation {
    config: Config,
    tls: TlsMode,
    redacted: String,
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
    pub fn parse(url: &str) -> Result<PgLocation, LedgerError> {
        let redacted = redact(url);
        let url = &match url.split_once("://") {
            Some((scheme, rest)) => format!("{}://{rest}", scheme.to_ascii_lowercase()),
            None => url.to_owned(),
        };
        let invalid = |message: String| LedgerError::Storage {
            ledger: redacted.clone(),
            message,
        };
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

    fn connect(&self) -> Result<Client, LedgerError> {
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
        LedgerError::Storage {
            ledger: self.redacted.clone(),
            message: message.to_string(),
        }
    }
}

/// The URL with its password replaced by `***`. The user information ends at the last `@`
/// before the host, wherever `/` or `?` appear in the password.
pub fn redact(url: &str) -> String {
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

fn tls_connector(
    verify: bool,
    root_cert: Option<&str>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let provider = crate::tls::provider();
    let config = match root_cert {
        _ if !verify => rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
        None => crate::tls::verified_config(provider)?,
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("cannot read sslrootcert {path}: {e}"))?
            {
                let cert = cert.map_err(|e| format!("cannot read sslrootcert {path}: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("bad certificate in {path}: {e}"))?;
            }
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth()
        }
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// `sslmode=prefer|require`: the connection is encrypted, the certificate is not checked
/// (libpq's meaning; use verify-full to check it). Signatures are still verified, so the
/// handshake itself is sound.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A database error with its SQL state and detail, not just "db error".
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{}: {} ({detail})", db.code().code(), db.message()),
            None => format!("{}: {}", db.code().code(), db.message()),
        },
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

pub struct PgLedger {
    location: PgLocation,
    redacted: String,
    client: Option<Client>,
    /// Whether this session holds the writer lock.
    locked: bool,
    /// Whether this process took the lock: from then on it writes only while holding it.
    writer: bool,
}

impl PgLedger {
    /// A ledger that connects on first use.
    fn unconnected(location: &PgLocation) -> PgLedger {
        PgLedger {
            location: location.clone(),
            redacted: location.redacted.clone(),
            client: None,
            locked: false,
            writer: false,
        }
    }

    /// Connects and migrates (the migration runs under a transaction-level advisory lock so
    /// two processes starting at once do not both create the tables).
    pub fn open(location: &PgLocation) -> Result<PgLedger, LedgerError> {
        let mut ledger = PgLedger::unconnected(location);
        ledger.migrate()?;
        Ok(ledger)
    }

    /// Opens for reading; `None` when the database has no ledger yet (never creates one).
    pub fn open_read_only(location: &PgLocation) -> Result<Option<PgLedger>, LedgerError> {
        let mut ledger = PgLedger::unconnected(location);
        let exists: bool = ledger
            .client()?
            .query_one("SELECT to_regclass('campaignctl_schema') IS NOT NULL", &[])
            .map_err(|e| ledger.db(e))?
            .get(0);
        if !exists {
            return Ok(None);
        }
        let version = ledger.version()?;
        check_version(&ledger.redacted, version, MIGRATIONS)?;
        Ok(Some(ledger))
    }

    fn db(&self, e: postgres::Error) -> LedgerError {
        LedgerError::Storage {
            ledger: self.redacted.clone(),
            message: describe(&e),
        }
    }

    /// The connection, reconnecting if it was lost. A new session does not hold the lock.
    fn client(&mut self) -> Result<&mut Client, LedgerError> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = None;
            self.locked = false;
            self.client = Some(self.location.connect()?);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// Runs `f` against the database; a lost connection drops the client, so the next call
    /// reconnects.
    fn with<T>(
        &mut self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, LedgerError> {
        let result = f(self.client()?);
        result.map_err(|e| {
            if self.client.as_ref().is_some_and(Client::is_closed) {
                self.client = None;
                self.locked = false;
            }
            self.db(e)
        })
    }

    fn version(&mut self) -> Result<i64, LedgerError> {
        self.with(|c| {
            c.query_one(
                "SELECT coalesce(max(version), 0)::BIGINT FROM campaignctl_schema",
                &[],
            )
            .map(|row| row.get(0))
        })
    }

    fn migrate(&mut self) -> Result<(), LedgerError> {
        let known = MIGRATIONS.len() as i64;
        let redacted = self.redacted.clone();
        let found = self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&(LOCK_KEY ^ 1)])?;
            tx.batch_execute("CREATE TABLE IF NOT EXISTS campaignctl_schema (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")?;
            let version: i64 = tx
                .query_one("SELECT coalesce(max(version), 0)::BIGINT FROM campaignctl_schema", &[])?
                .get(0);
            if version > known {
                return Ok(version);
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO campaignctl_schema (version, applied_at) VALUES ($1, $2)",
                    &[&(i as i32 + 1), &timestamp(Utc::now())],
                )?;
            }
            tx.commit()?;
            Ok(version)
        })?;
        check_version(&redacted, found, MIGRATIONS)
    }

    /// Tries the writer lock once: `Ok(None)` when acquired, `Ok(Some(holder))` when another
    /// session holds it.
    pub fn try_lock(&mut self, holder: &Holder) -> Result<Option<Holder>, LedgerError> {
        if self.locked && self.client.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(None);
        }
        let acquired: bool = self.with(|c| {
            c.query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
                .map(|r| r.get(0))
        })?;
        if acquired {
            self.locked = true;
            self.writer = true;
            // Since when it holds the lock (a standby that takes over holds it from now).
            let since = timestamp(Utc::now());
            self.with(|c| {
                c.execute(
                    "INSERT INTO holder (id, pid, host, since, command) VALUES (1, $1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host,
                         since = excluded.since, command = excluded.command",
                    &[
                        &i64::from(holder.pid),
                        &holder.host,
                        &since,
                        &holder.command,
                    ],
                )
            })?;
            return Ok(None);
        }
        let row = self.with(|c| {
            c.query_opt(
                "SELECT pid, host, since, command FROM holder WHERE id = 1",
                &[],
            )
        })?;
        Ok(Some(match row {
            Some(row) => Holder {
                pid: u32::try_from(row.get::<_, i64>(0)).unwrap_or(0),
                host: row.get(1),
                since: DateTime::parse_from_rfc3339(&row.get::<_, String>(2))
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or_else(|_| Utc::now()),
                command: row.get(3),
            },
            None => Holder {
                pid: 0,
                host: "unknown".to_owned(),
                since: Utc::now(),
                command: "unknown".to_owned(),
            },
        }))
    }

    /// Whether this session still holds the lock (false after the connection was lost).
    pub fn holds_lock(&mut self) -> Result<bool, LedgerError> {
        if !self.locked {
            return Ok(false);
        }
        let held: bool = self.with(|c| {
            c.query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                    AND pid = pg_backend_pid() AND objid = ($1::BIGINT & 4294967295)::OID)",
                &[&LOCK_KEY],
            )
            .map(|r| r.get(0))
        })?;
        self.locked = held;
        Ok(held)
    }

    /// A process that took the writer lock claims sends only while it still holds it.
    /// Exactly-once does not depend on this (the unique key does), but a replica whose
    /// session was cut must stop sending: another may have taken over.
    fn require_lock(&mut self) -> Result<(), LedgerError> {
        if !self.writer || (self.locked && self.client.as_ref().is_some_and(|c| !c.is_closed())) {
            return Ok(());
        }
        self.locked = false;
        Err(self.error("this process lost the ledger lock (its database session ended); not sending until it takes it again"))
    }

    fn error(&self, message: impl fmt::Display) -> LedgerError {
        LedgerError::Storage {
            ledger: self.redacted.clone(),
            message: message.to_string(),
        }
    }
}

impl Ledger for PgLedger {
    fn location(&self) -> &str {
        &self.redacted
    }

    fn lock(&mut self, holder: &Holder) -> Result<(), LedgerError> {
        match self.try_lock(holder)? {
            None => Ok(()),
            Some(holder) => Err(LedgerError::Locked {
                ledger: self.redacted.clone(),
                holder,
            }),
        }
    }

    fn try_lock(&mut self, holder: &Holder) -> Result<Option<Holder>, LedgerError> {
        PgLedger::try_lock(self, holder)
    }

    fn holds_lock(&mut self) -> Result<bool, LedgerError> {
        PgLedger::holds_lock(self)
    }

    fn recover(&mut self) -> Result<usize, LedgerError> {
        let now = timestamp(Utc::now());
        self.with(|c| {
            c.execute(
                "UPDATE sends SET status = 'unknown', updated_at = $1,
                     error = 'the process stopped while this send was in flight: it may or may not have been sent'
                 WHERE status = 'in_flight'",
                &[&now],
            )
        })
        .map(|n| n as usize)
    }

    fn recorded(
        &mut self,
        campaign: &str,
        occurrence: Occurrence,
    ) -> Result<RecordedSends, LedgerError> {
        let occurrence = occurrence.to_string();
        let rows = self.with(|c| {
            c.query(
                "SELECT recipient, status, request_hash FROM sends WHERE campaign = $1 AND occurrence = $2",
                &[&campaign, &occurrence],
            )
        })?;
        let mut out = RecordedSends::new();
        for row in rows {
            let status: String = row.get(1);
            let status = Status::parse(&status).ok_or_else(|| {
                self.error(format!("unknown status `{status}` in the sends table"))
            })?;
            out.insert(
                row.get(0),
                Recorded {
                    status,
                    body_hash: row.get(2),
                },
            );
        }
        Ok(out)
    }

    fn claim(&mut self, sends: &[NewSend], retry: &[Status]) -> Result<Vec<Claim>, LedgerError> {
        self.require_lock()?;
        let now = timestamp(Utc::now());
        let column =
            |f: fn(&NewSend) -> &String| sends.iter().map(f).cloned().collect::<Vec<String>>();
        let keys = column(|s| &s.key);
        let (campaigns, files, occurrences) = (
            column(|s| &s.campaign),
            column(|s| &s.file),
            column(|s| &s.occurrence),
        );
        let (recipients, endpoints) = (column(|s| &s.recipient), column(|s| &s.endpoint));
        let (requests, hashes) = (column(|s| &s.request), column(|s| &s.request_hash));
        let retry: Vec<String> = retry.iter().map(|s| s.as_str().to_owned()).collect();
        let (inserted, reclaimed) = self.with(|c| {
            let mut tx = c.transaction()?;
            // The unique key decides: whoever inserts a send sends it.
            let inserted: Vec<String> = tx
                .query(
                    "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                        request_hash, status, attempts, created_at, updated_at)
                     SELECT k, c, f, o, r, e, q, h, 'in_flight', 0, $9, $9
                     FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                                 $6::TEXT[], $7::TEXT[], $8::TEXT[]) AS u(k, c, f, o, r, e, q, h)
                     ON CONFLICT (key) DO NOTHING
                     RETURNING key",
                    &[&keys, &campaigns, &files, &occurrences, &recipients, &endpoints, &requests, &hashes, &now],
                )?
                .into_iter()
                .map(|row| row.get(0))
                .collect();
            let mut reclaimed: Vec<(String, String)> = Vec::new();
            if !retry.is_empty() {
                reclaimed = tx
                    .query(
                        "WITH previous AS (
                             SELECT s.key, s.status FROM sends s
                             JOIN unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[]) AS u(k, q, h, f) ON s.key = u.k
                             WHERE s.status = ANY($5) FOR UPDATE OF s)
                         UPDATE sends SET status = 'in_flight', request = u.q, request_hash = u.h, file = u.f,
                                          updated_at = $6, error = NULL
                         FROM previous, unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[]) AS u(k, q, h, f)
                         WHERE sends.key = previous.key AND u.k = previous.key
                         RETURNING sends.key, previous.status",
                        &[&keys, &requests, &hashes, &files, &retry, &now],
                    )?
                    .into_iter()
                    .map(|row| (row.get(0), row.get(1)))
                    .collect();
            }
            tx.commit()?;
            Ok((inserted, reclaimed))
        })?;
        let inserted: std::collections::HashSet<String> = inserted.into_iter().collect();
        let reclaimed: std::collections::HashMap<String, String> = reclaimed.into_iter().collect();
        Ok(sends
            .iter()
            .map(|s| {
                if inserted.contains(&s.key) {
                    Claim::Claimed(None)
                } else if let Some(previous) = reclaimed.get(&s.key) {
                    Claim::Claimed(Status::parse(previous))
                } else {
                    Claim::Taken
                }
            })
            .collect())
    }

    fn release(&mut self, claims: &[(String, Option<Status>)]) -> Result<(), LedgerError> {
        let fresh: Vec<String> = claims
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        let (keys, previous): (Vec<String>, Vec<String>) = claims
            .iter()
            .filter_map(|(k, p)| p.map(|p| (k.clone(), p.as_str().to_owned())))
            .unzip();
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "DELETE FROM sends WHERE key = ANY($1) AND status = 'in_flight'",
                &[&fresh],
            )?;
            tx.execute(
                "UPDATE sends SET status = u.p FROM unnest($1::TEXT[], $2::TEXT[]) AS u(k, p)
                 WHERE sends.key = u.k AND sends.status = 'in_flight'",
                &[&keys, &previous],
            )?;
            tx.commit()
        })
    }

    fn finish(&mut self, results: &[Finished]) -> Result<(), LedgerError> {
        let now = timestamp(Utc::now());
        let keys: Vec<&str> = results.iter().map(|r| r.key.as_str()).collect();
        let statuses: Vec<&str> = results.iter().map(|r| r.status.as_str()).collect();
        let attempts: Vec<i32> = results
            .iter()
            .map(|r| i32::try_from(r.attempts).unwrap_or(i32::MAX))
            .collect();
        let codes: Vec<Option<i32>> = results
            .iter()
            .map(|r| r.http_status.map(i32::from))
            .collect();
        let responses: Vec<Option<String>> = results
            .iter()
            .map(|r| r.response.clone().map(truncate_response))
            .collect();
        let errors: Vec<Option<&str>> = results.iter().map(|r| r.error.as_deref()).collect();
        self.with(|c| {
            c.execute(
                "UPDATE sends SET status = u.s, attempts = sends.attempts + u.a, http_status = u.h,
                                  response = u.r, error = u.e, updated_at = $7
                 FROM unnest($1::TEXT[], $2::TEXT[], $3::INT[], $4::INT[], $5::TEXT[], $6::TEXT[])
                      AS u(k, s, a, h, r, e)
                 WHERE sends.key = u.k",
                &[
                    &keys, &statuses, &attempts, &codes, &responses, &errors, &now,
                ],
            )
        })
        .map(|_| ())
    }

    fn record_missed(
        &mut self,
        campaign: &str,
        file: &str,
        occurrence: Occurrence,
    ) -> Result<bool, LedgerError> {
        let (occurrence, now) = (occurrence.to_string(), timestamp(Utc::now()));
        self.with(|c| {
            c.execute(
                "INSERT INTO missed (campaign, occurrence, file, recorded_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&campaign, &occurrence, &file, &now],
            )
        })
        .map(|n| n == 1)
    }

    fn last_occurrence(&mut self, campaign: &str) -> Result<Option<DateTime<Utc>>, LedgerError> {
        let latest: Option<String> = self.with(|c| {
            c.query_one(
                "SELECT max(occurrence) FROM (
                     SELECT occurrence FROM sends WHERE campaign = $1 AND occurrence <> 'once'
                     UNION ALL
                     SELECT occurrence FROM missed WHERE campaign = $1) AS o",
                &[&campaign],
            )
            .map(|row| row.get(0))
        })?;
        Ok(latest
            .and_then(|text| Occurrence::parse(&text))
            .and_then(Occurrence::time))
    }

    fn sends(&mut self, filter: &Filter) -> Result<Vec<SendRow>, LedgerError> {
        let status = filter.status.map(Status::as_str);
        let rows = self.with(|c| {
            c.query(
                "SELECT key, campaign, file, occurrence, recipient, endpoint, status, attempts,
                        http_status, response, error, request_hash, created_at, updated_at, request
                 FROM sends
                 WHERE ($1::TEXT IS NULL OR campaign = $1) AND ($2::TEXT IS NULL OR status = $2)
                 ORDER BY campaign COLLATE \"C\", occurrence COLLATE \"C\", recipient COLLATE \"C\"",
                &[&filter.campaign, &status],
            )
        })?;
        Ok(rows
            .into_iter()
            .map(|row| SendRow {
                key: row.get(0),
                campaign: row.get(1),
                file: row.get(2),
                occurrence: row.get(3),
                recipient: row.get(4),
                endpoint: row.get(5),
                status: Status::parse(row.get(6)).unwrap_or(Status::Unknown),
                attempts: u32::try_from(row.get::<_, i32>(7)).unwrap_or(0),
                http_status: row
                    .get::<_, Option<i32>>(8)
                    .and_then(|c| u16::try_from(c).ok()),
                response: row.get(9),
                error: row.get(10),
                request_hash: row.get(11),
                created_at: row.get(12),
                updated_at: row.get(13),
                request: row.get(14),
            })
            .collect())
    }

    fn missed(&mut self, campaign: Option<&str>) -> Result<Vec<MissedRow>, LedgerError> {
        let rows = self.with(|c| {
            c.query(
                "SELECT campaign, file, occurrence, recorded_at FROM missed
                 WHERE ($1::TEXT IS NULL OR campaign = $1)
                 ORDER BY campaign COLLATE \"C\", occurrence COLLATE \"C\"",
                &[&campaign],
            )
        })?;
        Ok(rows
            .into_iter()
            .map(|row| MissedRow {
                campaign: row.get(0),
                file: row.get(1),
                occurrence: row.get(2),
                recorded_at: row.get(3),
            })
            .collect())
    }

    fn import(&mut self, sends: &[SendRow], missed: &[MissedRow]) -> Result<Imported, LedgerError> {
        let existing: std::collections::HashMap<String, SendRow> = self
            .sends(&Filter::default())?
            .into_iter()
            .map(|r| (r.key.clone(), r))
            .collect();
        let conflicts: Vec<String> = sends
            .iter()
            .filter(|r| existing.get(&r.key).is_some_and(|e| !e.same_record(r)))
            .map(|r| r.key.clone())
            .collect();
        if !conflicts.is_empty() {
            return Err(conflicts_error(&self.redacted, &conflicts));
        }
        self.with(|c| {
            let mut tx = c.transaction()?;
            let mut imported = Imported::default();
            let insert = tx.prepare(
                "INSERT INTO sends (key, campaign, file, occurrence, recipient, endpoint, request,
                                    request_hash, status, attempts, http_status, response, error,
                                    created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                 ON CONFLICT (key) DO NOTHING",
            )?;
            for r in sends {
                let attempts = i32::try_from(r.attempts).unwrap_or(i32::MAX);
                let code = r.http_status.map(i32::from);
                let n = tx.execute(
                    &insert,
                    &[
                        &r.key, &r.campaign, &r.file, &r.occurrence, &r.recipient, &r.endpoint, &r.request,
                        &r.request_hash, &r.status.as_str(), &attempts, &code, &r.response, &r.error,
                        &r.created_at, &r.updated_at,
                    ],
                )?;
                if n == 1 { imported.sends_copied += 1 } else { imported.sends_present += 1 }
            }
            for m in missed {
                let n = tx.execute(
                    "INSERT INTO missed (campaign, occurrence, file, recorded_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                    &[&m.campaign, &m.occurrence, &m.file, &m.recorded_at],
                )?;
                if n == 1 { imported.missed_copied += 1 } else { imported.missed_present += 1 }
            }
            tx.commit()?;
            Ok(imported)
        })
    }
}

/// Test databases on the PostgreSQL server the tests use (`CAMPAIGNCTL_TEST_PG`, default
/// `postgres://postgres@127.0.0.1:5432/postgres`): each test gets its own, dropped after.
#[cfg(test)]
pub(crate) mod test_db {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    pub fn admin_url() -> String {
        std::env::var("CAMPAIGNCTL_TEST_PG").unwrap_or_else(|_| {
            "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".to_owned()
        })
    }

    /// A fresh database, dropped (with every session on it) when this is dropped.
    pub struct TestDb {
        pub name: String,
        pub url: String,
    }

    impl TestDb {
        pub fn create(label: &str) -> TestDb {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let label: String = label
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let name = format!(
                "campaignctl_test_{}_{}_{label}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let mut admin = Config::from_str(&admin_url().replace("?sslmode=disable", ""))
                .expect("admin URL")
                .connect(NoTls)
                .unwrap_or_else(|e| {
                    panic!("the PostgreSQL tests need a server at {}: {e}", admin_url())
                });
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create test database");
            let base = admin_url();
            let (root, _) = base.rsplit_once('/').expect("URL with a database");
            TestDb {
                url: format!("{root}/{name}?sslmode=disable"),
                name,
            }
        }

        pub fn location(&self) -> PgLocation {
            PgLocation::parse(&self.url).expect("test URL parses")
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if let Ok(mut admin) = Config::from_str(&admin_url().replace("?sslmode=disable", ""))
                .and_then(|c| c.connect(NoTls))
            {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_db::TestDb;
    use super::*;

    #[test]
    fn postgres_ledger_meets_the_contract() {
        let mut dbs: std::collections::HashMap<String, TestDb> = std::collections::HashMap::new();
        crate::ledger::contract::run(&mut |name| {
            let db = dbs
                .entry(name.to_owned())
                .or_insert_with(|| TestDb::create(name));
            Box::new(PgLedger::open(&db.location()).unwrap())
        });
    }

    #[test]
    fn read_only_open_never_creates_and_newer_schemas_are_refused() {
        let db = TestDb::create("ro");
        assert!(PgLedger::open_read_only(&db.location()).unwrap().is_none());
        let mut check = Config::from_str(&db.url).unwrap().connect(NoTls).unwrap();
        let tables: i64 = check
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 0, "a read-only open created tables");
        drop(PgLedger::open(&db.location()).unwrap());
        assert!(PgLedger::open_read_only(&db.location()).unwrap().is_some());
        check
            .execute("INSERT INTO campaignctl_schema VALUES (99, 'x')", &[])
            .unwrap();
        assert!(matches!(
            PgLedger::open(&db.location()),
            Err(LedgerError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn two_processes_racing_for_one_send_only_one_claims_it() {
        let db = TestDb::create("race");
        let location = db.location();
        let send = NewSend {
            key: "c/once/919000000001".to_owned(),
            campaign: "c".to_owned(),
            file: "c.yaml".to_owned(),
            occurrence: "once".to_owned(),
            recipient: "919000000001".to_owned(),
            endpoint: "single".to_owned(),
            request: "{}".to_owned(),
            request_hash: "h".to_owned(),
        };
        drop(PgLedger::open(&location).unwrap());
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (location, send, barrier) = (location.clone(), send.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut ledger = PgLedger::open(&location).unwrap();
                    barrier.wait();
                    ledger.claim(&[send], &[Status::Failed]).unwrap()[0]
                })
            })
            .collect();
        let claims: Vec<Claim> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(
            claims
                .iter()
                .filter(|c| **c == Claim::Claimed(None))
                .count(),
            1,
            "{claims:?}"
        );
    }

    #[test]
    fn a_lost_connection_loses_the_lock_and_a_new_session_can_take_it() {
        let db = TestDb::create("lost");
        let location = db.location();
        let mut leader = PgLedger::open(&location).unwrap();
        let mut standby = PgLedger::open(&location).unwrap();
        leader.lock(&Holder::current("run")).unwrap();
        assert!(leader.holds_lock().unwrap());
        assert!(standby.try_lock(&Holder::current("run")).unwrap().is_some());
        // Cut the leader's session from the server side.
        let mut admin = Config::from_str(&db.url).unwrap().connect(NoTls).unwrap();
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()
                   AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')",
                &[],
            )
            .unwrap();
        // The backend exits asynchronously; the standby polls like the daemon does.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while standby.try_lock(&Holder::current("run")).unwrap().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the standby never took over"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // The old leader notices: it no longer holds the lock, and cannot take it back.
        assert!(!leader.holds_lock().unwrap_or(false));
        assert!(leader.try_lock(&Holder::current("run")).unwrap().is_some());
    }

    #[test]
    fn urls_are_parsed_and_passwords_never_shown() {
        assert_eq!(
            redact("postgres://app:s3cret@db.example.com:5432/ledger?sslmode=require"),
            "postgres://app:***@db.example.com:5432/ledger?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://app@db/ledger?password=s3cret&sslmode=require"),
            "postgresql://app@db/ledger?password=***&sslmode=require"
        );
        assert_eq!(
            redact("postgres://app:pa/ss?w@rd@db:5432/ledger?sslmode=require"),
            "postgres://app:***@db:5432/ledger?sslmode=require"
        );
        let location =
            PgLocation::parse("Postgres://app:pa/ss@db.example.com/ledger?sslmode=require")
                .unwrap();
        assert_eq!(
            location.to_string(),
            "postgres://app:***@db.example.com:5432/ledger?sslmode=require"
        );
        let location =
            PgLocation::parse("postgres://app:s3cret@db.example.com:5432/ledger?sslmode=require")
                .unwrap();
        assert!(!format!("{location} {location:?}").contains("s3cret"));
        let err =
            PgLocation::parse("postgres://app:s3cret@db/ledger?sslmode=sometimes").unwrap_err();
        assert!(err.to_string().contains("unknown sslmode"));
        assert!(!err.to_string().contains("s3cret"));
    }
}
