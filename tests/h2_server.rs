//! An HTTPS server on loopback that speaks HTTP/2 only: ALPN offers `h2` and nothing else
//! (a client that offers only `http/1.1` fails the handshake), and hyper's HTTP/2 server
//! answers. POSTs to the two message paths get 200 `{"ok":true}` and are counted, per
//! recipient (`to.mobile`) and in total; anything else gets a 404. The certificate is the
//! private CA's `localhost` one (tests/private_ca.rs).

use std::sync::{Arc, Mutex, MutexGuard};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_rustls::TlsAcceptor;

use crate::loopback::Loopback;
use crate::mock_api::{BLAST_PATH, SINGLE_PATH};
use crate::private_ca;

pub const OK_BODY: &str = r#"{"ok":true}"#;

/// One message request as the server received it.
#[derive(Debug, Clone)]
pub struct H2Request {
    pub path: String,
    pub version: Version,
    pub recipient: Option<String>,
}

/// A running HTTP/2-only server; stopped when dropped.
pub struct H2Server {
    server: Loopback,
    requests: Arc<Mutex<Vec<H2Request>>>,
}

impl H2Server {
    pub fn start() -> H2Server {
        let tls = TlsAcceptor::from(private_ca::server_config(&[b"h2"]));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let shared = requests.clone();
        let server = Loopback::serve("h2-server", move |tcp| {
            let (tls, requests) = (tls.clone(), shared.clone());
            async move {
                let Ok(stream) = tls.accept(tcp).await else {
                    return;
                };
                let service = service_fn(move |request| handle(requests.clone(), request));
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
        });
        H2Server { server, requests }
    }

    /// `https://localhost:PORT`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.server.port())
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Every message request so far.
    pub fn requests(&self) -> Vec<H2Request> {
        self.lock().clone()
    }

    pub fn request_count(&self) -> usize {
        self.lock().len()
    }

    pub fn requests_for(&self, mobile: &str) -> usize {
        self.lock()
            .iter()
            .filter(|r| r.recipient.as_deref() == Some(mobile))
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<H2Request>> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn handle(
    requests: Arc<Mutex<Vec<H2Request>>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = request.uri().path().to_owned();
    let version = request.version();
    let message =
        request.method() == hyper::Method::POST && (path == SINGLE_PATH || path == BLAST_PATH);
    let body = request.into_body().collect().await?.to_bytes();
    if !message {
        return Ok(answer(StatusCode::NOT_FOUND, r#"{"error":"not found"}"#));
    }
    let recipient = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.pointer("/to/mobile")?.as_str().map(str::to_owned));
    requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(H2Request {
            path,
            version,
            recipient,
        });
    Ok(answer(StatusCode::OK, OK_BODY))
}

fn answer(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .expect("a valid response")
}

/// The server's own checks, with hyper's HTTP/2 client over rustls.
mod checks {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use hyper::{Request, StatusCode, Version};
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use rustls::pki_types::ServerName;
    use tokio_rustls::TlsConnector;

    use super::{H2Server, OK_BODY};
    use crate::mock_api::SINGLE_PATH;
    use crate::private_ca;

    type ClientTls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

    async fn connect(server: &H2Server, alpn: &[&[u8]]) -> std::io::Result<ClientTls> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.port())).await?;
        let connector = TlsConnector::from(private_ca::client_config(alpn));
        connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
    }

    #[tokio::test]
    async fn answers_and_counts_posts_over_http2() {
        let server = H2Server::start();
        let tls = connect(&server, &[b"h2", b"http/1.1"]).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(connection);
        for (path, expected) in [
            (SINGLE_PATH, StatusCode::OK),
            ("/else", StatusCode::NOT_FOUND),
        ] {
            let request = Request::post(format!("https://localhost{path}"))
                .body(Full::new(Bytes::from_static(
                    br#"{"to":{"mobile":"919000000001"}}"#,
                )))
                .unwrap();
            let response = sender.send_request(request).await.unwrap();
            assert_eq!(response.status(), expected);
            assert_eq!(response.version(), Version::HTTP_2);
            let body = response.into_body().collect().await.unwrap().to_bytes();
            if expected == StatusCode::OK {
                assert_eq!(body, OK_BODY.as_bytes());
            }
        }
        assert_eq!(server.request_count(), 1);
        assert_eq!(server.requests_for("919000000001"), 1);
        let received = &server.requests()[0];
        assert_eq!(
            (received.path.as_str(), received.version),
            (SINGLE_PATH, Version::HTTP_2)
        );
    }

    #[tokio::test]
    async fn refuses_a_client_that_offers_only_http_1_1() {
        let server = H2Server::start();
        let e = connect(&server, &[b"http/1.1"]).await.unwrap_err();
        assert!(
            e.to_string().contains("NoApplicationProtocol"),
            "expected an ALPN refusal: {e}"
        );
        assert_eq!(server.request_count(), 0);
    }
}
