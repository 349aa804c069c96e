//! Integration tests: the real `campaignctl` binary on real files. All modules compile
//! into one test binary (`cargo test --test integration`): one link, one run.
//!
//! - `test`: the `Test` builder every test uses (temp dir, inline files, exact output).
//! - `output`: what a process spawned by a test printed (`apply`, `postgres`).
//! - `fixture`: `fixtures/invalid/err_*.yaml` (one rule each, stderr snapshotted) and
//!   `fixtures/valid/ok_*.yaml`.
//! - `plan`: snapshots of the bundled campaigns' text and JSON plans at fixed instants,
//!   JSON consistency, timing, `--detailed-exitcode`.
//! - `request`: the exact API request bodies.
//! - `validate`: which files load, summaries, all problems of all files in one run.
//! - `hostile`: YAML syntax, alias bombs, deep nesting, non-UTF-8, empty and odd documents.
//! - `recipients`, `render`, `schedule`: the rules of each part of a campaign file.
//! - `numbers`: mobile numbers as libphonenumber reads them, `default_country`, the numbers
//!   WhatsApp cannot reach; `csv_files`: CSV files as people export them (mapped columns,
//!   delimiters, byte-order marks, encodings).
//! - `saved_plan`: `plan --out`, `show` and `apply PLAN`: exactly the saved sends, and
//!   every reason a saved plan is stale; the markdown plan and its size limit.
//! - `catalogue`: the template catalogue (inline, YAML or JSON file), its own errors, every
//!   check of a campaign against it, param lengths, the +1 marketing warning, the note of
//!   `validate` without one.
//! - `schema`: the committed JSON Schemas are current and accept the examples.
//! - `cli`: help, working directories, machine time zone, nothing written.
//! - `closed_pipe`: a reader that goes away early (`plan | head -c 10`, `show | head -1`,
//!   `status | head`, `apply 2>&1 | head`): a quiet end and the command's own exit code;
//!   apply still sends and records everything.
//! - `color`: `--color`, `NO_COLOR` and `CLICOLOR_FORCE` on the plan and diagnostics
//!   (snapshots with the escape codes shown), a pipe, a pseudo-terminal.
//! - `generate`: `completions` for each shell and the `man` page.
//! - `init`: a new repository that validates, created without overwriting anything.
//! - `docs`: relative links in README.md, CONTRIBUTING.md, CHANGELOG.md and docs/ resolve.
//! - `apply`: the real binary against `mock_api`, a ChitChatLabs API on loopback with
//!   scripted faults: exact requests, exactly-once delivery, the ledger, kills and stops,
//!   `status` (its CSV export and filters).
//! - `daemon`: `campaignctl run` against `mock_api`: fire times, restarts, reloads (SIGHUP,
//!   file watcher, invalid edits), stops, missed occurrences, overlap, /healthz, /metrics,
//!   an occurrence stopped by a template error.
//! - `limits`: the daily limit of unique recipients and frequency caps on both ledgers,
//!   send windows on each recipient's clock, saved plans that wait or go stale.
//! - `optout`: `optout add|remove|list|import` on both ledgers, the project file's opt-out
//!   lists, suppressed sends in every report, saved plans made before an opt-out, the
//!   blast warning, campaigns that send to nobody.
//! - `project`: the project file found by `--config`, `CAMPAIGNCTL_CONFIG` or the working
//!   directory, its relative paths, its located problems.
//! - `postgres`: the PostgreSQL ledger on the loopback server: plan/apply/status, concurrent
//!   applies, `run` replicas (failover, cut sessions, an outage), `state migrate`.
//! - `whatsapp_codes`: WhatsApp's error codes relayed in the API's error bodies: opt-outs
//!   (131050, both ledgers), undeliverable numbers and `--include-undeliverable` (131026),
//!   the marketing limit's hold (131049), back-offs of the run (130429) and of one number
//!   (131056), and template errors that stop a campaign (132xxx).
//! - `test_send`: `apply FILE --to NUMBER [--as RECIPIENT]`: one recipient's message sent
//!   to another number, recorded as a test that blocks nothing.
//! - `transport`: `apply` against odd answers (stalled, cut or close-delimited bodies, huge
//!   heads, no answer, redirects), a TLS handshake that never ends, a private CA
//!   (`SSL_CERT_FILE`, `SSL_CERT_DIR`), HTTP/2 only, and proxies from the environment (HTTP,
//!   SOCKS5, unreachable, unusable): what each outcome is recorded as, and that nothing is
//!   sent twice.
//!
//! The servers of the transport tests, each on its own runtime on loopback (`loopback`),
//! each checking itself:
//! - `raw_server`: HTTP/1.1 answers as scripted bytes, pauses, holds and closes, plain or
//!   TLS, and a server that never says a word; `h2_server`: HTTPS that speaks only HTTP/2; `private_ca`: their certificate
//!   (tests/fixtures/tls);
//! - `proxy`: a forward proxy (CONNECT tunnels, absolute-form requests, Basic credentials)
//!   and a SOCKS5 one;
//! - `relay`: a TCP relay that blackholes idle connections (used by `daemon`).
//! - `world`: a sandbox and its ledger, SQLite or PostgreSQL, for tests run on both.

// A test binary: its items are shared between its modules, not an API.
#![allow(unreachable_pub)]

mod h2_server;
mod loopback;
mod mock_api;
mod output;
mod private_ca;
mod proxy;
mod raw_server;
mod relay;
mod test;
mod world;

mod apply;
mod catalogue;
mod cli;
mod closed_pipe;
mod color;
mod csv_files;
mod daemon;
mod docs;
mod fixture;
mod generate;
mod hostile;
mod init;
mod limits;
mod numbers;
mod optout;
mod plan;
mod postgres;
mod project;
mod recipients;
mod render;
mod request;
mod saved_plan;
mod schedule;
mod schema;
mod test_send;
mod transport;
mod validate;
mod whatsapp_codes;
