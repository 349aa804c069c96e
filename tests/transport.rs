//! The HTTP transport end to end: `campaignctl apply` against servers that answer oddly
//! (tests/raw_server.rs), over TLS with a private CA, over HTTP/2 only
//! (tests/h2_server.rs), and through a forward proxy (tests/proxy.rs).
//!
//! What each test pins is how an outcome is classified by what is known about the request,
//! and that nothing known to have reached the API goes out twice:
//! - answered (a status line arrived): recorded from the status even when the body then
//!   fails or stalls: `sent` for 2xx; `failed` for 3xx (never followed) and 4xx;
//! - ambiguous (the request was written, then no status line): `unknown` at once, not
//!   retried;
//! - certainly not processed (a refused connection, a rejected certificate, a TLS handshake
//!   that never completes, an unreachable proxy): nothing arrived, and what could not be
//!   reached is named.
//!
//! So every test counts what the server received: never more than one request for anything
//! answered or ambiguous. Each test has its own directory and ledger, one recipient (or a
//! few), `--concurrency 1 --rate 0 --request-timeout 2`, and an environment without any
//! inherited proxy or CA settings.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::h2_server::H2Server;
use crate::mock_api::{MockApi, SINGLE_PATH};
use crate::output::Run;
use crate::private_ca;
use crate::proxy::{Proxy, Socks5};
use crate::raw_server::{RawServer, Script, Silent};

const BIN: &str = env!("CARGO_BIN_EXE_campaignctl");
const KEY: &str = "cc-live-TRANSPORT-3b7e-SECRET-5d41402abc4b2a76";
const NOW: &str = "2026-11-30T09:00:00+05:30";
/// Every variable the HTTP client may take a proxy from, removed from each run's
/// environment unless the test sets it. `REQUEST_METHOD` too: where it is set (CGI), the
/// client ignores `HTTP_PROXY`.
const PROXY_VARIABLES: [&str; 9] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "REQUEST_METHOD",
];
/// The JSON answer of the scripted servers: 11 bytes.
const OK_JSON: &str = r#"{"ok":true}"#;
/// A password distinctive enough to grep for in every output and file.
const PROXY_PASSWORD: &str = "s3cret-pw";

/// `919000000000 + i`: distinct valid mobile numbers.
fn mobile(i: usize) -> String {
    format!("9190000{i:05}")
}

/// A single-send campaign file to `recipients`.
fn campaign(name: &str, recipients: &[String]) -> String {
    let mut text = format!(
        "name: {name}\n\
         template: welcome_message\n\
         language: en\n\
         params:\n  - \"{{{{ recipient.name }}}}\"\n\
         recipients:\n"
    );
    for (i, m) in recipients.iter().enumerate() {
        text.push_str(&format!("  - mobile: \"{m}\"\n    name: Runner{i}\n"));
    }
    text
}

/// `SSL_CERT_FILE` set to the private CA: the only root the client then trusts.
fn trusting_the_private_ca() -> (&'static str, String) {
    ("SSL_CERT_FILE", private_ca::ca_file().display().to_string())
}

/// A loopback port nothing listens on (bound, read, released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A row of the `sends` table, read straight from the SQLite file.
#[derive(Debug, Clone)]
struct Row {
    key: String,
    recipient: String,
    status: String,
    attempts: i64,
    http_status: Option<i64>,
    response: Option<String>,
    error: Option<String>,
}

