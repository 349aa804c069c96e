// TEMPORARY STUB: replaced by the real module.
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone)]
pub struct Cron { expr: String }

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{message}")]
pub struct CronError { pub message: String }

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron, CronError> { Ok(Cron { expr: expr.into() }) }
    pub fn expr(&self) -> &str { &self.expr }
    pub fn is_fixed_time(&self) -> bool { true }
    pub fn next_after(&self, after: DateTime<Utc>, _tz: Tz) -> Option<DateTime<Utc>> { Some(after + chrono::TimeDelta::days(1)) }
    pub fn latest_at_or_before(&self, at: DateTime<Utc>, _tz: Tz) -> Option<DateTime<Utc>> { Some(at - chrono::TimeDelta::days(1)) }
}
