//! CPU cost of the SQLite ledger's `claim` and `finish`, driven the way `apply` drives them:
//! fresh sends claimed in batches of CLAIM_BATCH (256), and their outcomes (`sent`, HTTP 200,
//! a short body) written in batches of FINISH_BATCH (128) as they come in, with the next
//! claims in between. Each run uses a fresh ledger file on disk (the real fsyncs); the CPU
//! time is this thread's (user + system, CLOCK_THREAD_CPUTIME_ID), so other work on
//! the machine does not count. Prints the median over RUNS runs, in µs per send.
//!
//! `cargo run --release --example ledger_bench -- [ROWS [RUNS [DIR]]]`
//! (defaults: 100000 sends, 5 runs, a temporary directory under the current one).
//! Knobs in the environment: CLAIM_BATCH=256 FINISH_BATCH=128 SPREAD=1 (each outcome is one
//! of the SPREAD oldest sends still unfinished, at random: 1 finishes in claim order, 64 is
//! like `apply --concurrency 64`) PRELOAD=0 (rows already in the ledger, all `sent`, before
//! each run's measured part) KEEP=1 (keep the ledger files). `apply --rate 0` itself writes
//! outcomes in batches of whatever came in meanwhile: about 18 on average on 2 cores
//! (FINISH_BATCH=16 SPREAD=64 is close to it).

use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use campaignctl::ledger::{Claim, Finished, Ledger, NewSend, SqliteLedger};
use campaignctl::planner::{Status, body_hash};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rows: usize = args.first().map_or(100_000, |a| a.parse().expect("ROWS"));
    let runs: usize = args.get(1).map_or(5, |a| a.parse().expect("RUNS"));
    let dir = args.get(2).map_or_else(|| ".".to_owned(), Clone::clone);
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .map_or(default, |v| v.parse().expect(name))
    };
    let settings = Settings {
        claim_batch: env("CLAIM_BATCH", 256).max(1),
        finish_batch: env("FINISH_BATCH", 128).max(1),
        spread: env("SPREAD", 1).max(1),
        preload: env("PRELOAD", 0),
    };
    let keep = env("KEEP", 0) == 1;
    let dir = tempfile::Builder::new()
        .prefix("ledger-bench-")
        .tempdir_in(&dir)
        .expect("temporary directory");
    println!(
        "ledger_bench: {rows} sends, claim batches of {}, finish batches of {} (spread {}), {} rows preloaded, {runs} runs, ledger in {}",
        settings.claim_batch,
        settings.finish_batch,
        settings.spread,
        settings.preload,
        dir.path().display()
    );

    let mut claim_us = Vec::new();
    let mut finish_us = Vec::new();
    let mut wall_s = Vec::new();
    for run in 0..runs {
        let path = dir.path().join(format!("run-{run}.db"));
        let r = one_run(&path, rows, &settings, run as u64);
        println!(
            "run {}: claim {:.2} µs/send, finish {:.2} µs/send, claim+finish {:.2} µs/send ({:.2}s wall)",
            run + 1,
            r.claim_us,
            r.finish_us,
            r.claim_us + r.finish_us,
            r.wall_s
        );
        claim_us.push(r.claim_us);
        finish_us.push(r.finish_us);
        wall_s.push(r.wall_s);
        if !keep {
            for suffix in ["", "-wal", "-shm"] {
                let mut name = path.as_os_str().to_owned();
                name.push(suffix);
                let _ = std::fs::remove_file(name);
            }
        }
    }
    if keep {
        println!("ledgers kept in {}", dir.keep().display());
    }
    let (c, f) = (median(&mut claim_us), median(&mut finish_us));
    println!(
        "median: claim {c:.2} µs/send, finish {f:.2} µs/send, claim+finish {:.2} µs/send (CPU, user+sys); {:.2}s wall",
        c + f,
        median(&mut wall_s)
    );
}

struct RunResult {
    claim_us: f64,
    finish_us: f64,
    wall_s: f64,
}

struct Settings {
    claim_batch: usize,
    finish_batch: usize,
    spread: usize,
    preload: usize,
}

