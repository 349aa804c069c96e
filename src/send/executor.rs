//! The executor: what every run of an apply or a daemon shares: the API client and its
//! connection pool, the pacer, the request slots, and the per-number spacing.

use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::pacer::Pacer;
use super::settings::Settings;
use super::slots::Slots;
use crate::api::{ApiKey, Client, Endpoints, SetupError};
use crate::campaign::mobile::MobileMap;

pub(crate) struct Executor {
    pub(super) client: Client,
    pub(super) settings: Settings,
    pub(super) pacer: Pacer,
    pub(super) slots: Arc<Slots>,
    /// When each number was last sent to (empty when no number can come twice).
    pub(super) last_start: Mutex<MobileMap<Instant>>,
}

impl Executor {
    pub(crate) fn new(
        endpoints: Endpoints,
        key: ApiKey,
        settings: Settings,
    ) -> Result<Executor, SetupError> {
        Ok(Executor {
            client: Client::new(endpoints, key, settings.client)?,
            pacer: Pacer::new(settings.rate),
            slots: Slots::new(settings.concurrency, settings.rate),
            last_start: Mutex::default(),
            settings,
        })
    }

    /// The rate the pacer allows now (0: unlimited).
    pub(super) fn current_rate(&self) -> f64 {
        self.pacer.current_rate().unwrap_or(0.0)
    }
}
