//! What the daemon exposes on `--listen`: `GET /healthz` (JSON: role, loaded campaigns,
//! their next fire times, the last reload and its problems) and `GET /metrics` (Prometheus
//! text format).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
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

use crate::planner::Status;
use crate::schedule::rfc3339;

/// What `/healthz` reports about one loaded campaign.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignHealth {
    pub name: String,
    pub file: String,
    pub schedule: Option<String>,
    pub next_run: Option<String>,
    pub running: bool,
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReloadHealth {
    pub at: String,
    pub trigger: String,
    pub ok: bool,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Holds the ledger lock and sends.
    Leader,
    /// Waits for the lock (another replica leads).
    Standby,
}

#[derive(Debug, Default)]
struct Counters {
    sends: BTreeMap<(String, Status), u64>,
    retries: u64,
    missed: BTreeMap<String, u64>,
    occurrences: BTreeMap<String, u64>,
    reload_errors: u64,
    ledger_errors: u64,
}

#[derive(Debug)]
struct State {
    role: Role,
    ledger: String,
    started_at: DateTime<Utc>,
    campaigns: Vec<CampaignHealth>,
    last_reload: Option<ReloadHealth>,
    ledger_problem: Option<String>,
    counters: Counters,
}

/// Shared between the daemon (writer) and the HTTP endpoint (reader).
#[derive(Debug)]
pub struct Health {
    state: Mutex<State>,
}

impl Health {
    pub fn new(ledger: &str, role: Role) -> Health {
        Health {
            state: Mutex::new(State {
                role,
                ledger: ledger.to_owned(),
                started_at: Utc::now(),
                campaigns: Vec::new(),
                last_reload: None,
                ledger_problem: None,
                counters: Counters::default(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_role(&self, role: Role) {
        self.state().role = role;
    }

    pub fn set_campaigns(&self, campaigns: Vec<CampaignHealth>) {
        self.state().campaigns = campaigns;
    }

    pub fn reloaded(&self, trigger: &str, problems: Vec<String>) {
        let mut state = self.state();
        if !problems.is_empty() {
            state.counters.reload_errors += 1;
        }
        state.last_reload = Some(ReloadHealth {
            at: rfc3339(Utc::now()),
            trigger: trigger.to_owned(),
            ok: problems.is_empty(),
            problems,
        });
    }

    /// A ledger outage (or its end, with `None`).
    pub fn ledger_problem(&self, problem: Option<String>) {
        let mut state = self.state();
        if problem.is_some() && state.ledger_problem.is_none() {
            state.counters.ledger_errors += 1;
        }
        state.ledger_problem = problem;
    }

    pub fn count_sends(&self, campaign: &str, status: Status, n: u64) {
        if n > 0 {
            *self
                .state()
                .counters
                .sends
                .entry((campaign.to_owned(), status))
                .or_default() += n;
        }
    }

    pub fn count_retries(&self, n: u64) {
        self.state().counters.retries += n;
    }

    pub fn count_missed(&self, campaign: &str, n: u64) {
        *self
            .state()
            .counters
            .missed
            .entry(campaign.to_owned())
            .or_default() += n;
    }

    pub fn count_occurrence(&self, campaign: &str) {
        *self
            .state()
            .counters
            .occurrences
            .entry(campaign.to_owned())
            .or_default() += 1;
    }

    /// The `/healthz` document.
    pub fn json(&self) -> serde_json::Value {
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

    /// The `/metrics` document, Prometheus text format 0.0.4.
    pub fn metrics(&self) -> String {
        let state = self.state();
        let c = &state.counters;
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        family(
            "campaignctl_sends_total",
            "counter",
            "Sends recorded by this daemon, by campaign and status.",
            c.sends
                .iter()
                .map(|((campaign, status), n)| {
                    (
                        format!(
                            "{{campaign=\"{}\",status=\"{}\"}}",
                            escape(campaign),
                            status.as_str()
                        ),
                        n.to_string(),
                    )
                })
                .collect(),
        );
        family(
            "campaignctl_retries_total",
            "counter",
            "HTTP retries (5xx, 429, connection errors, timeouts).",
            vec![(String::new(), c.retries.to_string())],
        );
        family(
            "campaignctl_occurrences_total",
            "counter",
            "Occurrences started, by campaign.",
            labelled(&c.occurrences),
        );
        family(
            "campaignctl_missed_occurrences_total",
            "counter",
            "Occurrences found more than catch_up late and recorded as missed, by campaign.",
            labelled(&c.missed),
        );
        family(
            "campaignctl_reload_errors_total",
            "counter",
            "Reloads that kept the previous campaigns because the new files were invalid.",
            vec![(String::new(), c.reload_errors.to_string())],
        );
        family(
            "campaignctl_ledger_errors_total",
            "counter",
            "Ledger outages (sending pauses until the ledger answers again).",
            vec![(String::new(), c.ledger_errors.to_string())],
        );
        family(
            "campaignctl_next_fire_timestamp_seconds",
            "gauge",
            "Next scheduled occurrence of each campaign, Unix time.",
            state
                .campaigns
                .iter()
                .filter_map(|h| {
                    let next = DateTime::parse_from_rfc3339(h.next_run.as_deref()?).ok()?;
                    Some((
                        format!("{{campaign=\"{}\"}}", escape(&h.name)),
                        next.timestamp().to_string(),
                    ))
                })
                .collect(),
        );
        family(
            "campaignctl_campaigns_loaded",
            "gauge",
            "Campaigns loaded from the campaign files.",
            vec![(String::new(), state.campaigns.len().to_string())],
        );
        family(
            "campaignctl_leader",
            "gauge",
            "1 when this replica holds the ledger lock and sends, 0 on standby.",
            vec![(
                String::new(),
                u8::from(state.role == Role::Leader).to_string(),
            )],
        );
        family(
            "campaignctl_reload_ok",
            "gauge",
            "1 when the last reload succeeded.",
            vec![(
                String::new(),
                u8::from(state.last_reload.as_ref().is_none_or(|r| r.ok)).to_string(),
            )],
        );
        out
    }
}

fn labelled(map: &BTreeMap<String, u64>) -> Vec<(String, String)> {
    map.iter()
        .map(|(campaign, n)| {
            (
                format!("{{campaign=\"{}\"}}", escape(campaign)),
                n.to_string(),
            )
        })
        .collect()
}

/// Label values escape backslash, quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Binds `addr` now (so a bad address fails at start) and serves until `stop`.
pub async fn serve(
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
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            health.metrics(),
        ),
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
            next_run: Some("2026-11-30T09:00:00Z".to_owned()),
            running: false,
            enabled: true,
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
        let json = health.json();
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["last_reload"]["ok"], false);
        assert_eq!(json["campaigns"][0]["next_run"], "2026-11-30T09:00:00Z");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
