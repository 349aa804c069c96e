//! The executor: what every run of an apply or a daemon shares (the HTTP client, the
//! pacer, the request slots and the per-number spacing).

use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::pacer::Pacer;
use super::settings::Settings;
use crate::api::http_client::HttpClient;
use crate::api::{ApiKey, Endpoints, SetupError};
use crate::campaign::Kind;
use crate::campaign::mobile::MobileMap;

/// Sends through one HTTP client (one connection pool, keep-alive). The pacer, the limit on
/// requests in flight and the per-number spacing are shared by every run of one executor
/// (all campaigns of an apply; all occurrences of a daemon).
pub(crate) struct Executor {
    pub(super) client: HttpClient,
    pub(super) endpoints: Endpoints,
    pub(super) key: ApiKey,
    pub(super) settings: Settings,
    pub(super) pacer: Pacer,
    pub(super) slots: Arc<Semaphore>,
    pub(super) last_start: Mutex<MobileMap<Instant>>,
}

impl Executor {
    pub(crate) fn new(
        endpoints: Endpoints,
        key: ApiKey,
        settings: Settings,
    ) -> Result<Executor, SetupError> {
        let client = HttpClient::new(
            endpoints.url(Kind::Single),
            settings.connect_timeout,
            settings.request_timeout,
            settings.concurrency,
        )
        .map_err(SetupError::Client)?;
        Ok(Executor {
            client,
            endpoints,
            key,
            pacer: Pacer::new(settings.rate),
            slots: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            last_start: Mutex::default(),
            settings,
        })
    }
}
