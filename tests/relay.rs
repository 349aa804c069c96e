//! A TCP relay on loopback between the client and a server (the mock API): it forwards bytes
//! both ways, and can be told to blackhole a connection that has been idle (no byte either
//! way) for longer than a limit: from then on it forwards nothing and closes nothing, like a
//! NAT or a firewall that dropped the connection's mapping without telling either end. A
//! client that sends on such a connection gets no answer and no error, only its timeout.
//!
//! ```ignore
//! let relay = Relay::start(mock.addr(), Some(Duration::from_secs(2)));
//! // ... CHITCHAT_BASE_URL = relay.url() ...
//! assert!(relay.wait_for_blackholed(1, WAIT));
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::loopback::Loopback;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Client connections accepted (each relayed over its own upstream connection).
    pub connections: usize,
    /// Connections that went silent after being idle too long.
    pub blackholed: usize,
}

#[derive(Default)]
struct Shared {
    counts: Mutex<Counts>,
    changed: Condvar,
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut Counts)) {
        change(&mut self.counts.lock().unwrap_or_else(|e| e.into_inner()));
        self.changed.notify_all();
    }
}

/// A running relay; stopped when dropped (which closes every connection, blackholed ones
/// too).
pub struct Relay {
    server: Loopback,
    shared: Arc<Shared>,
}

impl Relay {
    /// Relays to `upstream`; with `idle_limit`, a connection idle for longer than that is
    /// blackholed.
    pub fn start(upstream: SocketAddr, idle_limit: Option<Duration>) -> Relay {
        let shared = Arc::new(Shared::default());
        let serving = shared.clone();
        let server = Loopback::serve("relay", move |client| {
            relay(client, upstream, idle_limit, serving.clone())
        });
        Relay { server, shared }
    }

    /// `http://127.0.0.1:PORT`, for `CHITCHAT_BASE_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    pub fn counts(&self) -> Counts {
        *self.lock()
    }

    /// Waits until at least `n` connections were blackholed; returns whether they were
    /// within `timeout`.
    pub fn wait_for_blackholed(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut counts = self.lock();
        while counts.blackholed < n {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            counts = self
                .shared
                .changed
                .wait_timeout(counts, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.shared.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    idle_limit: Option<Duration>,
    shared: Arc<Shared>,
) {
    shared.update(|c| c.connections += 1);
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let (mut from_client, mut from_server) = ([0u8; 16 * 1024], [0u8; 16 * 1024]);
    let (mut client_open, mut server_open) = (true, true);
    let mut last_byte = tokio::time::Instant::now();
    while client_open || server_open {
        // Without a limit, a deadline that never comes.
        let silent_at = last_byte + idle_limit.unwrap_or(Duration::from_secs(86_400));
        tokio::select! {
            read = client_read.read(&mut from_client), if client_open => match read {
                Ok(n) if n > 0 => {
                    last_byte = tokio::time::Instant::now();
                    if server_write.write_all(&from_client[..n]).await.is_err() {
                        return;
                    }
                }
                // The client's end (or an error): pass the half-close on.
                _ => {
                    client_open = false;
                    let _ = server_write.shutdown().await;
                }
            },
            read = server_read.read(&mut from_server), if server_open => match read {
                Ok(n) if n > 0 => {
                    last_byte = tokio::time::Instant::now();
                    if client_write.write_all(&from_server[..n]).await.is_err() {
                        return;
                    }
                }
                _ => {
                    server_open = false;
                    let _ = client_write.shutdown().await;
                }
            },
            _ = tokio::time::sleep_until(silent_at), if idle_limit.is_some() => {
                shared.update(|c| c.blackholed += 1);
                // Keep all four halves, read nothing, write nothing, close nothing: until the
                // relay is dropped.
                let _kept = (client_read, client_write, server_read, server_write);
                std::future::pending::<()>().await;
                return;
            }
        }
    }
}

/// The relay's own checks, with plain sockets against the mock API.
mod checks {
    use std::io::{ErrorKind, Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    use super::{Counts, Relay};
    use crate::mock_api::{MockApi, SINGLE_PATH};

    fn post(mobile: &str) -> String {
        let body = format!(r#"{{"to":{{"mobile":"{mobile}"}}}}"#);
        format!(
            "POST {SINGLE_PATH} HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    /// Reads one answer of the mock (it frames bodies with content-length), or fails.
    fn read_answer(stream: &mut TcpStream) -> std::io::Result<String> {
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            bytes.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    return Ok(text);
                }
            }
        }
    }

    #[test]
    fn forwards_both_ways_then_blackholes_an_idle_connection_without_closing_it() {
        let mock = MockApi::start();
        let relay = Relay::start(mock.addr(), Some(Duration::from_millis(500)));
        let mut stream = TcpStream::connect(("127.0.0.1", relay.port())).unwrap();
        stream.write_all(post("919000000001").as_bytes()).unwrap();
        let answer = read_answer(&mut stream).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert_eq!(mock.deliveries("919000000001"), 1);

        let idle_since = Instant::now();
        assert!(relay.wait_for_blackholed(1, Duration::from_secs(10)));
        assert!(idle_since.elapsed() >= Duration::from_millis(400));
        // The same connection now swallows a request: no answer, no close, no reset.
        stream.write_all(post("919000000002").as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let e = read_answer(&mut stream).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            "{e}"
        );
        assert_eq!(mock.request_count(), 1, "nothing reached the mock");

        // A new connection is relayed as usual.
        let mut fresh = TcpStream::connect(("127.0.0.1", relay.port())).unwrap();
        fresh.write_all(post("919000000003").as_bytes()).unwrap();
        assert!(
            read_answer(&mut fresh)
                .unwrap()
                .starts_with("HTTP/1.1 200 OK")
        );
        assert_eq!(
            relay.counts(),
            Counts {
                connections: 2,
                blackholed: 1
            }
        );
    }

    #[test]
    fn without_an_idle_limit_nothing_is_blackholed() {
        let mock = MockApi::start();
        let relay = Relay::start(mock.addr(), None);
        let mut stream = TcpStream::connect(("127.0.0.1", relay.port())).unwrap();
        for mobile in ["919000000001", "919000000002"] {
            stream.write_all(post(mobile).as_bytes()).unwrap();
            assert!(
                read_answer(&mut stream)
                    .unwrap()
                    .starts_with("HTTP/1.1 200 OK")
            );
        }
        assert!(!relay.wait_for_blackholed(1, Duration::from_millis(300)));
        assert_eq!(relay.counts().connections, 1);
    }
}