/// One test's world: a temporary directory with one campaign file and the ledger.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// A campaign `transport` to `recipients`.
    fn new(recipients: &[String]) -> Sandbox {
        let sb = Sandbox {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let path = sb.dir.path().join("campaigns/transport.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, campaign("transport", recipients)).unwrap();
        sb
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state/ledger.db")
    }

    /// `campaignctl ARGS` against `base_url`, with the API key, no terminal, and none of
    /// the proxy or CA variables of the test's own environment.
    fn command(&self, base_url: &str, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("CAMPAIGNCTL_STATE")
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR")
            .env("CHITCHAT_API_KEY", KEY)
            .env("CHITCHAT_BASE_URL", base_url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for name in PROXY_VARIABLES {
            command.env_remove(name);
        }
        command
    }

    /// `apply --yes --rate 0 --concurrency 1 --request-timeout 2` against `base_url`, with
    /// `env` added.
    fn apply(&self, base_url: &str, env: &[(&str, String)]) -> Run {
        self.apply_with(base_url, env, &[])
    }

    /// [`Sandbox::apply`] with `extra` arguments after the others.
    fn apply_with(&self, base_url: &str, env: &[(&str, String)], extra: &[&str]) -> Run {
        let state = self.state().display().to_string();
        let mut args = vec![
            "apply",
            "campaigns",
            "--yes",
            "--now",
            NOW,
            "--state",
            &state,
            "--rate",
            "0",
            "--concurrency",
            "1",
            "--request-timeout",
            "2",
        ];
        args.extend(extra);
        let mut command = self.command(base_url, &args);
        command.envs(env.iter().map(|(k, v)| (k, v)));
        Run::from(command.output().expect("run campaignctl"))
    }

    /// `status --state STATE` (text; it sends nothing, so any base URL does).
    fn status(&self) -> Run {
        let state = self.state().display().to_string();
        Run::from(
            self.command("http://127.0.0.1:9", &["status", "--state", &state])
                .output()
                .expect("run campaignctl status"),
        )
    }

    fn rows(&self) -> Vec<Row> {
        let path = self.state();
        assert!(path.exists(), "no ledger at {}", path.display());
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open the ledger");
        let mut stmt = conn
            .prepare(
                "SELECT key, recipient, status, attempts, http_status, response, error
                 FROM sends ORDER BY key",
            )
            .unwrap();
        stmt.query_map([], |row| {
            Ok(Row {
                key: row.get(0)?,
                recipient: row.get(1)?,
                status: row.get(2)?,
                attempts: row.get(3)?,
                http_status: row.get(4)?,
                response: row.get(5)?,
                error: row.get(6)?,
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    /// The one row of a one-recipient campaign.
    #[track_caller]
    fn row(&self) -> Row {
        let rows = self.rows();
        assert_eq!(rows.len(), 1, "{rows:#?}");
        rows.into_iter().next().unwrap()
    }

    /// Whether any file of the ledger (database, WAL, shared memory, lock) holds `text`.
    fn ledger_files_contain(&self, text: &str) -> Vec<PathBuf> {
        let dir = self.state().parent().unwrap().to_owned();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        entries
            .map(|e| e.unwrap().path())
            .filter(|path| {
                let bytes = std::fs::read(path).unwrap();
                bytes.windows(text.len()).any(|w| w == text.as_bytes())
            })
            .collect()
    }
}

/// One send against a scripted server: its row, what the server received, and the run.
struct Case {
    row: Row,
    requests: usize,
    run: Run,
}

impl Case {
    /// One send to a plain-HTTP server that answers every request with `script`.
    fn plain(script: Script) -> Case {
        Case::against(RawServer::start(script))
    }

    /// The same over TLS, the private CA trusted through `SSL_CERT_FILE`.
    fn tls(script: Script) -> Case {
        Case::against(RawServer::start_tls(script))
    }

    fn against(server: RawServer) -> Case {
        let sb = Sandbox::new(&[mobile(1)]);
        let url = server.url();
        let env = if url.starts_with("https:") {
            vec![trusting_the_private_ca()]
        } else {
            Vec::new()
        };
        let run = sb.apply(&url, &env);
        let row = sb.row();
        assert_eq!(
            server.request_count(),
            server.requests_for(&mobile(1)),
            "every request was the campaign's one send"
        );
        Case {
            row,
            requests: server.request_count(),
            run,
        }
    }

    /// Recorded `status` with `http_status`, from exactly one request.
    #[track_caller]
    fn assert_recorded(&self, status: &str, http_status: Option<i64>) -> &Case {
        assert_eq!(
            (
                self.row.status.as_str(),
                self.row.http_status,
                self.requests
            ),
            (status, http_status, 1),
            "(status, http_status, requests the server received)\n{self}"
        );
        self
    }

    /// The whole body reached the ledger.
    #[track_caller]
    fn assert_response(&self, body: &str) -> &Case {
        assert_eq!(self.row.response.as_deref(), Some(body), "{self}");
        self
    }
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:#?}\n--- stdout\n{}--- stderr\n{}",
            self.row, self.run.stdout, self.run.stderr
        )
    }
}

/// A response head: `status`, `content-type: application/json`, then `headers` (each line
/// ending in CRLF), then the blank line.
fn head(status: &str, headers: &str) -> String {
    format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{headers}\r\n")
}

/// A plain 200 with the 11-byte JSON body.
fn ok() -> String {
    head("200 OK", "content-length: 11\r\n") + OK_JSON
}

// Answered: a status line arrived, and it decides, whatever happens to the body.

#[test]
fn a_200_whose_body_stalls_past_the_request_timeout_is_sent_and_not_resent() {
    // Five of the eleven bytes, then nothing (the connection stays open) past the 2 s
    // request timeout.
    Case::plain(
        Script::new()
            .write(head("200 OK", "content-length: 11\r\n"))
            .write(&OK_JSON[..5])
            .hold(),
    )
    .assert_recorded("sent", Some(200));
}

#[test]
fn a_200_whose_body_is_cut_short_by_a_close_is_sent_and_not_resent() {
    Case::plain(
        Script::new()
            .write(head("200 OK", "content-length: 100\r\n"))
            .write(OK_JSON)
            .close(),
    )
    .assert_recorded("sent", Some(200));
}

#[test]
fn a_200_whose_tls_connection_closes_without_close_notify_is_sent_and_not_resent() {
    // A body delimited by the close, and the close is a bare TCP FIN: rustls reports the
    // missing close_notify as an unexpected EOF, after the status and the whole body.
    Case::tls(
        Script::new()
            .write(head("200 OK", "connection: close\r\n"))
            .write(OK_JSON)
            .close(),
    )
    .assert_recorded("sent", Some(200));
}

#[test]
fn a_200_with_70_headers_is_sent_with_its_body() {
    // More than the 64 the old hand-written client allowed; hyper allows 100.
    let filler: String = (1..=68).map(|i| format!("x-filler-{i}: {i}\r\n")).collect();
    let response = head("200 OK", &format!("content-length: 11\r\n{filler}")) + OK_JSON;
    assert_eq!(response.matches("\r\n").count() - 2, 70, "70 header lines");
    Case::plain(Script::new().write(response))
        .assert_recorded("sent", Some(200))
        .assert_response(OK_JSON);
}

#[test]
fn a_200_with_a_70_kib_header_in_three_segments_is_sent_with_its_body() {
    // One header line of 70 KiB (over the old client's 64 KiB head limit, well under
    // hyper's ~400 KiB buffer), in three writes a moment apart: the head arrives in parts.
    let response = head(
        "200 OK",
        &format!(
            "content-length: 11\r\nx-padding: {}\r\n",
            "p".repeat(70 * 1024)
        ),
    ) + OK_JSON;
    let third = response.len() / 3;
    let pause = Duration::from_millis(100);
    Case::plain(
        Script::new()
            .write(&response[..third])
            .pause(pause)
            .write(&response[third..2 * third])
            .pause(pause)
            .write(&response[2 * third..]),
    )
    .assert_recorded("sent", Some(200))
    .assert_response(OK_JSON);
}

#[test]
fn a_chunked_200_with_trailers_is_sent_with_its_body() {
    Case::plain(
        Script::new()
            .write(head(
                "200 OK",
                "transfer-encoding: chunked\r\ntrailer: x-checksum\r\n",
            ))
            .write("5\r\n{\"ok\"\r\n6;ext=1\r\n:true}\r\n0\r\nx-checksum: 5d41\r\n\r\n"),
    )
    .assert_recorded("sent", Some(200))
    .assert_response(OK_JSON);
}

#[test]
fn a_100_continue_before_the_200_is_skipped_and_the_send_is_sent() {
    Case::plain(
        Script::new()
            .write("HTTP/1.1 100 Continue\r\n\r\n")
            .pause(Duration::from_millis(100))
            .write(ok()),
    )
    .assert_recorded("sent", Some(200))
    .assert_response(OK_JSON);
}

#[test]
fn a_content_length_said_twice_is_sent_when_its_values_agree_and_unknown_when_not() {
    // `Content-Length: 11, 11`, and two `Content-Length: 11` lines, are one length said twice
    // (RFC 9110 8.6 lets a recipient take it). hyper's client takes both: it reads every
    // value of every Content-Length line, split on commas, and accepts them when all are
    // equal (hyper 1.12, `headers::content_length_parse_all_values`, from
    // `role::Client::decoder`). A differing value (`11, 12`) fails the head instead, after the
    // request was written: `unknown`.
    for lengths in [
        "content-length: 11, 11\r\n",
        "content-length: 11\r\ncontent-length: 11\r\n",
    ] {
        Case::plain(Script::new().write(head("200 OK", lengths) + OK_JSON))
            .assert_recorded("sent", Some(200))
            .assert_response(OK_JSON);
    }
    Case::plain(Script::new().write(head("200 OK", "content-length: 11, 12\r\n") + OK_JSON))
        .assert_recorded("unknown", None);
}

// Ambiguous: the request was written and no status line came back.

#[test]
fn a_server_that_reads_the_request_and_never_answers_leaves_it_unknown_after_one_request() {
    let case = Case::plain(Script::new().hold());
    case.assert_recorded("unknown", None);
    assert!(case.row.error.is_some(), "the reason is recorded\n{case}");
}

#[test]
fn a_server_that_reads_the_request_and_closes_leaves_it_unknown_after_one_request() {
    let case = Case::plain(Script::new().close());
    case.assert_recorded("unknown", None);
    assert!(case.row.error.is_some(), "the reason is recorded\n{case}");
}

// Never written: no connection, so retried and never `unknown`.

#[test]
fn a_tls_handshake_that_never_completes_is_not_sent_even_past_the_request_timeout() {
    // The server accepts the TCP connection and never answers the ClientHello. The connect
    // timeout (10 s) is longer than the request timeout (2 s): the handshake is cut at 2 s
    // all the same, as a connection that failed, since no request could have been written.
    let server = Silent::start();
    let sb = Sandbox::new(&[mobile(1)]);
    let run = sb.apply_with(
        &server.url(),
        &[trusting_the_private_ca()],
        &["--connect-timeout", "10"],
    );
    let row = sb.row();
    let shown = format!(
        "{row:#?}\n--- stdout\n{}--- stderr\n{}",
        run.stdout, run.stderr
    );
    run.assert_code(1);
    assert_eq!(row.status, "failed", "{shown}");
    assert_eq!(row.attempts, 5, "retried as not sent: {shown}");
    let error = row.error.clone().unwrap_or_default();
    assert!(
        error.starts_with("cannot connect to localhost:") && error.contains("timed out"),
        "{shown}"
    );
    let received = server.received();
    assert_eq!(received.len(), 5, "one connection per attempt: {shown}");
    for bytes in &received {
        // A TLS handshake record (the ClientHello), and nothing else.
        assert_eq!(bytes.first(), Some(&0x16), "{bytes:?}");
        assert!(
            !bytes.windows(4).any(|w| w == b"POST"),
            "request bytes reached the server"
        );
    }
}

// Redirects: answered, so `failed`, and never followed.

#[test]
fn redirects_are_failed_with_their_location_and_never_followed() {
    for status in ["301 Moved Permanently", "307 Temporary Redirect"] {
        // Where the redirect points: a server that would accept the message.
        let elsewhere = RawServer::start(Script::new().write(ok()));
        let location = format!("{}{SINGLE_PATH}?moved=1", elsewhere.url());
        // The body does not repeat the location: it must come from the header.
        let body = r#"{"error":"moved"}"#;
        let case = Case::plain(Script::new().write(
            head(
                status,
                &format!("location: {location}\r\ncontent-length: {}\r\n", body.len()),
            ) + body,
        ));
        let code: i64 = status[..3].parse().unwrap();
        case.assert_recorded("failed", Some(code));
        let recorded = format!(
            "{} {}",
            case.row.response.as_deref().unwrap_or_default(),
            case.row.error.as_deref().unwrap_or_default()
        );
        assert!(
            recorded.contains(&location),
            "{status}: the Location is in the row's response or error\n{case}"
        );
        assert_eq!(
            elsewhere.request_count(),
            0,
            "{status}: the redirect was followed\n{case}"
        );
    }
}

// TLS: a private CA, trusted or not, and HTTP/2.

#[test]
fn a_server_certified_by_a_private_ca_trusted_through_ssl_cert_file_is_sent_to() {
    Case::tls(Script::new().write(ok()))
        .assert_recorded("sent", Some(200))
        .assert_response(OK_JSON);
}

#[test]
fn a_server_certified_by_a_private_ca_trusted_through_ssl_cert_dir_is_sent_to() {
    // A directory as a person makes one: the CA under a name of its own (no `openssl
    // rehash` links), beside a file that holds no certificate. Every file is read.
    let certs = tempfile::tempdir().expect("tempdir");
    std::fs::copy(private_ca::ca_file(), certs.path().join("company-ca.pem")).unwrap();
    std::fs::write(certs.path().join("README"), "The company's CA.\n").unwrap();
    let server = RawServer::start_tls(Script::new().write(ok()));
    let sb = Sandbox::new(&[mobile(1)]);
    let run = sb.apply(
        &server.url(),
        &[("SSL_CERT_DIR", certs.path().display().to_string())],
    );
    let row = sb.row();
    assert_eq!(
        (row.status.as_str(), row.http_status, server.request_count()),
        ("sent", Some(200), 1),
        "{row:#?}\n--- stdout\n{}--- stderr\n{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn a_server_certified_by_a_private_ca_not_trusted_stops_the_run_and_gets_no_request() {
    let server = RawServer::start_tls(Script::new().write(ok()));
    let sb = Sandbox::new(&[mobile(1)]);
    let run = sb.apply(&server.url(), &[]);
    run.assert_code(1);
    assert!(run.stdout.contains("Stopped:"), "{}", run.stdout);
    let row = sb.row();
    assert_eq!(row.status, "failed", "{row:#?}");
    let error = row.error.clone().unwrap_or_default();
    assert!(
        error.to_lowercase().contains("certificate"),
        "the reason names the certificate: {row:#?}"
    );
    assert!(server.connections() >= 1, "the client reached the server");
    assert_eq!(
        server.request_count(),
        0,
        "a request passed a rejected certificate"
    );
}

#[test]
fn an_http2_only_server_is_sent_to_over_http2() {
    let server = H2Server::start();
    let sb = Sandbox::new(&[mobile(1)]);
    let run = sb.apply(&server.url(), &[trusting_the_private_ca()]);
    let row = sb.row();
    assert_eq!(
        (row.status.as_str(), row.http_status),
        ("sent", Some(200)),
        "{row:#?}\n--- stdout\n{}--- stderr\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(row.response.as_deref(), Some(crate::h2_server::OK_BODY));
    assert_eq!(server.requests_for(&mobile(1)), 1);
    assert_eq!(server.request_count(), 1);
}

// Proxies, from the environment.

/// Three recipients against the mock API on plain-HTTP loopback, with `env`.
fn three_sends_to_the_mock(env: &[(&str, String)]) -> (Sandbox, MockApi, Run) {
    let mock = MockApi::start();
    let sb = Sandbox::new(&[mobile(1), mobile(2), mobile(3)]);
    let run = sb.apply(&mock.url(), env);
    (sb, mock, run)
}

#[track_caller]
fn assert_all_sent(sb: &Sandbox, mock: &MockApi, run: &Run) {
    run.assert_code(0);
    let rows = sb.rows();
    assert_eq!(rows.len(), 3);
    for row in &rows {
        assert_eq!(row.status, "sent", "{row:#?}");
        assert_eq!(row.attempts, 1, "{row:#?}");
        assert_eq!(mock.deliveries(&row.recipient), 1, "{}", row.key);
    }
    assert_eq!(mock.request_count(), 3);
}

#[test]
fn http_proxy_carries_every_request_to_a_plain_http_api() {
    let proxy = Proxy::start();
    let (sb, mock, run) = three_sends_to_the_mock(&[("HTTP_PROXY", proxy.url())]);
    assert_all_sent(&sb, &mock, &run);
    let target = format!("{}{SINGLE_PATH}", mock.url());
    assert_eq!(
        proxy.forwarded(),
        vec![target; 3],
        "every request went through the proxy"
    );
    assert!(proxy.tunnels().is_empty(), "{:?}", proxy.tunnels());
}

#[test]
fn https_proxy_carries_https_requests_through_connect_tunnels() {
    let proxy = Proxy::start();
    let server = RawServer::start_tls(Script::new().write(ok()));
    let sb = Sandbox::new(&[mobile(1)]);
    let run = sb.apply(
        &server.url(),
        &[trusting_the_private_ca(), ("HTTPS_PROXY", proxy.url())],
    );
    let row = sb.row();
    assert_eq!(
        (row.status.as_str(), row.http_status),
        ("sent", Some(200)),
        "{row:#?}\n--- stdout\n{}--- stderr\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(server.request_count(), 1);
    assert_eq!(
        proxy.tunnels(),
        vec![format!("localhost:{}", server.port())],
        "one tunnel, to the API's host and port"
    );
    assert!(proxy.forwarded().is_empty(), "{:?}", proxy.forwarded());
}

#[test]
fn no_proxy_sends_directly_even_with_every_proxy_variable_set() {
    let proxy = Proxy::start();
    let (sb, mock, run) = three_sends_to_the_mock(&[
        ("HTTP_PROXY", proxy.url()),
        ("HTTPS_PROXY", proxy.url()),
        ("ALL_PROXY", proxy.url()),
        ("NO_PROXY", "127.0.0.1".to_owned()),
    ]);
    assert_all_sent(&sb, &mock, &run);
    assert_eq!(proxy.connections(), 0, "a request went through the proxy");
}

// The proxy's password: used, and never shown.

/// Neither the run's output, nor `status`'s, nor any file of the ledger shows the proxy
/// password.
#[track_caller]
fn assert_password_hidden(sb: &Sandbox, run: &Run) {
    run.assert_hides(PROXY_PASSWORD);
    sb.status().assert_code(0).assert_hides(PROXY_PASSWORD);
    let files = sb.ledger_files_contain(PROXY_PASSWORD);
    assert!(files.is_empty(), "the proxy password is in {files:?}");
}

#[test]
fn a_proxy_password_is_used_and_never_shown() {
    let proxy = Proxy::with_basic_auth("user", PROXY_PASSWORD);
    let mock = MockApi::start();
    let sb = Sandbox::new(&[mobile(1)]);
    let url = proxy.url_with_credentials("user", PROXY_PASSWORD);
    let run = sb.apply(&mock.url(), &[("HTTP_PROXY", url)]);
    let row = sb.row();
    assert_eq!(row.status, "sent", "{row:#?}\n{}", run.stdout);
    assert_eq!(
        (proxy.authorized(), proxy.refused()),
        (1, 0),
        "the request carried the credentials"
    );
    assert_eq!(mock.deliveries(&mobile(1)), 1);
    assert_password_hidden(&sb, &run);
}

#[test]
fn a_proxy_password_is_never_shown_when_the_proxy_refuses_it_with_407() {
    let proxy = Proxy::with_basic_auth("user", "another-password");
    let mock = MockApi::start();
    let sb = Sandbox::new(&[mobile(1)]);
    let url = proxy.url_with_credentials("user", PROXY_PASSWORD);
    let run = sb.apply(&mock.url(), &[("HTTP_PROXY", url)]);
    let row = sb.row();
    assert_eq!(row.status, "failed", "{row:#?}");
    // The proxy's answer, not the API's: named, and the run stopped without retrying.
    let named = format!(
        "the proxy http://127.0.0.1:{} (from HTTP_PROXY) refused the request to {}: HTTP 407",
        proxy.port(),
        mock.url().trim_start_matches("http://")
    );
    let error = row.error.clone().unwrap_or_default();
    assert!(error.starts_with(&named), "{named}\n{row:#?}");
    assert!(run.stdout.contains("Stopped: "), "{}", run.stdout);
    assert_eq!(proxy.refused(), 1, "the proxy was asked again");
    assert_eq!(mock.request_count(), 0, "a request went around the proxy");
    assert_password_hidden(&sb, &run);
}

#[test]
fn a_proxy_password_is_never_shown_when_the_proxy_refuses_a_tunnel_with_407() {
    let proxy = Proxy::with_basic_auth("user", "another-password");
    let server = RawServer::start_tls(Script::new().write(ok()));
    let sb = Sandbox::new(&[mobile(1)]);
    let url = proxy.url_with_credentials("user", PROXY_PASSWORD);
    let run = sb.apply(
        &server.url(),
        &[trusting_the_private_ca(), ("HTTPS_PROXY", url)],
    );
    let row = sb.row();
    assert_ne!(row.status, "sent", "{row:#?}");
    let error = row.error.clone().unwrap_or_default();
    assert!(
        error.starts_with(&format!(
            "the proxy http://127.0.0.1:{} (from HTTPS_PROXY) opened no tunnel to localhost:{}: ",
            proxy.port(),
            server.port()
        )),
        "{row:#?}"
    );
    assert!(error.contains("HTTP 407"), "{row:#?}");
    assert_eq!(row.status, "failed", "{row:#?}");
    // Every tunnel would be refused the same way: the run stopped without retrying.
    assert!(run.stdout.contains("Stopped: "), "{}", run.stdout);
    assert_eq!(proxy.refused(), 1, "the proxy was asked again");
    assert_eq!(
        server.connections(),
        0,
        "a connection went around the proxy"
    );
    assert_password_hidden(&sb, &run);
}

#[test]
fn a_proxy_password_is_never_shown_when_the_proxy_is_not_listening() {
    // An HTTP proxy, and a SOCKS one (whose reason hyper-util does not pass on).
    for (variable, scheme) in [("HTTP_PROXY", "http"), ("ALL_PROXY", "socks5")] {
        let mock = MockApi::start();
        let sb = Sandbox::new(&[mobile(1)]);
        let port = closed_port();
        let url = format!("{scheme}://user:{PROXY_PASSWORD}@127.0.0.1:{port}");
        let run = sb.apply(&mock.url(), &[(variable, url)]);
        let row = sb.row();
        assert_eq!(row.status, "failed", "{row:#?}");
        // The proxy, not the API, is what could not be reached.
        let named =
            format!("cannot connect to the proxy {scheme}://127.0.0.1:{port} (from {variable}): ");
        let error = row.error.clone().unwrap_or_default();
        assert!(error.starts_with(&named), "{row:#?}");
        assert!(error.ends_with("(not sent)"), "{row:#?}");
        assert!(run.stdout.contains(&named), "{}", run.stdout);
        assert_eq!(mock.request_count(), 0, "a request went around the proxy");
        assert_password_hidden(&sb, &run);
    }
}

#[test]
fn an_https_proxy_that_is_not_listening_is_named_and_the_send_retried() {
    let server = RawServer::start_tls(Script::new().write(ok()));
    let sb = Sandbox::new(&[mobile(1)]);
    let port = closed_port();
    let url = format!("http://user:{PROXY_PASSWORD}@127.0.0.1:{port}");
    let run = sb.apply(
        &server.url(),
        &[trusting_the_private_ca(), ("https_proxy", url)],
    );
    let row = sb.row();
    assert_eq!(
        (row.status.as_str(), row.attempts),
        ("failed", 5),
        "{row:#?}"
    );
    let error = row.error.clone().unwrap_or_default();
    assert!(
        error.starts_with(&format!(
            "cannot connect to the proxy http://127.0.0.1:{port} (from https_proxy): "
        )) && error.contains("onnection refused"),
        "{row:#?}"
    );
    assert_eq!(
        server.connections(),
        0,
        "a connection went around the proxy"
    );
    assert_password_hidden(&sb, &run);
}

#[test]
fn an_unusable_proxy_url_is_refused_before_anything_is_opened() {
    let server = RawServer::start_tls(Script::new().write(ok()));
    for (variable, value, shown, reason) in [
        (
            "HTTPS_PROXY",
            format!("http://user:{PROXY_PASSWORD}@bad host:3128"),
            "http://user:***@bad host:3128".to_owned(),
            "not a URL",
        ),
        (
            "ALL_PROXY",
            "ftp://proxy.example:21".to_owned(),
            "ftp://proxy.example:21".to_owned(),
            "`ftp://` is not a proxy scheme",
        ),
    ] {
        let sb = Sandbox::new(&[mobile(1)]);
        let run = sb.apply(
            &server.url(),
            &[trusting_the_private_ca(), (variable, value)],
        );
        run.assert_code(1);
        assert!(
            run.stderr.contains(&format!(
                "{variable} `{shown}` is not a proxy URL campaignctl can use: {reason}"
            )),
            "{}",
            run.stderr
        );
        run.assert_hides(PROXY_PASSWORD);
        assert!(!sb.state().exists(), "{variable}: a ledger was created");
    }
    assert_eq!(server.connections(), 0, "a request went direct");
}

#[test]
fn a_socks5h_proxy_carries_https_requests_and_resolves_the_apis_name() {
    let proxy = Socks5::start();
    let server = RawServer::start_tls(Script::new().write(ok()));
    let sb = Sandbox::new(&[mobile(1)]);
    let run = sb.apply(
        &server.url(),
        &[
            trusting_the_private_ca(),
            ("HTTPS_PROXY", proxy.url("socks5h")),
        ],
    );
    let row = sb.row();
    assert_eq!(
        (row.status.as_str(), row.http_status),
        ("sent", Some(200)),
        "{row:#?}\n--- stdout\n{}--- stderr\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(server.request_count(), 1);
    assert_eq!(
        proxy.targets(),
        vec![format!("localhost:{}", server.port())]
    );
}

#[test]
fn a_socks5_all_proxy_carries_plain_http_requests() {
    let proxy = Socks5::start();
    let (sb, mock, run) = three_sends_to_the_mock(&[("ALL_PROXY", proxy.url("socks5"))]);
    assert_all_sent(&sb, &mock, &run);
    let targets = proxy.targets();
    assert!(!targets.is_empty(), "nothing went through the proxy");
    let direct = mock.addr().to_string();
    assert!(targets.iter().all(|t| *t == direct), "{targets:?}");
}