fn one_run(path: &Path, rows: usize, settings: &Settings, seed: u64) -> RunResult {
    let mut ledger = SqliteLedger::open(path).expect("open ledger");
    if settings.preload > 0 {
        let sends: Vec<NewSend> = (0..settings.preload)
            .map(|i| new_send("preload", i))
            .collect();
        for chunk in sends.chunks(1000) {
            ledger.claim(chunk, &[]).expect("preload claim");
            let done: Vec<Finished> = chunk.iter().map(|s| sent(&s.key)).collect();
            ledger.finish(&done).expect("preload finish");
        }
    }
    // Built before the clock starts: `apply` builds them outside the ledger too.
    let sends: Vec<NewSend> = (0..rows).map(|i| new_send("bench", i)).collect();
    let mut rng = fastrand::Rng::with_seed(seed);
    // Claimed and not finished, oldest first.
    let mut pending: VecDeque<usize> = VecDeque::new();
    let mut outcomes = |pending: &mut VecDeque<usize>, n: usize| -> Vec<Finished> {
        (0..n)
            .map(|_| {
                let i = rng.usize(..settings.spread.min(pending.len()));
                sent(&sends[pending.remove(i).expect("pending send")].key)
            })
            .collect()
    };

    let (mut claim_ns, mut finish_ns) = (0u64, 0u64);
    let start = Instant::now();
    for (i, chunk) in sends.chunks(settings.claim_batch).enumerate() {
        let t = thread_cpu_ns();
        let claims = ledger.claim(chunk, &[]).expect("claim");
        claim_ns += thread_cpu_ns() - t;
        assert!(claims.iter().all(|c| *c == Claim::Claimed(None)));
        let first = i * settings.claim_batch;
        pending.extend(first..first + chunk.len());
        // Outcomes come in while the next batch is claimed: as many as all but the latest
        // batch.
        while pending.len() >= settings.claim_batch + settings.finish_batch {
            let batch = outcomes(&mut pending, settings.finish_batch);
            let t = thread_cpu_ns();
            ledger.finish(&batch).expect("finish");
            finish_ns += thread_cpu_ns() - t;
        }
    }
    while !pending.is_empty() {
        let n = settings.finish_batch.min(pending.len());
        let batch = outcomes(&mut pending, n);
        let t = thread_cpu_ns();
        ledger.finish(&batch).expect("finish");
        finish_ns += thread_cpu_ns() - t;
    }
    let wall_s = start.elapsed().as_secs_f64();

    let recorded = ledger
        .recorded("bench", campaignctl::schedule::Occurrence::Once)
        .expect("recorded");
    assert_eq!(recorded.len(), rows);
    assert!(recorded.values().all(|r| r.status == Status::Sent));
    RunResult {
        claim_us: claim_ns as f64 / 1000.0 / rows as f64,
        finish_us: finish_ns as f64 / 1000.0 / rows as f64,
        wall_s,
    }
}

/// A send as `apply` builds it for the bench campaign of bench/apply.sh.
fn new_send(campaign: &str, i: usize) -> NewSend {
    let mobile = format!("9170{i:08}");
    let request = format!(
        r#"{{"to":{{"mobile":"{mobile}","name":"Runner {i}"}},"fb_template":"bench_template","language":"en","params":["Runner {i}","B-{i:06}"],"tag":"bench"}}"#
    );
    NewSend {
        key: format!("{campaign}/once/{mobile}"),
        campaign: campaign.to_owned(),
        file: format!("/tmp/tmp.Xb3kQ9Zr1c/campaigns/{campaign}.yaml"),
        occurrence: "once".to_owned(),
        recipient: mobile,
        endpoint: "single".to_owned(),
        request_hash: body_hash(&request),
        request,
    }
}

fn sent(key: &str) -> Finished {
    Finished {
        key: key.to_owned(),
        status: Status::Sent,
        attempts: 1,
        http_status: Some(200),
        response: Some(r#"{"status":"success"}"#.to_owned()),
        error: None,
    }
}

/// This thread's CPU time so far (user + system), in nanoseconds: clock_gettime with
/// CLOCK_THREAD_CPUTIME_ID, exact (not sampled at scheduler ticks).
fn thread_cpu_ns() -> u64 {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec (64-bit fields on the 64-bit Linux targets this
    // benchmark runs on) that clock_gettime only writes.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}
