//! `campaignctl run`: starts the daemon. Everything that can refuse a start is checked
//! before the ledger is opened: the files, the API key, the base URL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::Outcome;
use crate::api::{ApiKey, Endpoints};
use crate::campaign::project::PROJECT_FILE;
use crate::daemon::file_watch::FileWatch;
use crate::daemon::health::{self, Health, Role};
use crate::daemon::{Daemon, Rules, reload};
use crate::error::Error;
use crate::ledger::{Holder, SharedLedger, StateLocation};
use crate::plan::pipeline::print_diagnostics;
use crate::send::{self, Executor};
use crate::signal::{Event, Signals};
use crate::style::Paint;

#[derive(Debug, Clone)]
pub(crate) struct RunSettings {
    /// Campaign files or directories, watched for changes.
    pub paths: Vec<PathBuf>,
    /// The project file named on the command line (else `campaignctl.yaml` if present).
    pub config: Option<PathBuf>,
    pub state: StateLocation,
    pub send: send::Settings,
    /// Where to serve `/healthz` and `/metrics`.
    pub listen: Option<SocketAddr>,
    pub log_format: LogFormat,
}

/// Log format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    /// One JSON object per event, for log shippers.
    Json,
}

pub(crate) fn run(settings: &RunSettings) -> Result<Outcome, Error> {
    init_logging(settings.log_format);
    // One async thread is plenty: sending is I/O, rendering and the ledger run on their own
    // threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Signal handlers first: a SIGHUP during a long start must not kill the daemon (its
    // default action), it reloads once started.
    let mut signals = {
        let _entered = runtime.enter();
        Signals::install(true)?
    };
    // Each set of files is validated and sent from copies of its CSV files (generation 1 is
    // this first set; every reload makes the next).
    let pins = tempfile::Builder::new()
        .prefix("campaignctl-run-")
        .tempdir()?;
    let checked = reload::load(&settings.paths, settings.config.as_deref(), pins.path(), 1)?;
    if checked.errors {
        print_diagnostics(&checked)?;
        return Err(Error::Invalid);
    }
    for d in checked.diagnostics.iter() {
        warn!(location = %d.location(), "{}", d.message);
    }
    let campaigns = checked.campaigns();
    let rules = Rules::of(&checked);

    let key = ApiKey::from_env()?;
    let endpoints = Endpoints::from_env()?;
    let location = &settings.state;
    let mut ledger = location.open()?;
    let holder = Holder::current("run");
    let shared = location.is_shared();
    if !shared {
        // A local file serves one daemon: a second one is refused, not put on standby.
        ledger.lock(&holder)?;
    }
    let executor = Arc::new(Executor::new(endpoints, key, settings.send.clone())?);
    let health = Arc::new(Health::new(ledger.location(), Role::Standby));
    let ledger = SharedLedger::new(ledger);
    // Held until the runtime is gone: the PostgreSQL client closes its connection with a
    // blocking call that must not run inside the runtime.
    let _ledger_outlives_the_runtime = ledger.clone();

    runtime.block_on(async {
        let (stop_tx, stop_rx) = watch::channel(false);
        let server = match settings.listen {
            Some(addr) => {
                let server = health::serve(addr, health.clone(), stop_rx.clone())
                    .await
                    .map_err(|source| Error::Listen { addr, source })?;
                info!(%addr, "serving /healthz and /metrics");
                Some(server)
            }
            None => None,
        };
        let mut daemon = Daemon::new(
            (settings.paths.clone(), settings.config.clone()),
            executor,
            ledger,
            health,
            holder,
            shared,
            pins,
        );
        daemon.start(campaigns, rules, Utc::now()).await;
        let (reload_tx, reload_rx) = mpsc::channel(16);
        // Besides the campaign paths, the project file (where it is looked for, so that one
        // created later is seen too) and every other file the set was read from.
        let mut watch = FileWatch::start(&settings.paths, reload_tx.clone());
        if let Some(watch) = &mut watch {
            let project = settings
                .config
                .clone()
                .unwrap_or_else(|| PROJECT_FILE.into());
            watch.add(&[project]);
            watch.add(&checked.input_files());
        }
        daemon.watch_with(watch);
        tokio::spawn(async move {
            while signals.next().await == Event::Reload {
                let _ = reload_tx.send("SIGHUP".to_owned()).await;
            }
            stop_tx.send_replace(true);
        });
        daemon.run(reload_rx, stop_rx).await;
        if let Some(server) = server {
            server.abort();
        }
        Ok(Outcome::Success)
    })
}

fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // A log line that cannot be written (stderr closed) is dropped: the default would
        // report it with `eprintln!`, a panic on that same closed stderr.
        .log_internal_errors(false)
        .with_target(false)
        // Colours as for every other output (--color, NO_COLOR, CLICOLOR_FORCE, a terminal);
        // JSON lines never.
        .with_ansi(format == LogFormat::Text && Paint::stderr().is_color());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
