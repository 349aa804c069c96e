//! `/metrics`: the daemon's counters and gauges as typed prometheus-client families,
//! encoded in the OpenMetrics text format (label values escaped by the encoder).

use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use crate::ledger::Status;

/// The content type of [`Metrics::encode`]'s output.
pub(super) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SendLabels {
    campaign: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CampaignLabels {
    campaign: String,
}

impl CampaignLabels {
    fn of(campaign: &str) -> CampaignLabels {
        CampaignLabels {
            campaign: campaign.to_owned(),
        }
    }
}

#[derive(Debug)]
pub(super) struct Metrics {
    registry: Registry,
    sends: Family<SendLabels, Counter>,
    retries: Counter,
    occurrences: Family<CampaignLabels, Counter>,
    missed: Family<CampaignLabels, Counter>,
    reload_errors: Counter,
    ledger_errors: Counter,
    next_fire: Family<CampaignLabels, Gauge>,
    waiting: Family<CampaignLabels, Gauge>,
    campaigns_loaded: Gauge,
    leader: Gauge,
    reload_ok: Gauge,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("campaignctl"),
            sends: Family::default(),
            retries: Counter::default(),
            occurrences: Family::default(),
            missed: Family::default(),
            reload_errors: Counter::default(),
            ledger_errors: Counter::default(),
            next_fire: Family::default(),
            waiting: Family::default(),
            campaigns_loaded: Gauge::default(),
            leader: Gauge::default(),
            reload_ok: Gauge::default(),
        };
        metrics.reload_ok.set(1);
        metrics.register();
        metrics
    }
}

impl Metrics {
    /// Registers every family; the registry shares them with the fields.
    fn register(&mut self) {
        self.registry.register(
            "sends",
            "Sends recorded by this daemon, by campaign and status",
            self.sends.clone(),
        );
        self.registry.register(
            "retries",
            "Retries of sends not processed (429, 502, 503, failed connections, WhatsApp 130429 and 131056), and of ambiguous outcomes with --retry-ambiguous",
            self.retries.clone(),
        );
        self.registry.register(
            "occurrences",
            "Occurrences started, by campaign",
            self.occurrences.clone(),
        );
        self.registry.register(
            "missed_occurrences",
            "Occurrences found more than catch_up late and recorded as missed, by campaign",
            self.missed.clone(),
        );
        self.registry.register(
            "reload_errors",
            "Reloads that kept the previous campaigns because the new files were invalid",
            self.reload_errors.clone(),
        );
        self.registry.register(
            "ledger_errors",
            "Ledger outages (sending pauses until the ledger answers again)",
            self.ledger_errors.clone(),
        );
        self.registry.register_with_unit(
            "next_fire_timestamp",
            "Next scheduled occurrence of each campaign, Unix time",
            Unit::Seconds,
            self.next_fire.clone(),
        );
        self.registry.register(
            "waiting_occurrences",
            "Occurrences of each campaign whose sends wait for their send window or the daily limit",
            self.waiting.clone(),
        );
        self.registry.register(
            "campaigns_loaded",
            "Campaigns loaded from the campaign files",
            self.campaigns_loaded.clone(),
        );
        self.registry.register(
            "leader",
            "1 when this replica holds the ledger lock and sends, 0 on standby",
            self.leader.clone(),
        );
        self.registry.register(
            "reload_ok",
            "1 when the last reload succeeded",
            self.reload_ok.clone(),
        );
    }
}

impl Metrics {
    pub(super) fn count_sends(&self, campaign: &str, status: Status, n: u64) {
        if n > 0 {
            self.sends
                .get_or_create(&SendLabels {
                    campaign: campaign.to_owned(),
                    status: status.as_str(),
                })
                .inc_by(n);
        }
    }

    pub(super) fn count_retries(&self, n: u64) {
        self.retries.inc_by(n);
    }

    pub(super) fn count_missed(&self, campaign: &str, n: u64) {
        self.missed
            .get_or_create(&CampaignLabels::of(campaign))
            .inc_by(n);
    }

    pub(super) fn count_occurrence(&self, campaign: &str) {
        self.occurrences
            .get_or_create(&CampaignLabels::of(campaign))
            .inc();
    }

    pub(super) fn reloaded(&self, ok: bool) {
        if !ok {
            self.reload_errors.inc();
        }
        self.reload_ok.set(i64::from(ok));
    }

    pub(super) fn ledger_outage(&self) {
        self.ledger_errors.inc();
    }

    pub(super) fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The loaded campaigns and the next fire time of each that has one: campaigns without
    /// a next fire time (removed, disabled, an `at` already sent) have no series.
    /// `next`: each campaign's next fire time; `waiting`: how many of its occurrences wait
    /// (a campaign with none has no series).
    pub(super) fn set_campaigns<'a>(
        &self,
        loaded: usize,
        next: impl IntoIterator<Item = (&'a str, DateTime<Utc>)>,
        waiting: impl IntoIterator<Item = (&'a str, usize)>,
    ) {
        self.campaigns_loaded.set(loaded as i64);
        self.next_fire.clear();
        for (campaign, at) in next {
            self.next_fire
                .get_or_create(&CampaignLabels::of(campaign))
                .set(at.timestamp());
        }
        self.waiting.clear();
        for (campaign, count) in waiting {
            self.waiting
                .get_or_create(&CampaignLabels::of(campaign))
                .set(count as i64);
        }
    }

    /// The OpenMetrics text.
    pub(super) fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String does not fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::default();
        metrics.count_occurrence("a\"b\\c\nd");
        assert!(
            metrics
                .encode()
                .contains("campaignctl_occurrences_total{campaign=\"a\\\"b\\\\c\\nd\"} 1\n"),
            "{}",
            metrics.encode()
        );
    }
}
