//! What the daemon exposes on `--listen`: `GET /healthz` (JSON: role, loaded campaigns,
//! their next fire times and waiting occurrences, the last reload and its problems) and `GET /metrics`
//! (OpenMetrics text, see [`super::metrics`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::metrics::{self, Metrics};
use crate::ledger::Status;
use crate::schedule::rfc3339;

/// What `/healthz` reports about one loaded campaign.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CampaignHealth {
    pub name: String,
    pub file: String,
    pub schedule: Option<String>,
    #[serde(serialize_with = "rfc3339_or_null")]
    pub next_run: Option<DateTime<Utc>>,
    pub running: bool,
    pub enabled: bool,
    /// Its occurrences whose sends wait for their window or the daily limit, by occurrence.
    pub waiting: Vec<WaitingHealth>,
}

/// An occurrence whose sends wait, and when the daemon plans it again.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WaitingHealth {
    #[serde(serialize_with = "rfc3339_str")]
    pub occurrence: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339_str")]
    pub next: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReloadHealth {
    pub at: String,
    pub trigger: String,
    pub ok: bool,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Role {
    /// Holds the ledger lock and sends.
    Leader,
    /// Waits for the lock (another replica leads).
    Standby,
}

#[derive(Debug)]
struct State {
    role: Role,
    ledger: String,
    started_at: DateTime<Utc>,
    campaigns: Vec<CampaignHealth>,
    last_reload: Option<ReloadHealth>,
    ledger_problem: Option<String>,
}

/// Shared between the daemon (writer) and the HTTP endpoint (reader).
#[derive(Debug)]
pub(crate) struct Health {
    state: Mutex<State>,
    metrics: Metrics,
}

impl Health {
    pub(crate) fn new(ledger: &str, role: Role) -> Health {
        let metrics = Metrics::default();
        metrics.set_leader(role == Role::Leader);
        Health {
            state: Mutex::new(State {
                role,
                ledger: ledger.to_owned(),
                started_at: Utc::now(),
                campaigns: Vec::new(),
                last_reload: None,
                ledger_problem: None,
            }),
            metrics,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_role(&self, role: Role) {
        self.state().role = role;
        self.metrics.set_leader(role == Role::Leader);
    }

    pub(crate) fn set_campaigns(&self, campaigns: Vec<CampaignHealth>) {
        self.metrics.set_campaigns(
            campaigns.len(),
            campaigns
                .iter()
                .filter_map(|c| Some((c.name.as_str(), c.next_run?))),
            campaigns
                .iter()
                .filter(|c| !c.waiting.is_empty())
                .map(|c| (c.name.as_str(), c.waiting.len())),
        );
        self.state().campaigns = campaigns;
    }

    pub(crate) fn reloaded(&self, trigger: &str, problems: Vec<String>) {
        self.metrics.reloaded(problems.is_empty());
        let mut state = self.state();
        state.last_reload = Some(ReloadHealth {
            at: rfc3339(Utc::now()),
            trigger: trigger.to_owned(),
            ok: problems.is_empty(),
            problems,
        });
    }

    /// A ledger outage (or its end, with `None`).
    pub(crate) fn ledger_problem(&self, problem: Option<String>) {
        let mut state = self.state();
        if problem.is_some() && state.ledger_problem.is_none() {
            self.metrics.ledger_outage();
        }
        state.ledger_problem = problem;
    }

    pub(crate) fn count_sends(&self, campaign: &str, status: Status, n: u64) {
        self.metrics.count_sends(campaign, status, n);
    }

    pub(crate) fn count_retries(&self, n: u64) {
        self.metrics.count_retries(n);
    }

    pub(crate) fn count_missed(&self, campaign: &str, n: u64) {
        self.metrics.count_missed(campaign, n);
    }

    pub(crate) fn count_occurrence(&self, campaign: &str) {
        self.metrics.count_occurrence(campaign);
    }

    /// The `/healthz` document.
    pub(crate) fn json(&self) -> serde_json::Value {
        let state = self.state();
        let reload_ok = state.last_reload.as_ref().is_none_or(|r| r.ok);
        let status = match (&state.ledger_problem, reload_ok) {
            (Some(_), _) => "ledger_unavailable",
            (None, false) => "degraded",
            (None, true) => "ok",
        };
        json!({
            "status": status,
            "role": state.role,
            "ledger": state.ledger,
            "ledger_problem": state.ledger_problem,
            "started_at": rfc3339(state.started_at),
            "campaigns": state.campaigns,
            "last_reload": state.last_reload,
        })
    }

    /// The `/metrics` document.
    pub(crate) fn metrics(&self) -> String {
        self.metrics.encode()
    }
}

fn rfc3339_str<S: serde::Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339(*at))
}

fn rfc3339_or_null<S: serde::Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&rfc3339(*at)),
        None => serializer.serialize_none(),
    }
}

/// Binds `addr` now (so a bad address fails at start) and serves until `stop`.
pub(crate) async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    Ok(tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.changed() => return,
            };
            let Ok((stream, _)) = accepted else { continue };
            let health = health.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| respond(health.clone(), request));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }))
}

async fn respond(
    health: Arc<Health>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => (
            StatusCode::OK,
            "application/json",
            format!("{:#}\n", health.json()),
        ),
        (&Method::GET, "/metrics") => (StatusCode::OK, metrics::CONTENT_TYPE, health.metrics()),
        (_, "/healthz" | "/metrics") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /healthz or /metrics\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_prometheus_text() {
        let health = Health::new("state.db", Role::Leader);
        health.count_sends("nov-welcome", Status::Sent, 3);
        health.count_sends("nov-welcome", Status::Failed, 1);
        health.count_missed("weekday", 2);
        health.reloaded("SIGHUP", vec!["a.yaml:1:1: error: x".to_owned()]);
        health.set_campaigns(vec![CampaignHealth {
            name: "weekday".to_owned(),
            file: "campaigns/weekday.yaml".to_owned(),
            schedule: Some("cron `0 9 * * *` in UTC".to_owned()),
            next_run: Some("2026-11-30T09:00:00Z".parse().unwrap()),
            running: false,
            enabled: true,
            waiting: vec![WaitingHealth {
                occurrence: "2026-11-29T09:00:00Z".parse().unwrap(),
                next: "2026-11-29T10:30:00Z".parse().unwrap(),
            }],
        }]);
        let text = health.metrics();
        assert!(
            text.contains("campaignctl_sends_total{campaign=\"nov-welcome\",status=\"sent\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "campaignctl_sends_total{campaign=\"nov-welcome\",status=\"failed\"} 1\n"
            )
        );
        assert!(text.contains("campaignctl_missed_occurrences_total{campaign=\"weekday\"} 2\n"));
        assert!(text.contains("campaignctl_reload_errors_total 1\n"));
        assert!(text.contains(
            "campaignctl_next_fire_timestamp_seconds{campaign=\"weekday\"} 1796029200\n"
        ));
        assert!(text.contains("# TYPE campaignctl_leader gauge\ncampaignctl_leader 1\n"));
        assert!(text.contains("campaignctl_waiting_occurrences{campaign=\"weekday\"} 1\n"));
        let json = health.json();
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["last_reload"]["ok"], false);
        assert_eq!(json["campaigns"][0]["next_run"], "2026-11-30T09:00:00Z");
        assert_eq!(
            json["campaigns"][0]["waiting"],
            json!([{ "occurrence": "2026-11-29T09:00:00Z", "next": "2026-11-29T10:30:00Z" }])
        );
    }
}
