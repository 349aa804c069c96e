//! A minimal HTTP load generator for bench/apply.sh: CONNECTIONS tasks each POST the same
//! JSON body in a loop over keep-alive connections for SECONDS, then print
//! `Requests/sec: N` (as wrk does).
//!
//! `cargo run --release --example load -- URL CONNECTIONS SECONDS [hyper|pooled] [THREADS]`
//!
//! - `hyper` (default): one raw hyper HTTP/1 connection per task, no pool: the "own hyper
//!   loop" of the apply benchmark, close to wrk.
//! - `pooled`: campaignctl's own HTTP client (src/http_client.rs: its pool, timeouts and
//!   headers) alone: the ceiling of what apply could reach with no ledger and no planning.
//!
//! THREADS: tokio worker threads (default: one per core; 1 = a current-thread runtime).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use campaignctl::http_client::HttpClient;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use hyper_util::rt::TokioIo;

const BODY: &str = r#"{"to":{"mobile":"919000000001","name":"Runner"},"fb_template":"bench_template","language":"en","params":["Runner","B-000001"],"tag":"bench"}"#;

#[derive(Clone, Copy)]
enum Client {
    Hyper,
    Pooled,
}

#[derive(Default)]
struct Counts {
    done: AtomicU64,
    errors: AtomicU64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, connections, seconds) = match args.get(..3) {
        Some([url, c, s]) => match (c.parse::<usize>(), s.parse::<f64>()) {
            (Ok(c), Ok(s)) => (url.clone(), c.max(1), s),
            _ => usage(),
        },
        _ => usage(),
    };
    let client = match args.get(3).map(String::as_str) {
        None | Some("hyper") => Client::Hyper,
        Some("pooled") => Client::Pooled,
        Some(_) => usage(),
    };
    let threads = match args.get(4).map(|t| t.parse::<usize>()) {
        None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        Some(Ok(t)) if t > 0 => t,
        Some(_) => usage(),
    };
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    let counts = Arc::new(Counts::default());
    let elapsed = runtime.block_on(async {
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(seconds);
        let mut tasks = Vec::new();
        match client {
            Client::Hyper => {
                let uri: hyper::Uri = url.parse().expect("URL");
                let host = uri.host().expect("URL host").to_owned();
                let port = uri.port_u16().unwrap_or(80);
                for _ in 0..connections {
                    let (uri, host, counts) = (uri.clone(), host.clone(), counts.clone());
                    tasks.push(tokio::spawn(hyper_loop(uri, host, port, deadline, counts)));
                }
            }
            Client::Pooled => {
                let uri: hyper::Uri = url.parse().expect("URL");
                let client = Arc::new(
                    HttpClient::new(
                        &uri,
                        Duration::from_secs(10),
                        Duration::from_secs(30),
                        connections,
                    )
                    .expect("HTTP client"),
                );
                let key = HeaderValue::from_static("bench-key");
                for _ in 0..connections {
                    let (client, uri, key, counts) =
                        (client.clone(), uri.clone(), key.clone(), counts.clone());
                    tasks.push(tokio::spawn(async move {
                        while Instant::now() < deadline {
                            let body = Bytes::from_static(BODY.as_bytes());
                            match client.post_json(&uri, &key, body).await {
                                Ok(response) if response.status.is_success() => {
                                    counts.done.fetch_add(1, Ordering::Relaxed);
                                }
                                _ => {
                                    counts.errors.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                    }));
                }
            }
        }
        for task in tasks {
            let _ = task.await;
        }
        start.elapsed()
    });
    let done = counts.done.load(Ordering::Relaxed);
    println!(
        "{done} requests in {:.2}s, {} errors",
        elapsed.as_secs_f64(),
        counts.errors.load(Ordering::Relaxed)
    );
    println!("Requests/sec: {:.2}", done as f64 / elapsed.as_secs_f64());
}

/// One keep-alive connection, one request at a time, reconnecting after an error.
async fn hyper_loop(
    uri: hyper::Uri,
    host: String,
    port: u16,
    deadline: Instant,
    counts: Arc<Counts>,
) {
    while Instant::now() < deadline {
        let Ok(stream) = tokio::net::TcpStream::connect((host.as_str(), port)).await else {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, connection)) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
        else {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        tokio::spawn(connection);
        while Instant::now() < deadline {
            let request = Request::post(&uri)
                .header("host", &host)
                .header("x-tenant-api-key", "bench-key")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(BODY.as_bytes())))
                .expect("request");
            match sender.send_request(request).await {
                Ok(response) if response.status().is_success() => {
                    let _ = response.into_body().collect().await;
                    counts.done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(_) => {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: load URL CONNECTIONS SECONDS [hyper|pooled] [THREADS]");
    std::process::exit(2);
}
