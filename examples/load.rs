//! A minimal HTTP load generator, the benchmark's fallback when `wrk` is not installed:
//! CONNECTIONS tasks each POST the same JSON body in a loop over keep-alive connections for
//! SECONDS, then prints `Requests/sec: N` (as wrk does).
//!
//! `cargo run --release --example load -- URL CONNECTIONS SECONDS`
//!
//! It uses reqwest, campaignctl's own HTTP client, so it measures the server and the client
//! library, not campaignctl's ledger and planning.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BODY: &str = r#"{"to":{"mobile":"919000000001","name":"Runner"},"fb_template":"bench_template","language":"en","params":["Runner","B-000001"],"tag":"bench"}"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, connections, seconds) = match args.as_slice() {
        [url, c, s] => match (c.parse::<usize>(), s.parse::<f64>()) {
            (Ok(c), Ok(s)) => (url.clone(), c.max(1), s),
            _ => usage(),
        },
        _ => usage(),
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let elapsed = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .tcp_nodelay(true)
            .build()
            .expect("HTTP client");
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(seconds);
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (client, url, done, errors) =
                (client.clone(), url.clone(), done.clone(), errors.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let sent = client
                        .post(&url)
                        .header("x-tenant-api-key", "bench-key")
                        .header("content-type", "application/json")
                        .body(BODY)
                        .send()
                        .await;
                    match sent {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
        start.elapsed()
    });
    let done = done.load(Ordering::Relaxed);
    println!(
        "{done} requests in {:.2}s, {} errors",
        elapsed.as_secs_f64(),
        errors.load(Ordering::Relaxed)
    );
    println!("Requests/sec: {:.2}", done as f64 / elapsed.as_secs_f64());
}

fn usage() -> ! {
    eprintln!("usage: load URL CONNECTIONS SECONDS");
    std::process::exit(2);
}
